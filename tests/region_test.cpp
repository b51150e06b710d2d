// Region aggregates against a brute-force oracle: every leaf of the default
// Jiangmen dataset tested with Boost.Geometry (no tree, no pruning), exact
// sums, for boxes, circles and polygons of every size, in all three modes,
// with and without group-by.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include <boost/geometry/algorithms/area.hpp>
#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/algorithms/disjoint.hpp>
#include <boost/geometry/algorithms/envelope.hpp>
#include <boost/geometry/algorithms/intersection.hpp>
#include <boost/geometry/algorithms/intersects.hpp>
#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/multi_polygon.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "gridtree/engine/region.h"
#include "jiangmen_fixture.h"

namespace bg = boost::geometry;

namespace {

using namespace gridtree;
using gridtree::testing::SharedJiangmen;
using BPoint = bg::model::d2::point_xy<double>;
using BPolygon = bg::model::polygon<BPoint, false, false>;
using BMulti = bg::model::multi_polygon<BPolygon>;

// Leaf geometry in Boost form; for circles, projected to metres around the
// centre the same way the engine defines it (docs/aggregates.md).
BMulti ToBoost(const index::MultiPolygon& mp, const std::function<BPoint(index::Point)>& f) {
  BMulti out;
  for (const auto& part : mp.parts) {
    BPolygon& p = out.emplace_back();
    for (const auto& q : part.rings[0]) p.outer().push_back(f(q));
    for (size_t r = 1; r < part.rings.size(); ++r) {
      p.inners().emplace_back();
      for (const auto& q : part.rings[r]) p.inners().back().push_back(f(q));
    }
  }
  return out;
}

struct Expected {
  std::vector<double> total;
  std::map<int32_t, std::vector<double>> rows;
};

// Brute force: every leaf, one Boost predicate or intersection each.
Expected Oracle(const View& view, const Region& region, RegionMode mode, std::optional<Level> group_by) {
  const Dataset& ds = view.dataset();
  const size_t m = ds.metric_count();
  Expected e;
  e.total.assign(m, 0);
  std::function<BPoint(index::Point)> project = [](index::Point p) { return BPoint(p.x, p.y); };
  BMulti shape;
  if (region.kind == Region::Kind::kCircle) {
    const index::Point c = region.center;
    const double m_lat = index::MetresPerDegreeAt(c.y).lat;
    project = [c, m_lat](index::Point p) {
      return BPoint((p.x - c.x) * index::MetresPerDegreeAt(p.y).lon, (p.y - c.y) * m_lat);
    };
    BPolygon disk;
    const int n = 4096;  // inscribed polygon: within 6 mm of the circle at 20 km
    for (int i = 0; i < n; ++i)
      disk.outer().push_back(BPoint(region.radius_m * std::cos(2 * M_PI * i / n), region.radius_m * std::sin(2 * M_PI * i / n)));
    shape.push_back(disk);
  } else if (region.kind == Region::Kind::kBox) {
    BPolygon b;
    b.outer() = {BPoint(region.box.min_x, region.box.min_y), BPoint(region.box.max_x, region.box.min_y),
                 BPoint(region.box.max_x, region.box.max_y), BPoint(region.box.min_x, region.box.max_y)};
    shape.push_back(b);
  } else {
    shape = ToBoost(region.polygon, project);
  }
  bg::model::box<BPoint> shape_box;
  bg::envelope(shape, shape_box);
  for (size_t l = 0; l < ds.leaf_count(); ++l) {
    const BMulti leaf = ToBoost(view.spatial_index().polygon(static_cast<int32_t>(l)), project);
    bg::model::box<BPoint> leaf_box;
    bg::envelope(leaf, leaf_box);
    if (bg::disjoint(leaf_box, shape_box)) continue;  // cannot meet the region
    double w = 0;
    if (mode == RegionMode::kContained) w = bg::covered_by(leaf, shape) ? 1 : 0;
    else if (mode == RegionMode::kIntersecting) w = bg::intersects(leaf, shape) ? 1 : 0;
    else {
      BMulti out;
      bg::intersection(leaf, shape, out);
      w = bg::area(out) / bg::area(leaf);
    }
    if (w <= 0) continue;
    const int32_t node = ds.leaf_nodes[l];
    int32_t g = node;
    if (group_by)
      while (g >= 0 && ds.levels[g] != *group_by) g = ds.parents[g];
    for (size_t j = 0; j < m; ++j) {
      const double v = w * static_cast<double>(ds.leaf_metrics[l * m + j]);
      e.total[j] += v;
      if (group_by && g >= 0) {
        auto& row = e.rows[g];
        row.resize(m, 0);
        row[j] += v;
      }
    }
  }
  return e;
}

void Compare(const Region& region, const char* what) {
  const Engine& engine = *SharedJiangmen().engine;
  auto view = engine.Read();
  for (RegionMode mode : {RegionMode::kContained, RegionMode::kIntersecting, RegionMode::kAreaWeighted}) {
    const Expected want = Oracle(*view, region, mode, Level::kCommunity);
    // Area-weighted: the oracle's inscribed 4096-gon shifts a border leaf's
    // fraction by up to ~1e-6, i.e. up to ~0.01 of a leaf's metric.
    const double tol = mode == RegionMode::kAreaWeighted ? 1e-4 : 0;
    const double slack = mode == RegionMode::kAreaWeighted ? 0.01 : 1e-6;
    for (std::optional<Level> group : {std::optional<Level>(), std::optional<Level>(Level::kCommunity)}) {
      RegionQuery q;
      q.region = region;
      q.mode = mode;
      q.group_by = group;
      auto got = view->RegionAggregate(q);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->dataset_version, view->dataset_version());
      EXPECT_EQ(got->version, view->version());
      for (size_t j = 0; j < want.total.size(); ++j)
        ASSERT_NEAR(got.value().total[j], want.total[j], tol * std::max(1.0, want.total[j]) + slack)
            << what << " mode " << RegionModeName(mode) << " metric " << j;
      // Whole counts are exact integers; area-weighted answers have none.
      if (mode == RegionMode::kAreaWeighted) {
        EXPECT_TRUE(got->counts.empty());
      } else {
        ASSERT_EQ(got->counts.size(), want.total.size());
        for (size_t j = 0; j < want.total.size(); ++j)
          EXPECT_EQ(got->counts[j], static_cast<int64_t>(want.total[j])) << what << " metric " << j;
      }
      if (!group) continue;
      std::map<int32_t, std::vector<double>> rows;
      for (const auto& r : got.value().rows) rows[r.node.value] = r.values;
      for (const auto& [node, values] : want.rows) {
        ASSERT_TRUE(rows.count(node)) << what << " missing row " << view->id(NodeId(node));
        for (size_t j = 0; j < values.size(); ++j)
          ASSERT_NEAR(rows[node][j], values[j], tol * std::max(1.0, values[j]) + slack)
              << what << " row " << view->id(NodeId(node));
      }
      // Area-weighted rows may include slivers the oracle rounds to zero.
      if (mode != RegionMode::kAreaWeighted) {
        EXPECT_EQ(rows.size(), want.rows.size()) << what;
      }
    }
  }
}

TEST(Region, CirclesOfEverySize) {
  std::mt19937_64 rng(21);
  std::normal_distribution<double> cx(113.05, 0.08), cy(22.5, 0.08);
  for (double r : {200.0, 2000.0, 20000.0}) {
    for (int k = 0; k < 2; ++k) {
      const Region c = CircleRegion(cx(rng), cy(rng), r);
      Compare(c, ("circle r=" + std::to_string(r)).c_str());
    }
  }
}

TEST(Region, BoxesOfEverySize) {
  std::mt19937_64 rng(22);
  std::uniform_real_distribution<double> x(112.3, 113.2), y(21.9, 22.8);
  for (double size : {0.005, 0.05, 0.4}) {
    const double x0 = x(rng), y0 = y(rng);
    Compare(BoxRegion(x0, y0, x0 + size, y0 + size * 0.8), ("box " + std::to_string(size)).c_str());
  }
}

// A region drawn from the leaves' own vertices (a town's outline) runs along
// its border leaves: contained counts them (boundary included), and
// intersecting also counts the neighbours that touch it.
TEST(Region, OutlinesOfTownsCountTheLeavesAlongTheirBorders) {
  const Engine& engine = *SharedJiangmen().engine;
  auto view = engine.Read();
  const Dataset& ds = view->dataset();
  std::vector<size_t> towns;
  for (size_t k = 0; k < ds.node_count(); ++k)
    if (ds.levels[k] == Level::kTown && !ds.inner_geometry.empty(k)) towns.push_back(k);
  ASSERT_GE(towns.size(), 30u);
  int checked = 0;
  for (size_t k : {towns[0], towns[towns.size() / 2], towns[towns.size() - 1]}) {
    auto region = PolygonRegion(ds.inner_geometry.Get(k));
    ASSERT_TRUE(region.ok()) << region.status().ToString();
    Compare(*region, ("outline of town " + std::string(ds.ids[k])).c_str());
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(Region, PolygonsWithHoles) {
  // A star-shaped polygon with a hole, and a WKT multipolygon.
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> jitter(0.6, 1.0);
  index::MultiPolygon star;
  star.parts.emplace_back();
  index::Ring outer, hole;
  const double cx = 113.0, cy = 22.5, r = 0.06;
  for (int i = 0; i < 40; ++i) {
    const double a = 2 * M_PI * i / 40, rr = r * jitter(rng);
    outer.push_back({cx + rr * std::cos(a), cy + rr * std::sin(a)});
  }
  for (int i = 0; i < 12; ++i) {
    const double a = -2 * M_PI * i / 12;
    hole.push_back({cx + 0.015 * std::cos(a), cy + 0.015 * std::sin(a)});
  }
  star.parts[0].rings = {outer, hole};
  auto polygon = PolygonRegion(star);
  ASSERT_TRUE(polygon.ok()) << polygon.status().ToString();
  Compare(polygon.value(), "star with hole");
  auto wkt = ParseRegionWkt(
      "MULTIPOLYGON(((112.70 22.30, 112.80 22.30, 112.80 22.40, 112.70 22.40, 112.70 22.30)),"
      "((112.9 22.6, 112.95 22.6, 112.92 22.66, 112.9 22.6)))");
  ASSERT_TRUE(wkt.ok()) << wkt.status().ToString();
  Compare(wkt.value(), "wkt multipolygon");
}

TEST(Region, ParsersRejectBadInputClearly) {
  EXPECT_FALSE(ParseRegionWkt("POINT(1 2)").ok());
  auto r = ParseRegionWkt("POLYGON((1 2, 3 4, 5))");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("character"), std::string::npos);
  EXPECT_FALSE(ParseRegionGeoJson("{\"type\":\"Point\",\"coordinates\":[1,2]}").ok());
  EXPECT_TRUE(ParseRegionGeoJson(
                  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[113,22.5],[113.1,22.5],[113.1,22.6],[113,22.5]]]}}")
                  .ok());
  // Found by the geojson fuzzer: a Feature without "geometry" threw out of
  // the parser (tests/fuzz/regressions/geojson).
  auto no_geometry = ParseRegionGeoJson("{\"type\":\"Feature\",\"properties\":{}}");
  ASSERT_FALSE(no_geometry.ok());
  EXPECT_NE(no_geometry.status().message().find("without \"geometry\""), std::string::npos)
      << no_geometry.status().message();
  RegionQuery q;
  q.region = CircleRegion(113, 22.5, -5);
  auto bad = SharedJiangmen().engine->Read()->RegionAggregate(q);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("radius_m"), std::string::npos);
  // A ring that encloses nothing is refused when the region is built.
  index::MultiPolygon flat;
  flat.parts.emplace_back();
  flat.parts[0].rings = {{{113, 22.5}, {113.1, 22.5}, {113.2, 22.5}}};
  auto none = PolygonRegion(flat);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("encloses no area"), std::string::npos) << none.status().message();
}

TEST(Region, WholeCityBoxEqualsTheRootTotals) {
  const Engine& engine = *SharedJiangmen().engine;
  auto view = engine.Read();
  RegionQuery q;
  q.region = BoxRegion(100, 10, 120, 30);
  q.mode = RegionMode::kContained;
  q.group_by = Level::kCounty;
  auto got = view->RegionAggregate(q);
  ASSERT_TRUE(got.ok());
  int64_t all = 0;
  for (size_t l = 0; l < view->dataset().leaf_count(); ++l) all += view->dataset().leaf_metrics[l * view->dataset().metric_count()];
  EXPECT_EQ(got.value().counts[0], all);
  EXPECT_EQ(got.value().rows.size(), 7u);
  EXPECT_EQ(got.value().leaves, static_cast<int64_t>(view->dataset().leaf_count()));
}

}  // namespace
