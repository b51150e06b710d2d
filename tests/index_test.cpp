// PolygonIndex against independent oracles: Boost.Geometry covered_by over
// every polygon, and single-polygon indexes to check that every point of a
// partition belongs to exactly one polygon (shared edges and vertices too).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "gridtree/index/polygon_index.h"

namespace bg = boost::geometry;
using gridtree::index::MultiPolygon;
using gridtree::index::Point;
using gridtree::index::Polygon;
using gridtree::index::PolygonIndex;
using gridtree::index::Ring;

namespace {

using BPoint = bg::model::d2::point_xy<double>;
using BPolygon = bg::model::polygon<BPoint, /*clockwise=*/false, /*closed=*/false>;

// A jittered lattice of quads sharing vertices exactly: cell (i, j) is one
// polygon; a few cells are merged into two-part polygons and one cell gets
// a hole filled by its own polygon.
struct Partition {
  std::vector<MultiPolygon> polygons;
  std::vector<Point> vertices;  // lattice vertices (shared by up to four cells)
  int n = 0;
};

Partition MakePartition(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(-0.3, 0.3);
  Partition p;
  p.n = n;
  std::vector<Point> v((n + 1) * (n + 1));
  for (int j = 0; j <= n; ++j)
    for (int i = 0; i <= n; ++i) {
      const bool border = i == 0 || j == 0 || i == n || j == n;
      v[j * (n + 1) + i] = {112.0 + (i + (border ? 0 : jitter(rng))) * 0.01,
                            22.0 + (j + (border ? 0 : jitter(rng))) * 0.01};
    }
  p.vertices = v;
  auto at = [&](int i, int j) { return v[j * (n + 1) + i]; };
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      Ring r{at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)};  // counter-clockwise
      p.polygons.push_back(MultiPolygon{{Polygon{{r}}}});
    }
  // Cell (1,1) gets a diamond hole filled by a new polygon.
  MultiPolygon& holed = p.polygons[1 * n + 1];
  const Point c{(at(1, 1).x + at(2, 2).x) / 2, (at(1, 1).y + at(2, 2).y) / 2};
  const double d = 0.001;
  Ring hole{{c.x, c.y - d}, {c.x - d, c.y}, {c.x, c.y + d}, {c.x + d, c.y}};  // clockwise
  holed.parts[0].rings.push_back(hole);
  Ring filler{{c.x, c.y - d}, {c.x + d, c.y}, {c.x, c.y + d}, {c.x - d, c.y}};
  p.polygons.push_back(MultiPolygon{{Polygon{{filler}}}});
  // Merge cell (3,3) into cell (5,5): one polygon with two parts (an island).
  p.polygons[5 * n + 5].parts.push_back(p.polygons[3 * n + 3].parts[0]);
  p.polygons[3 * n + 3].parts.clear();
  return p;
}

std::vector<int> OracleCovering(const std::vector<MultiPolygon>& polys, Point q) {
  std::vector<int> hits;
  for (size_t i = 0; i < polys.size(); ++i)
    for (const Polygon& part : polys[i].parts) {
      BPolygon bp;
      for (const Point& x : part.rings[0]) bp.outer().push_back(BPoint(x.x, x.y));
      for (size_t r = 1; r < part.rings.size(); ++r) {
        bp.inners().emplace_back();
        for (const Point& x : part.rings[r]) bp.inners().back().push_back(BPoint(x.x, x.y));
      }
      if (bg::covered_by(BPoint(q.x, q.y), bp)) {
        hits.push_back(static_cast<int>(i));
        break;
      }
    }
  return hits;
}

class PartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    part_ = MakePartition(12, 7);
    index_ = PolygonIndex::Build(part_.polygons);
    for (const auto& mp : part_.polygons) singles_.push_back(PolygonIndex::Build({mp}));
  }
  // How many polygons claim the point, each asked alone.
  int Claims(Point q) const {
    int n = 0;
    for (const auto& s : singles_) n += s->Locate(q) == 0;
    return n;
  }
  Partition part_;
  std::unique_ptr<PolygonIndex> index_;
  std::vector<std::unique_ptr<PolygonIndex>> singles_;
};

TEST_F(PartitionTest, MatchesCoveredByOracleOnRandomPoints) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> ux(111.99, 112.13), uy(21.99, 22.13);
  int single = 0, shared = 0;
  for (int k = 0; k < 20000; ++k) {
    const Point q{ux(rng), uy(rng)};
    const std::vector<int> oracle = OracleCovering(part_.polygons, q);
    const int32_t got = index_->Locate(q);
    ASSERT_EQ(got, index_->LocateBruteForce(q)) << q.x << "," << q.y;
    if (oracle.size() == 1) {
      ++single;
      ASSERT_EQ(got, oracle[0]) << q.x << "," << q.y;
    } else if (oracle.empty()) {
      ASSERT_EQ(got, -1) << q.x << "," << q.y;
    } else {
      ++shared;
      ASSERT_NE(std::find(oracle.begin(), oracle.end(), got), oracle.end());
    }
  }
  EXPECT_GT(single, 10000);
}

TEST_F(PartitionTest, EverySharedVertexAndEdgePointHasExactlyOneOwner) {
  const int n = part_.n;
  for (int j = 1; j < n; ++j)
    for (int i = 1; i < n; ++i) {
      const Point v = part_.vertices[j * (n + 1) + i];
      ASSERT_EQ(Claims(v), 1) << "vertex " << i << "," << j;
      const int32_t got = index_->Locate(v);
      const std::vector<int> oracle = OracleCovering(part_.polygons, v);
      ASSERT_NE(std::find(oracle.begin(), oracle.end(), got), oracle.end());
      // Points on the shared edge to the right neighbour, at several fractions.
      const Point w = part_.vertices[j * (n + 1) + i + 1];
      for (double t : {0.25, 0.5, 0.75}) {
        const Point e{v.x + t * (w.x - v.x), v.y + t * (w.y - v.y)};
        ASSERT_EQ(Claims(e), 1) << "edge point " << i << "," << j << " t=" << t;
        ASSERT_EQ(index_->Locate(e), index_->LocateBruteForce(e));
      }
    }
}

TEST_F(PartitionTest, HolesAndIslands) {
  const int n = part_.n;
  const int32_t filler = static_cast<int32_t>(part_.polygons.size() - 1);
  const Point hole_centre{(part_.vertices[1 * (n + 1) + 1].x + part_.vertices[2 * (n + 1) + 2].x) / 2,
                          (part_.vertices[1 * (n + 1) + 1].y + part_.vertices[2 * (n + 1) + 2].y) / 2};
  EXPECT_EQ(index_->Locate(hole_centre), filler);
  EXPECT_EQ(Claims(hole_centre), 1);
  // The island part of polygon (5,5) sits where cell (3,3) was.
  const Point island{(part_.vertices[3 * (n + 1) + 3].x + part_.vertices[4 * (n + 1) + 4].x) / 2,
                     (part_.vertices[3 * (n + 1) + 3].y + part_.vertices[4 * (n + 1) + 4].y) / 2};
  EXPECT_EQ(index_->Locate(island), 5 * n + 5);
  EXPECT_EQ(index_->Locate(Point{112.0, 22.0}), 0);  // outer corner: south-west corner belongs to cell 0
}

TEST_F(PartitionTest, OutsideNonFiniteAndRepeatedPoints) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(index_->Locate({nan, 22.05}), -1);
  EXPECT_EQ(index_->Locate({112.05, inf}), -1);
  EXPECT_EQ(index_->Locate({-inf, -inf}), -1);
  EXPECT_EQ(index_->Locate({0, 0}), -1);
  EXPECT_EQ(index_->Locate({112.2, 22.05}), -1);
  // Outer boundary: the east and north edges of the partition are outside
  // (half-open rule), the west and south edges inside.
  EXPECT_EQ(index_->Locate({112.12, 22.055}), -1);
  EXPECT_GE(index_->Locate({112.0, 22.055}), 0);
  const Point q{112.0517, 22.0733};
  const int32_t first = index_->Locate(q);
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(index_->Locate(q), first);
}

TEST_F(PartitionTest, SnapsToTheNearestPolygonWithinTheDistance) {
  const Point outside{112.0 - 0.0005, 22.055};  // about 52 m west of the west edge
  EXPECT_EQ(index_->Locate(outside), -1);
  auto near = index_->NearestWithin(outside, 100);
  ASSERT_TRUE(near.has_value());
  EXPECT_NEAR(near->distance_m, 0.0005 * 103200, 2.0);  // metres per degree of longitude at 22°N
  EXPECT_EQ(near->polygon, index_->Locate({112.0, 22.055}));
  EXPECT_FALSE(index_->NearestWithin(outside, 10).has_value());
}

TEST(PolygonIndex, ExactOnNearlyCollinearPoints) {
  // A thin sliver split by a diagonal: points on the diagonal computed in
  // floating point sit within an ulp of it; each must still have exactly one
  // owner.
  Ring lower{{0.1, 0.1}, {0.7, 0.1}, {0.7, 0.3}};
  Ring upper{{0.1, 0.1}, {0.7, 0.3}, {0.1, 0.3}};
  std::vector<MultiPolygon> polys{MultiPolygon{{Polygon{{lower}}}}, MultiPolygon{{Polygon{{upper}}}}};
  auto both = PolygonIndex::Build(polys);
  auto a = PolygonIndex::Build({polys[0]});
  auto b = PolygonIndex::Build({polys[1]});
  for (int k = 1; k < 1000; ++k) {
    const double t = k / 1000.0;
    const Point q{0.1 + t * 0.6, 0.1 + t * 0.2};
    ASSERT_EQ((a->Locate(q) == 0) + (b->Locate(q) == 0), 1) << k;
    ASSERT_NE(both->Locate(q), -1);
  }
}

// Found by the wkt fuzzer: a long, thin region (a ring 140 degrees wide
// and a millionth of a degree high) sized its lookup grid by area alone and
// got tens of millions of cells (seconds and 100 MB per query). The grid
// stays near the target count along each side; answers stay exact.
TEST(PolygonIndex, ALongThinPolygonGetsASmallGrid) {
  Ring sliver{{12.0, 22.0}, {152.0, 22.0}, {152.0, 22.000001}, {12.0, 22.000001}};
  const std::vector<MultiPolygon> polys{MultiPolygon{{Polygon{{sliver}}}}};
  auto index = PolygonIndex::Build(polys);
  const gridtree::index::IndexStats stats = index->stats();
  EXPECT_LE(stats.grid_cells, int64_t{4} * 4 * 4) << stats.grid_cells;  // cells_per_edge x edges, per side
  for (int k = 0; k <= 1000; ++k) {
    const Point q{12.07 + 0.139 * k, k % 3 == 0 ? 22.0000005 : (k % 3 == 1 ? 22.0000015 : 21.9999995)};
    const bool inside = !OracleCovering(polys, q).empty();
    ASSERT_EQ(index->Locate(q) == 0, inside) << k;
  }
}

// A malformed "hole" that reaches past its outer ring (as a user's region
// polygon may): the build must stay within its arrays (ASan) and the grid
// must answer like the brute-force crossing test, on 1 and on 4 threads.
TEST(PolygonIndex, HoleReachingPastTheOuterRing) {
  Ring outer{{0, 0}, {1, 0}, {1, 1}, {0, 1}};
  Ring hole{{0.4, 0.4}, {0.4, 1.6}, {0.6, 1.6}, {0.6, 0.4}};
  Ring other{{2, 0}, {3, 0}, {3, 3}, {2, 3}};
  std::vector<MultiPolygon> polys{MultiPolygon{{Polygon{{outer, hole}}}}, MultiPolygon{{Polygon{{other}}}}};
  for (int threads : {1, 4}) {
    gridtree::index::PolygonIndexOptions options;
    options.threads = threads;
    options.cells_per_edge = 64;  // small cells, so that the hole crosses many rows
    auto idx = PolygonIndex::Build(polys, options);
    for (int i = 0; i <= 60; ++i)
      for (int j = 0; j <= 40; ++j) {
        const Point p{-0.2 + i * 0.057, -0.2 + j * 0.049};
        ASSERT_EQ(idx->Locate(p), idx->LocateBruteForce(p)) << threads << " " << p.x << "," << p.y;
      }
  }
}

}  // namespace

// The index's 32-bit limits come back as an error, not an exception: a grid
// asked for far more than 2^32 cells is refused before it is allocated.
TEST(PolygonIndex, AGridPastItsLimitIsAnErrorNotAnException) {
  std::vector<MultiPolygon> polys{MultiPolygon{{Polygon{{Ring{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}}}}};
  gridtree::index::PolygonIndexOptions options;
  options.cells_per_edge = 1e10;
  options.max_cells = int64_t{1} << 40;
  std::string error;
  std::unique_ptr<PolygonIndex> index;
  EXPECT_NO_THROW(index = PolygonIndex::Build(polys, options, &error));
  EXPECT_EQ(index, nullptr);
  EXPECT_NE(error.find("lookup grid too large"), std::string::npos) << error;
  // Within the limits the same call builds, and leaves the error alone.
  options.cells_per_edge = 4;
  std::string untouched = "unchanged";
  index = PolygonIndex::Build(polys, options, &untouched);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(untouched, "unchanged");
  EXPECT_EQ(index->Locate({0.5, 0.5}), 0);
}
