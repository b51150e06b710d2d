// Vector tiles: which nodes go into a tile, their properties, and the MVT
// encoding (protozero, Debian libprotozero-dev); TileJSON and entity tags.
#include "gridtree/engine/tiles.h"

#include <protozero/pbf_writer.hpp>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <unordered_map>
#include <variant>
#include <vector>

#include "state/topology.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/json_text.h"
#include "query/tile_geometry.h"
#include "query/tree_walk.h"

namespace gridtree {
namespace {

constexpr std::array<int, kLevelCount> kMinZoom = {0, 6, 9, 11, 12, 13};

// One layer's value table (specification 4.4: a feature's tags are pairs
// of key and value numbers). Every feature has the same keys in the same
// order (LayerKeys), so keys need no lookup; repeated values (levels, kinds,
// counts) are stored once, the others (ids, names, areas) as they come.
// Strings are views into the View's dataset, which outlives the tile.
class LayerValues {
 public:
  using Value = std::variant<std::string_view, int64_t, double>;
  uint32_t Unique(Value v) {
    values_.push_back(v);
    return static_cast<uint32_t>(values_.size() - 1);
  }
  uint32_t Shared(std::string_view v) {
    auto [it, added] = strings_.try_emplace(v, static_cast<uint32_t>(values_.size()));
    if (added) values_.push_back(v);
    return it->second;
  }
  uint32_t Shared(int64_t v) {
    auto [it, added] = ints_.try_emplace(v, static_cast<uint32_t>(values_.size()));
    if (added) values_.push_back(v);
    return it->second;
  }
  void Write(protozero::pbf_writer& layer) const {
    for (const Value& v : values_) {
      protozero::pbf_writer value(layer, 4);
      if (const auto* s = std::get_if<std::string_view>(&v)) value.add_string(1, s->data(), s->size());
      else if (const auto* d = std::get_if<double>(&v)) value.add_double(3, *d);
      else value.add_int64(4, std::get<int64_t>(v));
    }
  }

 private:
  std::vector<Value> values_;
  std::unordered_map<std::string_view, uint32_t> strings_;
  std::unordered_map<int64_t, uint32_t> ints_;
};

// The keys of every feature, in tag order: id, name, level, kind, area_km2,
// then each metric and its density.
std::vector<std::string> LayerKeys(const View& view) {
  std::vector<std::string> keys = {"id", "name", "level", "kind", "area_km2"};
  for (size_t j = 0; j < view.metric_count(); ++j) {
    const std::string name(view.metric_name(static_cast<int>(j)));
    keys.push_back(name);
    keys.push_back(name + "_per_km2");
  }
  return keys;
}

struct Feature {
  int32_t node;
  std::vector<uint32_t> geometry;
};

// The deepest level a tile of zoom z shows (-1: none).
int DeepestLevel(int z) {
  int deepest = -1;
  for (int l = 0; l < kLevelCount; ++l)
    if (kMinZoom[l] <= z) deepest = l;
  return deepest;
}

}  // namespace

int LevelMinZoom(Level level) { return kMinZoom[static_cast<size_t>(level)]; }

Status CheckTile(const TileId& t, const TileOptions& o) {
  if (t.z < 0 || t.z > o.max_zoom)
    return InvalidArgument("tile zoom " + std::to_string(t.z) + " is outside [0, " + std::to_string(o.max_zoom) + "]");
  const uint64_t n = uint64_t{1} << t.z;
  if (t.x >= n) return InvalidArgument("tile x " + std::to_string(t.x) + " is outside [0, " + std::to_string(n - 1) + "] at zoom " + std::to_string(t.z));
  if (t.y >= n) return InvalidArgument("tile y " + std::to_string(t.y) + " is outside [0, " + std::to_string(n - 1) + "] at zoom " + std::to_string(t.z));
  return Status::Ok();
}

Result<std::string> RenderTile(const View& view, const TileId& tile, const TileOptions& options) {
  if (Status s = CheckTile(tile, options); !s.ok()) return s;
  const Dataset& ds = view.dataset();
  const internal::TileProjection projection(tile, options.extent);
  const index::Box box = projection.LonLatBox(options.buffer);
  // The deepest level this zoom shows; the walk descends no further.
  const int deepest = DeepestLevel(tile.z);
  std::array<std::vector<Feature>, kLevelCount> layers;
  internal::RingScratch scratch;
  const index::FlatPolygons& leaves = view.spatial_index().geometry();
  // Depth-first from the roots, into subtrees whose box meets the tile.
  internal::WalkTree(ds, [&](int32_t k) {
    if (!ds.node_bounds[k].Intersects(box)) return false;
    const int level = static_cast<int>(ds.levels[k]);
    if (level > deepest) return false;
    const int32_t leaf = ds.leaf_of_node[k];
    Feature f{k, {}};
    const bool drawn = leaf >= 0 ? internal::AppendPolygonCommands(leaves, static_cast<size_t>(leaf), projection,
                                                                   options.extent, options.buffer, scratch, f.geometry)
                                 : !ds.inner_geometry.empty(k) &&
                                       internal::AppendPolygonCommands(ds.inner_geometry, static_cast<size_t>(k),
                                                                       projection, options.extent, options.buffer,
                                                                       scratch, f.geometry);
    if (drawn && kMinZoom[level] <= tile.z) layers[level].push_back(std::move(f));
    return level < deepest;
  });
  std::string out;
  protozero::pbf_writer tile_writer(out);
  const size_t m = view.metric_count();
  const std::vector<std::string> keys = LayerKeys(view);
  std::vector<uint32_t> tags;
  for (int level = 0; level < kLevelCount; ++level) {
    if (layers[level].empty()) continue;
    LayerValues values;
    protozero::pbf_writer layer(tile_writer, 3);
    layer.add_uint32(15, 2);  // version
    layer.add_string(1, std::string(LevelName(static_cast<Level>(level))));
    for (const Feature& f : layers[level]) {
      const NodeId node(f.node);
      const double area = view.AreaKm2(node);
      tags.clear();
      auto tag = [&](uint32_t value) {
        tags.push_back(static_cast<uint32_t>(tags.size() / 2));  // key number: the tag's position
        tags.push_back(value);
      };
      tag(values.Unique(view.id(node)));
      tag(values.Unique(view.name(node)));
      tag(values.Shared(LevelName(view.level(node))));
      tag(values.Shared(view.kind(node)));
      tag(values.Unique(area));
      for (size_t j = 0; j < m; ++j) {
        const int64_t v = view.Metric(node, static_cast<int>(j));
        tag(values.Shared(v));
        tag(values.Unique(area > 0 ? static_cast<double>(v) / area : 0.0));
      }
      protozero::pbf_writer feature(layer, 2);
      feature.add_uint64(1, static_cast<uint64_t>(f.node) + 1);  // ids start at 1: 0 reads as "no id" in some clients
      feature.add_packed_uint32(2, tags.begin(), tags.end());
      feature.add_enum(3, 3);  // POLYGON
      feature.add_packed_uint32(4, f.geometry.begin(), f.geometry.end());
    }
    for (const std::string& k : keys) layer.add_string(3, k);
    values.Write(layer);
    layer.add_uint32(5, options.extent);
  }
  return out;
}

std::string TileJson(const View& view, std::string_view tiles_url, const TileOptions& options) {
  const Dataset& ds = view.dataset();
  index::Box all = index::Box::Empty();
  for (size_t k = 0; k < ds.node_count(); k = static_cast<size_t>(ds.subtree_end[k])) all.Extend(ds.node_bounds[k]);
  if (all.IsEmpty()) all = {-180, -85, 180, 85};
  std::string j = "{\"tilejson\":\"3.0.0\",\"name\":\"gridtree\",\"description\":";
  AppendJsonString(j, "grid hierarchy of " + ds.source);
  j += ",\"version\":";
  AppendJsonString(j, std::to_string(view.dataset_version()) + "." + std::to_string(view.version()));
  j += ",\"scheme\":\"xyz\",\"tiles\":[";
  AppendJsonString(j, tiles_url);
  j += "],\"minzoom\":0,\"maxzoom\":" + std::to_string(options.max_zoom) + ",\"bounds\":[";
  const double b[4] = {all.min_x, all.min_y, all.max_x, all.max_y};
  for (int i = 0; i < 4; ++i) {
    if (i) j += ',';
    AppendJsonNumber(j, b[i]);
  }
  j += "],\"center\":[";
  AppendJsonNumber(j, (all.min_x + all.max_x) / 2);
  j += ',';
  AppendJsonNumber(j, (all.min_y + all.max_y) / 2);
  j += ",9],\"vector_layers\":[";
  for (int level = 0; level < kLevelCount; ++level) {
    if (level) j += ',';
    j += "{\"id\":\"" + std::string(LevelName(static_cast<Level>(level))) + "\",\"minzoom\":" +
         std::to_string(kMinZoom[level]) + ",\"maxzoom\":" + std::to_string(options.max_zoom) +
         ",\"fields\":{\"id\":\"String\",\"name\":\"String\",\"level\":\"String\",\"kind\":\"String\",\"area_km2\":\"Number\"";
    for (size_t k = 0; k < view.metric_count(); ++k) {
      const std::string name(view.metric_name(static_cast<int>(k)));
      j += ',';
      AppendJsonString(j, name);
      j += ":\"Number\",";
      AppendJsonString(j, name + "_per_km2");
      j += ":\"Number\"";
    }
    j += "}}";
  }
  j += "]}";
  return j;
}

std::string TileETag(const View& view, const TileId& tile, const TileOptions& options) {
  const Dataset& ds = view.dataset();
  const internal::TileProjection projection(tile, options.extent);
  const index::Box box = projection.LonLatBox(options.buffer);
  const int deepest = DeepestLevel(tile.z);
  const size_t m = view.metric_count();
  // FNV-1a, 64 bits, over the same walk as RenderTile's.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ (v & 0xFF)) * 1099511628211ull;
  };
  mix(ds.fingerprint);
  mix(view.dataset_version());
  mix(m);
  internal::WalkTree(ds, [&](int32_t k) {
    if (!ds.node_bounds[k].Intersects(box)) return false;
    const int level = static_cast<int>(ds.levels[k]);
    if (level > deepest) return false;
    // A node with an outline to draw (RenderTile draws no other).
    if (kMinZoom[level] <= tile.z && (ds.leaf_of_node[k] >= 0 || !ds.inner_geometry.empty(k))) {
      mix(static_cast<uint64_t>(k));
      for (size_t j = 0; j < m; ++j) mix(static_cast<uint64_t>(view.Metric(NodeId(k), static_cast<int>(j))));
    }
    return level < deepest;
  });
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016" PRIx64 "\"", h);
  return buf;
}

}  // namespace gridtree
