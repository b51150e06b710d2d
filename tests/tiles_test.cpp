// Vector tiles as a GIS tool reads them: GDAL's MVT driver (ogrinfo, Debian
// gdal-bin) decodes tiles of the Jiangmen dataset, and what it reads is
// checked against the View and against brute-force point location, not
// against the tile code itself.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <set>
#include <sstream>
#include <string>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/tiles.h"
#include "jiangmen_fixture.h"
#include "rpc/command_output.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;

// Inverse Web Mercator of tile coordinates (t in tile units at zoom z).
double TileLon(double t, int z) { return t / std::ldexp(1.0, z) * 360 - 180; }
double TileLat(double t, int z) {
  return std::atan(std::sinh(std::numbers::pi * (1 - 2 * t / std::ldexp(1.0, z)))) * 180 / std::numbers::pi;
}

struct DecodedFeature {
  std::map<std::string, std::string> fields;
};
// layer -> features, from `ogrinfo -al` (every feature with its fields).
std::map<std::string, std::vector<DecodedFeature>> ReadWithGdal(const std::string& path) {
  std::map<std::string, std::vector<DecodedFeature>> out;
  std::istringstream in(testing::CommandOutput("ogrinfo -ro -al -q " + path + " 2>&1"));
  std::string line, layer;
  while (std::getline(in, line)) {
    if (line.starts_with("Layer name: ")) layer = line.substr(12);
    else if (line.starts_with("OGRFeature(")) out[layer].emplace_back();
    else if (line.starts_with("  ") && line.find(" = ") != std::string::npos && !out[layer].empty()) {
      const size_t paren = line.find(" ("), eq = line.find(" = ");
      if (paren == std::string::npos || paren > eq) continue;
      out[layer].back().fields[line.substr(2, paren - 2)] = line.substr(eq + 3);
    }
  }
  return out;
}

class TilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v ogrinfo >/dev/null 2>&1") != 0) GTEST_SKIP() << "ogrinfo (gdal-bin) is not installed";
    dir_ = ::testing::TempDir() + "/gridtree-tiles-" + std::to_string(::getpid());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const TileId& t, const std::string& bytes) {
    const fs::path p = fs::path(dir_) / std::to_string(t.z) / std::to_string(t.x) / (std::to_string(t.y) + ".mvt");
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  std::string dir_;
};

TEST_F(TilesTest, GdalReadsEveryLayerWithTheViewsValues) {
  const auto view = testing::SharedJiangmen().engine->Read();
  const Dataset& ds = view->dataset();
  const index::Point hall{113.0819, 22.5787};  // Jiangmen's city hall
  for (int z : {10, 12, 14}) {
    const double n = std::ldexp(1.0, z);
    const double lat = hall.y * std::numbers::pi / 180;
    const TileId tile{z, static_cast<uint32_t>((hall.x + 180) / 360 * n),
                      static_cast<uint32_t>((1 - std::log(std::tan(lat) + 1 / std::cos(lat)) / std::numbers::pi) / 2 * n)};
    auto bytes = RenderTile(*view, tile);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    const auto layers = ReadWithGdal(Write(tile, bytes.value()));
    // The buffered tile (64 of 4096 units) in lon/lat.
    const double b = 64.0 / 4096;
    const index::Box buffered{TileLon(tile.x - b, z), TileLat(tile.y + 1 + b, z), TileLon(tile.x + 1 + b, z),
                              TileLat(tile.y - b, z)};
    std::map<std::string, std::set<std::string>> ids;
    for (const auto& [layer, features] : layers) {
      const auto level = ParseLevel(layer);
      ASSERT_TRUE(level.has_value()) << layer;
      EXPECT_LE(LevelMinZoom(*level), z) << layer;
      for (const DecodedFeature& f : features) {
        const std::string& id = f.fields.at("id");
        const auto node = view->Find(id);
        ASSERT_TRUE(node.has_value()) << id;
        EXPECT_EQ(view->level(*node), *level) << id;
        EXPECT_TRUE(ds.node_bounds[node->value].Intersects(buffered)) << id << " at z" << z;
        EXPECT_EQ(f.fields.at("name"), view->name(*node));
        for (size_t j = 0; j < ds.metric_count(); ++j)
          EXPECT_EQ(f.fields.at(ds.metric_names[j]), std::to_string(view->Metric(*node, static_cast<int>(j))));
        EXPECT_NEAR(std::stod(f.fields.at("area_km2")), view->AreaKm2(*node), 1e-9 * view->AreaKm2(*node));
        EXPECT_NEAR(std::stod(f.fields.at("population_per_km2")),
                    static_cast<double>(view->Metric(*node, 0)) / view->AreaKm2(*node), 1e-6);
        ids[layer].insert(id);
      }
    }
    // Every node holding a point inside the tile (brute-force location, not
    // the lookup grid) is in its layer, when its level shows at this zoom
    // and the dataset gives it geometry.
    const index::PolygonIndex& idx = view->spatial_index();
    size_t checked = 0;
    for (int i = 0; i < 24; ++i)
      for (int k = 0; k < 24; ++k) {
        const index::Point p{TileLon(tile.x + (i + 0.5) / 24, z), TileLat(tile.y + (k + 0.5) / 24, z)};
        const int32_t leaf = idx.LocateBruteForce(p);
        if (leaf < 0) continue;
        const Chain chain = view->ChainOf(view->NodeOf(LeafId(leaf)));
        for (int c = 0; c < chain.size; ++c) {
          const NodeId node = chain.nodes[c];
          const bool has_geometry = view->LeafOf(node).valid() || !ds.inner_geometry.empty(node.value);
          if (LevelMinZoom(view->level(node)) > z || !has_geometry) continue;
          EXPECT_TRUE(ids[std::string(LevelName(view->level(node)))].count(std::string(view->id(node))))
              << view->id(node) << " holds (" << p.x << ", " << p.y << ") but is not in tile z" << z;
          ++checked;
        }
      }
    EXPECT_GT(checked, 500u);
  }
}

TEST_F(TilesTest, TileJsonAndGdalAgreeOnLayersAndFields) {
  const auto view = testing::SharedJiangmen().engine->Read();
  const std::string json = TileJson(*view, "http://example.test/tiles/{z}/{x}/{y}.mvt");
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  EXPECT_EQ(std::string_view(doc["tilejson"]), "3.0.0");
  EXPECT_EQ(std::string_view(doc["tiles"].at(0)), "http://example.test/tiles/{z}/{x}/{y}.mvt");
  std::map<std::string, std::set<std::string>> declared;
  for (simdjson::dom::element layer : doc["vector_layers"].get_array()) {
    auto& fields = declared[std::string(std::string_view(layer["id"]))];
    for (auto field : layer["fields"].get_object()) fields.insert(std::string(field.key));
  }
  const TileId tile{14, 13338, 7136};
  auto bytes = RenderTile(*view, tile);
  ASSERT_TRUE(bytes.ok());
  const std::string path = Write(tile, bytes.value());
  std::istringstream in(testing::CommandOutput("ogrinfo -ro -so -al " + path + " 2>&1"));
  std::string line, layer;
  std::map<std::string, std::set<std::string>> read;
  while (std::getline(in, line)) {
    if (line.starts_with("Layer name: ")) layer = line.substr(12);
    const size_t colon = line.find(": ");
    // Field lines read "name: Type (width.precision)".
    if (!layer.empty() && colon != std::string::npos && colon + 2 < line.size() && std::isalpha(line[colon + 2]) &&
        line.find(" (", colon) != std::string::npos && line.find_first_of(" \t") > colon &&
        line.substr(0, colon) != "mvt_id")
      read[layer].insert(line.substr(0, colon));
  }
  ASSERT_FALSE(read.empty());
  for (const auto& [name, fields] : read) EXPECT_EQ(fields, declared[name]) << name;
}

TEST(Tiles, BadCoordinatesAndTagsThatFollowUpdates) {
  EXPECT_FALSE(CheckTile({17, 0, 0}).ok());
  EXPECT_FALSE(CheckTile({-1, 0, 0}).ok());
  EXPECT_FALSE(CheckTile({3, 8, 0}).ok());
  const Status s = CheckTile({3, 0, 9});
  EXPECT_NE(s.message().find("tile y 9"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckTile({16, 65535, 65535}).ok());
}

// The web-mercator tile of zoom z holding a point (the slippy-map formula).
TileId TileAt(double lon, double lat, int z) {
  const double n = std::ldexp(1.0, z), r = lat * M_PI / 180;
  return {z, static_cast<int>((lon + 180) / 360 * n), static_cast<int>((1 - std::asinh(std::tan(r)) / M_PI) / 2 * n)};
}

// A tile's tag follows what the tile shows: after an update every tile whose
// rendered bytes changed has a new tag, the tile over the leaf among them,
// while a tile over another county keeps its bytes and its tag. RenderTile
// is the oracle.
TEST(Tiles, TagsChangeWithTheTilesWhoseContentChanges) {
  auto opened = Engine::Open(testing::SharedJiangmen().path);
  ASSERT_TRUE(opened.ok());
  Engine& engine = *opened.value();
  const auto before = engine.Read();
  const Dataset& ds = before->dataset();
  const LeafId leaf(0);
  const NodeId node = before->NodeOf(leaf);
  const index::Box& b = ds.node_bounds[node.value];
  const double lon = (b.min_x + b.max_x) / 2, lat = (b.min_y + b.max_y) / 2;
  // The leaf farthest from the updated leaf's county: its tiles do not show
  // that county.
  const index::Box& c = ds.node_bounds[before->ChainOf(node).nodes[1].value];
  std::optional<NodeId> elsewhere;
  double farthest = 0;
  for (int32_t l = 0; l < static_cast<int32_t>(ds.leaf_count()); ++l) {
    const index::Box& o = ds.node_bounds[before->NodeOf(LeafId(l)).value];
    const double d = std::hypot((o.min_x + o.max_x - c.min_x - c.max_x) / 2, (o.min_y + o.max_y - c.min_y - c.max_y) / 2);
    if (d > farthest) farthest = d, elsewhere = before->NodeOf(LeafId(l));
  }
  ASSERT_TRUE(elsewhere.has_value());
  const index::Box& e = ds.node_bounds[elsewhere->value];
  std::vector<TileId> tiles;
  for (int z : {12, 14}) {
    const TileId at = TileAt(lon, lat, z);
    for (int dx = -1; dx <= 1; ++dx)
      for (int dy = -1; dy <= 1; ++dy) tiles.push_back({z, at.x + dx, at.y + dy});
    tiles.push_back(TileAt((e.min_x + e.max_x) / 2, (e.min_y + e.max_y) / 2, z));
  }
  std::vector<std::string> tags, bytes;
  for (const TileId& t : tiles) {
    tags.push_back(TileETag(*before, t));
    bytes.push_back(RenderTile(*before, t).value());
  }
  UpdateBatch batch;
  batch.updates.push_back({std::string(before->id(node)), ds.metric_names[0], MetricUpdate::Op::kAdd, 1});
  ASSERT_TRUE(engine.Apply(batch).ok());
  const auto after = engine.Read();
  size_t changed = 0;
  for (size_t i = 0; i < tiles.size(); ++i) {
    const TileId& t = tiles[i];
    const bool content_changed = RenderTile(*after, t).value() != bytes[i];
    const bool tag_changed = TileETag(*after, t) != tags[i];
    if (content_changed) EXPECT_TRUE(tag_changed) << t.z << "/" << t.x << "/" << t.y;
    changed += content_changed;
    EXPECT_EQ(TileETag(*before, t), tags[i]);  // a View's tiles never change
  }
  EXPECT_GT(changed, 0u);
  for (size_t i : {size_t{4}, size_t{14}}) {  // the tile over the leaf, at each zoom
    EXPECT_NE(TileETag(*after, tiles[i]), tags[i]) << "z" << tiles[i].z;
  }
  for (size_t i : {size_t{9}, size_t{19}}) {  // the tile over the other county, at each zoom
    EXPECT_EQ(RenderTile(*after, tiles[i]).value(), bytes[i]) << "z" << tiles[i].z;
    EXPECT_EQ(TileETag(*after, tiles[i]), tags[i]) << "z" << tiles[i].z;
  }
}

}  // namespace
}  // namespace gridtree
