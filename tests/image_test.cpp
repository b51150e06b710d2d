// Engine images: an engine mapped from an image answers every query as the
// engine built from the GeoJSON it was written from (the oracle), and a
// damaged image is a clear error, never a crash or a read past the mapping.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "storage/engine_image.h"  // engine/src: ReadEngineImage
#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "gridtree/engine/region.h"
#include "storage/image_file.h"  // engine/src: section offsets
#include "jiangmen_fixture.h"
#include "small_dataset.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void ExpectSameRegion(const View& a, const View& b, const RegionQuery& q, const std::string& what) {
  auto ra = a.RegionAggregate(q), rb = b.RegionAggregate(q);
  ASSERT_TRUE(ra.ok() && rb.ok()) << what;
  EXPECT_EQ(ra.value().total, rb.value().total) << what;
  EXPECT_EQ(ra.value().counts, rb.value().counts) << what;
  EXPECT_EQ(ra.value().leaves, rb.value().leaves) << what;
  ASSERT_EQ(ra.value().rows.size(), rb.value().rows.size()) << what;
  for (size_t i = 0; i < ra.value().rows.size(); ++i) {
    EXPECT_EQ(ra.value().rows[i].node, rb.value().rows[i].node) << what;
    EXPECT_EQ(ra.value().rows[i].values, rb.value().rows[i].values) << what;
  }
}

class ImageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto& j = testing::SharedJiangmen();
    path_ = ::testing::TempDir() + "/jiangmen-" + std::to_string(::getpid()) + ".gtimg";
    ASSERT_TRUE(WriteEngineImage(*j.engine->Read(), path_).ok());
    auto e = Engine::Open(path_);
    ASSERT_TRUE(e.ok()) << e.status().message();
    mapped_ = std::move(e.value()).release();
  }
  static void TearDownTestSuite() {
    delete mapped_;
    fs::remove(path_);
  }
  static std::string path_;
  static Engine* mapped_;
};
std::string ImageTest::path_;
Engine* ImageTest::mapped_ = nullptr;

TEST_F(ImageTest, HoldsTheSameHierarchyMetricsAndGeometry) {
  const auto built = testing::SharedJiangmen().engine->Read();
  const auto mapped = mapped_->Read();
  const Dataset& a = built->dataset();
  const Dataset& b = mapped->dataset();
  EXPECT_NE(b.storage, nullptr);  // borrowed from the mapping, not copied
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.metric_names, b.metric_names);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.names, b.names);
  EXPECT_EQ(a.kinds, b.kinds);
  EXPECT_EQ(a.levels, b.levels);
  EXPECT_EQ(a.parents, b.parents);
  EXPECT_EQ(a.subtree_end, b.subtree_end);
  EXPECT_EQ(a.child_begin, b.child_begin);
  EXPECT_EQ(a.children, b.children);
  EXPECT_EQ(a.leaf_of_node, b.leaf_of_node);
  EXPECT_EQ(a.leaf_nodes, b.leaf_nodes);
  EXPECT_EQ(a.leaf_metrics, b.leaf_metrics);
  EXPECT_EQ(a.node_area_km2, b.node_area_km2);
  for (size_t k = 0; k < a.node_count(); ++k) {
    const NodeId node(static_cast<int32_t>(k));
    ASSERT_EQ(b.Find(a.ids[k]), static_cast<int32_t>(k)) << a.ids[k];
    EXPECT_EQ(built->Aggregate(node), mapped->Aggregate(node)) << a.ids[k];
    EXPECT_EQ(a.inner_geometry.empty(k), b.inner_geometry.empty(k));
  }
  EXPECT_FALSE(b.Find("no-such-id").has_value());
  const index::PolygonIndex& ia = built->spatial_index();
  const index::PolygonIndex& ib = mapped->spatial_index();
  ASSERT_EQ(ia.size(), ib.size());
  for (int32_t l = 0; l < static_cast<int32_t>(ia.size()); l += 7) {
    const index::MultiPolygon pa = ia.polygon(l), pb = ib.polygon(l);
    ASSERT_EQ(pa.parts.size(), pb.parts.size());
    for (size_t p = 0; p < pa.parts.size(); ++p) ASSERT_EQ(pa.parts[p].rings, pb.parts[p].rings) << l;
  }
  for (const char* prefix : {"江", "双龙", "蓬江区", "x"})
    EXPECT_EQ(built->FindByNamePrefix(prefix), mapped->FindByNamePrefix(prefix)) << prefix;
}

TEST_F(ImageTest, LocatesAMillionPointsAsTheBuiltIndex) {
  const auto built = testing::SharedJiangmen().engine->Read();
  const auto mapped = mapped_->Read();
  const index::Box box = built->dataset().node_bounds[0];
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> x(box.min_x - 0.05, box.max_x + 0.05), y(box.min_y - 0.05, box.max_y + 0.05);
  const size_t n = 1'000'000;
  std::vector<double> lon(n), lat(n);
  for (size_t i = 0; i < n; ++i) lon[i] = x(rng), lat[i] = y(rng);
  std::vector<LeafId> a(n), b(n);
  ASSERT_TRUE(built->LocateColumns(lon, lat, a).ok());
  ASSERT_TRUE(mapped->LocateColumns(lon, lat, b).ok());
  size_t hits = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(a[i], b[i]) << lon[i] << " " << lat[i];
    hits += a[i].valid();
  }
  EXPECT_GT(hits, n / 4);  // the points do reach the city
  // Snapping to the nearest leaf (the R-tree) on misses.
  for (size_t i = 0; i < 20'000; ++i) {
    const LocateResult ra = built->Locate({lon[i], lat[i]}, {.max_distance_m = 800});
    const LocateResult rb = mapped->Locate({lon[i], lat[i]}, {.max_distance_m = 800});
    ASSERT_EQ(ra.node, rb.node);
    ASSERT_EQ(ra.snapped, rb.snapped);
    ASSERT_EQ(ra.distance_m, rb.distance_m);
  }
}

TEST_F(ImageTest, AggregatesCirclesPolygonsAndTopKAsTheBuiltEngine) {
  const auto built = testing::SharedJiangmen().engine->Read();
  const auto mapped = mapped_->Read();
  const Dataset& ds = built->dataset();
  const index::Box box = ds.node_bounds[0];
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> x(box.min_x, box.max_x), y(box.min_y, box.max_y), r(300, 6000);
  for (int i = 0; i < 40; ++i) {
    const Region circle = CircleRegion(x(rng), y(rng), r(rng));
    for (RegionMode mode : {RegionMode::kContained, RegionMode::kIntersecting, RegionMode::kAreaWeighted})
      for (std::optional<Level> group : {std::optional<Level>(), std::optional<Level>(Level::kCommunity)})
        ExpectSameRegion(*built, *mapped, {circle, mode, group}, "circle " + std::to_string(i));
  }
  // The towns' own outlines as polygons.
  int towns = 0;
  for (size_t k = 0; k < ds.node_count() && towns < 6; ++k) {
    if (ds.levels[k] != Level::kTown || ds.inner_geometry.empty(k)) continue;
    auto region = PolygonRegion(ds.inner_geometry.Get(k));
    ASSERT_TRUE(region.ok());
    ++towns;
    for (RegionMode mode : {RegionMode::kIntersecting, RegionMode::kAreaWeighted})
      ExpectSameRegion(*built, *mapped, {region.value(), mode, Level::kGrid}, std::string(ds.ids[k]));
  }
  EXPECT_EQ(towns, 6);
  for (Level level : {Level::kCounty, Level::kTown, Level::kCommunity, Level::kGrid, Level::kMicroGrid})
    for (int metric = 0; metric < static_cast<int>(ds.metric_count()); ++metric)
      for (bool density : {false, true}) {
        TopKQuery q;
        q.level = level;
        q.metric = metric;
        q.k = 10;
        q.density = density;
        auto ta = built->TopK(q), tb = mapped->TopK(q);
        ASSERT_TRUE(ta.ok() && tb.ok());
        ASSERT_EQ(ta.value().entries.size(), tb.value().entries.size());
        for (size_t i = 0; i < ta.value().entries.size(); ++i) {
          EXPECT_EQ(ta.value().entries[i].node, tb.value().entries[i].node);
          EXPECT_EQ(ta.value().entries[i].value, tb.value().entries[i].value);
          EXPECT_EQ(ta.value().entries[i].density, tb.value().entries[i].density);
        }
      }
}

TEST_F(ImageTest, UpdatesAndReloadOnAMappedImage) {
  // An update copies the chunks it changes; the mapping is never written.
  auto opened = Engine::Open(path_);
  ASSERT_TRUE(opened.ok());
  Engine& engine = *opened.value();
  const auto before = engine.Read();
  const NodeId leaf = before->NodeOf(LeafId(100));
  const NodeId root(0);
  const int64_t leaf_value = before->Metric(leaf, 0), root_value = before->Metric(root, 0);
  UpdateBatch batch;
  batch.updates.push_back({std::string(before->id(leaf)), before->dataset().metric_names[0], MetricUpdate::Op::kAdd, 5});
  ASSERT_TRUE(engine.Apply(batch).ok());
  const auto after = engine.Read();
  EXPECT_EQ(after->Metric(leaf, 0), leaf_value + 5);
  EXPECT_EQ(after->Metric(root, 0), root_value + 5);
  EXPECT_EQ(before->Metric(leaf, 0), leaf_value);  // the old View is unchanged
  // Reloading the image swaps in a fresh mapping at its own values.
  auto reloaded = engine.ReloadFrom(path_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  EXPECT_EQ(reloaded.value()->dataset_version(), after->dataset_version() + 1);
  EXPECT_EQ(reloaded.value()->Metric(leaf, 0), leaf_value);
  EXPECT_EQ(after->Metric(leaf, 0), leaf_value + 5);
}

// A small image, damaged in every way the format promises to catch.
class ImageCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/gridtree-image-" + std::to_string(::getpid());
    fs::create_directories(dir_);
    good_ = dir_ + "/small.gtimg";
    auto engine = testing::SmallEngine(8);
    ASSERT_TRUE(WriteEngineImage(*engine->Read(), good_).ok());
    bytes_ = ReadBytes(good_);
    auto mapped = internal::MappedImage::Open(good_);
    ASSERT_TRUE(mapped.ok()) << mapped.status().message();
    sections_ = mapped.value()->sections();
    // What every image that opens must answer: the undamaged one's leaves.
    auto good = Engine::Open(good_, OneThread());
    ASSERT_TRUE(good.ok());
    const auto view = good.value()->Read();
    for (const index::Point& p : Probes()) expected_.push_back(view->Locate(p).node);
  }
  static EngineOptions OneThread() {
    EngineOptions o;
    o.threads = 1;
    return o;
  }
  static std::vector<index::Point> Probes() {
    std::vector<index::Point> probes;
    for (double x = 113.0; x < 113.09; x += 0.0037)
      for (double y = 22.5; y < 22.59; y += 0.0041) probes.push_back({x, y});
    return probes;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Opens bytes as an engine; the error message, or "" when it opened.
  std::string OpenError(const std::string& bytes) {
    const std::string path = dir_ + "/damaged.gtimg";
    WriteBytes(path, bytes);
    auto e = Engine::Open(path, OneThread());
    if (!e.ok()) return e.status().message();
    // Opened: it must answer as the undamaged image does.
    auto view = e.value()->Read();
    const std::vector<index::Point> probes = Probes();
    for (size_t i = 0; i < probes.size(); ++i) EXPECT_EQ(view->Locate(probes[i]).node, expected_[i]);
    return "";
  }

  std::string dir_, good_, bytes_;
  std::vector<internal::MappedImage::Section> sections_;
  std::vector<NodeId> expected_;  // the undamaged image's answers at Probes()
};

TEST_F(ImageCorruptionTest, TruncationAtEverySectionBoundaryIsAClearError) {
  std::vector<size_t> cuts = {0, 7, 8, 63, 64, bytes_.size() - 1};
  for (const auto& s : sections_) cuts.insert(cuts.end(), {s.offset, s.offset + s.bytes.size() / 2, s.offset + s.bytes.size()});
  for (size_t cut : cuts) {
    if (cut >= bytes_.size()) continue;
    const std::string error = OpenError(bytes_.substr(0, cut));
    EXPECT_FALSE(error.empty()) << "cut at " << cut;
    if (cut >= 8) {
      EXPECT_NE(error.find("truncated"), std::string::npos) << error;
    }
  }
}

TEST_F(ImageCorruptionTest, RandomByteFlipsAreRefusedNamingTheSection) {
  // Bytes inside the header, the table of contents or a section are all
  // under a checksum; the padding between sections holds nothing, and a
  // flip there must leave the answers unchanged.
  std::vector<bool> covered(bytes_.size(), false);
  for (size_t i = 0; i < 64; ++i) covered[i] = true;
  size_t toc_begin = 64;
  for (const auto& s : sections_) {
    for (size_t i = s.offset; i < s.offset + s.bytes.size(); ++i) covered[i] = true;
    toc_begin = std::max(toc_begin, s.offset + s.bytes.size());
  }
  toc_begin = (toc_begin + 63) / 64 * 64;
  for (size_t i = toc_begin; i < bytes_.size(); ++i) covered[i] = true;
  std::mt19937_64 rng(99);
  int refused = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    std::string damaged = bytes_;
    const size_t at = rng() % damaged.size();
    damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
    const std::string error = OpenError(damaged);
    if (covered[at]) {
      EXPECT_FALSE(error.empty()) << "flip at " << at;
      ++refused;
    }
    if (!error.empty() && at >= 64 && at < toc_begin) {
      EXPECT_NE(error.find("section"), std::string::npos) << error;  // names it
    }
  }
  EXPECT_GT(refused, 900);
}

TEST_F(ImageCorruptionTest, WrongMagicVersionOrByteOrderIsNamed) {
  std::string magic = bytes_;
  magic[1] = 'X';
  auto read = internal::ReadEngineImage(dir_ + "/magic.gtimg");
  WriteBytes(dir_ + "/magic.gtimg", magic);
  read = internal::ReadEngineImage(dir_ + "/magic.gtimg");
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("not an engine image"), std::string::npos) << read.status().message();
  EXPECT_FALSE(OpenError(magic).empty());  // read as GeoJSON: a syntax error

  std::string version = bytes_;
  version[8] = 2;  // u32 version, little-endian
  const std::string version_error = OpenError(version);
  EXPECT_NE(version_error.find("version 2"), std::string::npos) << version_error;

  std::string endian = bytes_;
  std::reverse(endian.begin() + 12, endian.begin() + 16);  // the byte-order tag as the other order writes it
  const std::string endian_error = OpenError(endian);
  EXPECT_NE(endian_error.find("byte order"), std::string::npos) << endian_error;
}

}  // namespace
}  // namespace gridtree
