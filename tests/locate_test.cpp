// Point-in-grid on the default Jiangmen dataset against an independent
// oracle (an R-tree of part boxes as the filter, Boost.Geometry covered_by
// on every candidate), adversarial points, and golden real places.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <boost/geometry/index/rtree.hpp>

#include "jiangmen_fixture.h"

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

namespace {

using namespace gridtree;
using gridtree::testing::SharedJiangmen;

using BPoint = bg::model::d2::point_xy<double>;
using BBox = bg::model::box<BPoint>;
using BPolygon = bg::model::polygon<BPoint, false, false>;

// Brute force over every leaf part whose box holds the point.
class Oracle {
 public:
  explicit Oracle(const View& view) {
    const auto& idx = view.spatial_index();
    std::vector<std::pair<BBox, size_t>> boxes;
    for (size_t leaf = 0; leaf < idx.size(); ++leaf) {
      for (const auto& part : idx.polygon(static_cast<int32_t>(leaf)).parts) {
        BPolygon bp;
        for (const auto& p : part.rings[0]) bp.outer().push_back(BPoint(p.x, p.y));
        for (size_t r = 1; r < part.rings.size(); ++r) {
          bp.inners().emplace_back();
          for (const auto& p : part.rings[r]) bp.inners().back().push_back(BPoint(p.x, p.y));
        }
        BBox b;
        bg::envelope(bp, b);
        boxes.emplace_back(b, polys_.size());
        polys_.push_back(std::move(bp));
        owner_.push_back(static_cast<int32_t>(leaf));
      }
    }
    tree_ = bgi::rtree<std::pair<BBox, size_t>, bgi::quadratic<16>>(boxes.begin(), boxes.end());
  }
  std::vector<int32_t> Covering(index::Point q) const {
    std::vector<int32_t> hits;
    for (auto it = tree_.qbegin(bgi::covers(BPoint(q.x, q.y))); it != tree_.qend(); ++it)
      if (bg::covered_by(BPoint(q.x, q.y), polys_[it->second])) hits.push_back(owner_[it->second]);
    std::sort(hits.begin(), hits.end());
    hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
    return hits;
  }

 private:
  std::vector<BPolygon> polys_;
  std::vector<int32_t> owner_;
  bgi::rtree<std::pair<BBox, size_t>, bgi::quadratic<16>> tree_;
};

const Oracle& SharedOracle() {
  static const Oracle oracle(*SharedJiangmen().engine->Read());
  return oracle;
}

void CheckAgainstOracle(const std::vector<index::Point>& pts, const char* what) {
  const Engine& engine = *SharedJiangmen().engine;
  auto view = engine.Read();
  std::vector<LocateResult> got(pts.size());
  ASSERT_TRUE(view->LocateBatch(pts, got).ok());
  size_t single = 0, shared = 0, miss = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    const std::vector<int32_t> want = SharedOracle().Covering(pts[i]);
    if (want.size() == 1) {
      ++single;
      ASSERT_EQ(got[i].leaf.value, want[0]) << what << " point " << i << " (" << pts[i].x << ", " << pts[i].y << ")";
    } else if (want.empty()) {
      ++miss;
      ASSERT_FALSE(got[i].leaf.valid()) << what << " point " << i;
    } else {
      ++shared;
      ASSERT_NE(std::find(want.begin(), want.end(), got[i].leaf.value), want.end()) << what << " point " << i;
    }
  }
  ::testing::Test::RecordProperty(std::string(what) + "_single", static_cast<int>(single));
  ::testing::Test::RecordProperty(std::string(what) + "_miss", static_cast<int>(miss));
}

index::Box CityBox() { return SharedJiangmen().engine->Read()->spatial_index().extent(); }

TEST(Locate, DefaultDatasetLoadsWithoutErrors) {
  const auto& j = SharedJiangmen();
  EXPECT_EQ(j.report.errors(), 0u);
  const Dataset& ds = j.engine->Read()->dataset();
  std::array<int, kLevelCount> counts{};
  for (Level l : ds.levels) ++counts[static_cast<int>(l)];
  EXPECT_EQ(counts[0], 1);
  EXPECT_EQ(counts[1], 7);
  EXPECT_EQ(counts[2], 82);
  EXPECT_EQ(counts[3], 1348);
  EXPECT_EQ(counts[4], 2954);
}

TEST(Locate, UniformOverTheBoundingBoxMatchesOracle) {
  const index::Box b = CityBox();
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> ux(b.min_x, b.max_x), uy(b.min_y, b.max_y);
  std::vector<index::Point> pts(100000);
  for (auto& p : pts) p = {ux(rng), uy(rng)};
  CheckAgainstOracle(pts, "uniform");
}

TEST(Locate, InsideOnlyAndClusteredMatchOracle) {
  const index::Box b = CityBox();
  const Engine& engine = *SharedJiangmen().engine;
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> ux(b.min_x, b.max_x), uy(b.min_y, b.max_y);
  std::vector<index::Point> inside;
  while (inside.size() < 60000) {
    const index::Point p{ux(rng), uy(rng)};
    if (!SharedOracle().Covering(p).empty()) inside.push_back(p);
  }
  CheckAgainstOracle(inside, "inside");
  std::normal_distribution<double> cx(113.08, 0.03), cy(22.58, 0.03);
  std::vector<index::Point> centre(60000);
  for (auto& p : centre) p = {cx(rng), cy(rng)};
  CheckAgainstOracle(centre, "clustered");
  (void)engine;
}

// Every vertex and every edge midpoint of a few thousand leaves: points
// exactly on shared edges and vertices. Each has one answer, among the
// leaves the oracle says cover it, and never a miss inside the city.
TEST(Locate, SharedEdgesAndVerticesHaveExactlyOneOwner) {
  auto view = SharedJiangmen().engine->Read();
  const auto& idx = view->spatial_index();
  std::vector<index::Point> pts;
  for (size_t leaf = 0; leaf < idx.size(); leaf += 7)
    for (const auto& part : idx.polygon(static_cast<int32_t>(leaf)).parts)
      for (const auto& ring : part.rings)
        for (size_t i = 0; i < ring.size(); ++i) {
          const auto a = ring[i], c = ring[(i + 1) % ring.size()];
          pts.push_back(a);
          pts.push_back({(a.x + c.x) / 2, (a.y + c.y) / 2});
        }
  ASSERT_GT(pts.size(), 10000u);
  // The boundary rule says a point belongs where a tiny step east (and a
  // far tinier one north) takes it; ask the oracle there.
  size_t owned = 0;
  for (const auto& p : pts) {
    const int32_t got = view->Locate(p).leaf.value;
    ASSERT_FALSE(SharedOracle().Covering(p).empty());  // every such point is on some leaf
    const std::vector<int32_t> nudged = SharedOracle().Covering({p.x + 1e-9, p.y + 1e-11});
    ASSERT_LE(nudged.size(), 1u) << p.x << "," << p.y;
    ASSERT_EQ(got, nudged.empty() ? -1 : nudged[0]) << p.x << "," << p.y;
    owned += got >= 0;
  }
  EXPECT_GT(owned, pts.size() * 9 / 10);
}

TEST(Locate, OneThreadAndManyThreadsAgree) {
  const index::Box b = CityBox();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> ux(b.min_x, b.max_x), uy(b.min_y, b.max_y);
  std::vector<double> lon(200000), lat(200000);
  for (size_t i = 0; i < lon.size(); ++i) lon[i] = ux(rng), lat[i] = uy(rng);
  std::vector<std::vector<int32_t>> answers;
  std::vector<index::IndexStats> stats;
  for (int threads : {1, 4}) {
    EngineOptions options;
    options.threads = threads;  // also the index build's threads
    auto engine = Engine::Open(SharedJiangmen().path, options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    stats.push_back(engine.value()->Read()->spatial_index().stats());
    EXPECT_EQ(engine.value()->executor().threads(), threads);
    auto view = engine.value()->Read();
    std::vector<LeafId> out(lon.size());
    ASSERT_TRUE(view->LocateColumns(lon, lat, out).ok());
    std::vector<int32_t> numbers(out.size());
    for (size_t i = 0; i < out.size(); ++i) numbers[i] = out[i].value;
    answers.push_back(std::move(numbers));
    std::vector<index::Point> pts(lon.size());
    for (size_t i = 0; i < lon.size(); ++i) pts[i] = {lon[i], lat[i]};
    std::vector<LocateResult> r(pts.size());
    ASSERT_TRUE(view->LocateBatch(pts, r).ok());
    for (size_t i = 0; i < pts.size(); ++i) ASSERT_EQ(r[i].leaf.value, answers.back()[i]);
  }
  EXPECT_EQ(answers[0], answers[1]);
  // The lookup grid built on 1 and on 4 threads is the same.
  EXPECT_EQ(stats[0].grid_cells, stats[1].grid_cells);
  EXPECT_EQ(stats[0].grid_mixed_cells, stats[1].grid_mixed_cells);
  EXPECT_EQ(stats[0].memory_bytes, stats[1].memory_bytes);
}

TEST(Locate, NonFiniteCoordinatesAreAClearError) {
  auto view = SharedJiangmen().engine->Read();
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<index::Point> one{{nan, 22.5}};
  std::vector<LocateResult> out1(1);
  Status first = view->LocateBatch(one, out1);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.message().find("finite"), std::string::npos);
  EXPECT_FALSE(view->Locate({113.0, inf}).hit());  // the single form: a miss
  std::vector<index::Point> pts{{113.0, 22.5}, {113.0, 22.5}, {inf, 1}};
  std::vector<LocateResult> out(3);
  Status s = view->LocateBatch(pts, out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("point 2"), std::string::npos) << s.message();
  std::vector<double> lon{113.0, nan}, lat{22.5, 22.5};
  std::vector<LeafId> leaves(2);
  Status c = view->LocateColumns(lon, lat, leaves);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.message().find("point 1"), std::string::npos) << c.message();
}

TEST(Locate, ChainGoesFromTheCityDownToTheLeaf) {
  auto view = SharedJiangmen().engine->Read();
  const LocateResult r = view->Locate({113.0760, 22.5850});
  ASSERT_TRUE(r.hit());
  const Chain c = view->ChainOf(r.node);
  ASSERT_GE(c.size, 4);
  EXPECT_EQ(view->id(c.nodes[0]), "4407");
  EXPECT_EQ(view->level(c.nodes[0]), Level::kCity);
  EXPECT_EQ(c.nodes[c.size - 1], r.node);
  for (int i = 1; i < c.size; ++i) {
    EXPECT_EQ(view->Parent(c.nodes[i]), c.nodes[i - 1]);
    EXPECT_LT(static_cast<int>(view->level(c.nodes[i - 1])), static_cast<int>(view->level(c.nodes[i])));
  }
}

TEST(Locate, SnappingReturnsTheNearestLeafWithTheDistance) {
  const Engine& engine = *SharedJiangmen().engine;
  // Walk south from Taicheng until leaving the land, then snap back.
  auto view = engine.Read();
  index::Point p{112.794065, 22.251924};
  while (view->Locate(p).hit()) p.y -= 0.0005;
  LocateOptions snap;
  snap.max_distance_m = 500;
  const LocateResult r = view->Locate(p, snap);
  ASSERT_TRUE(r.hit());
  EXPECT_TRUE(r.snapped);
  EXPECT_GT(r.distance_m, 0);
  EXPECT_LE(r.distance_m, 60);  // one 0.0005° step is about 55 m
}

TEST(Locate, GoldenRealPlaces) {
  std::ifstream in(std::string(GRIDTREE_TEST_DIR) + "/data/golden_points.csv");
  ASSERT_TRUE(in);
  auto view = SharedJiangmen().engine->Read();
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 4u) << line;
    const LocateResult r = view->Locate({std::stod(f[1]), std::stod(f[2])});
    if (f[3] == "miss") {
      EXPECT_FALSE(r.hit()) << f[0];
    } else {
      ASSERT_TRUE(r.hit()) << f[0];
      const Chain c = view->ChainOf(r.node);
      EXPECT_EQ(view->id(c.nodes[1]), f[3]) << f[0];
    }
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

}  // namespace
