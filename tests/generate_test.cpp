// Tests of the dataset generator (generate/src): calibration counts and
// totals, determinism, and that the leaves tile the published city without
// gaps or overlaps (brute-force even-odd point tests, and GEOS areas).
#include "gridtree/generate/generate.h"

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"

#include <geos_c.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "split_mix.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#ifndef GRIDTREE_DATA_ROOT
#error "GRIDTREE_DATA_ROOT (the data folder, a string literal) must be defined for this test"
#endif

namespace gridtree {
namespace {

namespace fs = std::filesystem;
using Ring = std::vector<std::array<double, 2>>;

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / ("gridtree_generate_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Feature {
  std::string id, parent, level, name, kind;
  bool has_metrics = false;
  std::map<std::string, int64_t> metrics;
  std::vector<std::vector<Ring>> polygons;  // empty: null geometry
};

std::vector<Ring> ReadPolygon(simdjson::dom::array rings) {
  std::vector<Ring> out;
  for (simdjson::dom::element r : rings) {
    Ring ring;
    for (simdjson::dom::element pt : r.get_array()) {
      simdjson::dom::array xy = pt.get_array();
      ring.push_back({double(xy.at(0)), double(xy.at(1))});
    }
    out.push_back(std::move(ring));
  }
  return out;
}

Feature ParseFeature(simdjson::dom::element f) {
  Feature out;
  out.id = std::string(std::string_view(f["id"]));
  simdjson::dom::element props = f["properties"];
  std::string_view sv;
  if (!props["parent"].get(sv)) out.parent = std::string(sv);
  out.level = std::string(std::string_view(props["level"]));
  out.name = std::string(std::string_view(props["name"]));
  if (!props["kind"].get(sv)) out.kind = std::string(sv);
  simdjson::dom::object metrics;
  if (!props["metrics"].get(metrics)) {
    out.has_metrics = true;
    for (auto [k, v] : metrics) out.metrics[std::string(k)] = int64_t(v);
  }
  simdjson::dom::element g = f["geometry"];
  if (!g.is_null()) {
    std::string_view type = g["type"];
    if (type == "Polygon") {
      out.polygons.push_back(ReadPolygon(g["coordinates"]));
    } else {
      for (simdjson::dom::element p : g["coordinates"].get_array()) out.polygons.push_back(ReadPolygon(p));
    }
  }
  return out;
}

std::vector<Feature> ParseCollection(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(path);
  std::vector<Feature> out;
  for (simdjson::dom::element f : doc["features"].get_array()) out.push_back(ParseFeature(f));
  return out;
}

double SignedArea(const Ring& r) {
  double a = 0;
  for (size_t k = 0; k + 1 < r.size(); ++k) a += r[k][0] * r[k + 1][1] - r[k + 1][0] * r[k][1];
  return a / 2;
}

bool EvenOdd(const std::vector<Ring>& rings, double x, double y) {
  bool in = false;
  for (const Ring& r : rings) {
    for (size_t k = 0, m = r.size() - 1; k < r.size(); m = k++) {
      if ((r[k][1] > y) != (r[m][1] > y) &&
          x < r[k][0] + (y - r[k][1]) * (r[m][0] - r[k][0]) / (r[m][1] - r[k][1]))
        in = !in;
    }
  }
  return in;
}

using testing::SplitMix;

GenerateOptions JiangmenOptions(const std::string& out, uint64_t seed = 1) {
  GenerateOptions o;
  o.data_root = GRIDTREE_DATA_ROOT;
  o.out_path = out;
  o.seed = seed;
  return o;
}

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(TempPath("seed1.geojson"));
    auto r = Generate(JiangmenOptions(*path_));
    ASSERT_TRUE(r.ok()) << r.status().message();
    summary_ = new GenerateSummary(r.value());
    features_ = new std::vector<Feature>(ParseCollection(*path_));
  }
  static void TearDownTestSuite() {
    fs::remove(*path_);
    delete path_;
    delete summary_;
    delete features_;
  }
  static std::string* path_;
  static GenerateSummary* summary_;
  static std::vector<Feature>* features_;
};
std::string* GenerateTest::path_ = nullptr;
GenerateSummary* GenerateTest::summary_ = nullptr;
std::vector<Feature>* GenerateTest::features_ = nullptr;

TEST_F(GenerateTest, CountsMatchCalibration) {
  const auto& fs = *features_;
  std::map<std::string, int64_t> per_level;
  std::unordered_map<std::string, const Feature*> by_id;
  std::unordered_map<std::string, std::vector<const Feature*>> children;
  for (const Feature& f : fs) {
    ++per_level[f.level];
    EXPECT_TRUE(by_id.emplace(f.id, &f).second) << "duplicate id " << f.id;
    if (!f.parent.empty()) {
      EXPECT_TRUE(by_id.count(f.parent)) << f.id << " comes before its parent " << f.parent;
      children[f.parent].push_back(&f);
    }
  }
  EXPECT_EQ(per_level["city"], 1);
  EXPECT_EQ(per_level["county"], 7);
  EXPECT_EQ(per_level["town"], 82);
  EXPECT_EQ(per_level["community"], 1348);
  EXPECT_EQ(per_level["grid"], 2954);
  EXPECT_EQ(summary_->counts_per_level[4], 2954);
  EXPECT_EQ(summary_->features, static_cast<int64_t>(fs.size()));

  int64_t pengjiang_grids = 0, park = 0, sea = 0, grids_without_micro = 0, grids_3_to_8 = 0;
  for (const Feature& f : fs) {
    if (f.level == "community") {
      EXPECT_GE(children[f.id].size(), 1u) << f.id << " has no grid";
    }
    if (f.level != "grid") continue;
    if (f.id.rfind("440703", 0) == 0) ++pengjiang_grids;
    park += f.kind == "park";
    sea += f.kind == "sea";
    size_t n = children[f.id].size();
    grids_without_micro += n == 0;
    grids_3_to_8 += n >= 3 && n <= 8;
    for (const Feature* m : children[f.id]) EXPECT_EQ(m->kind, f.kind) << m->id;
    EXPECT_EQ(f.name, by_id[f.parent]->name + "第" + std::to_string(std::stoi(f.id.substr(12))) + "网格");
  }
  EXPECT_EQ(pengjiang_grids, 409);
  EXPECT_EQ(park, 821);
  EXPECT_GE(sea, 1);
  EXPECT_GT(grids_without_micro, 2954 * 5 / 100);
  EXPECT_LT(grids_without_micro, 2954 * 15 / 100);
  EXPECT_GT(grids_3_to_8, 2954 * 80 / 100);

  const auto& cg = children["440703006117"];
  ASSERT_EQ(cg.size(), 4u);
  size_t cg_micro = 0;
  for (const Feature* g : cg) cg_micro += children[g->id].size();
  EXPECT_EQ(cg_micro, 19u);
  EXPECT_EQ(by_id["440703006117"]->name, "碧桂园社区居委会");
}

TEST_F(GenerateTest, MetricTotals) {
  std::map<std::string, int64_t> total;
  int64_t leaves = 0;
  std::unordered_map<std::string, int64_t> staff_per_grid;
  for (const Feature& f : *features_) {
    bool is_leaf = f.level == "micro_grid" || (f.level == "grid" && f.has_metrics);
    EXPECT_EQ(f.has_metrics, is_leaf) << f.id;
    if (!f.has_metrics) continue;
    ++leaves;
    for (const char* m : {"population", "households", "buildings", "schools", "markets", "grid_staff", "fishermen",
                          "fishing_boats"}) {
      ASSERT_TRUE(f.metrics.count(m)) << f.id << " lacks " << m;
      EXPECT_GE(f.metrics.at(m), 0);
      total[m] += f.metrics.at(m);
    }
    staff_per_grid[f.id.substr(0, 15)] += f.metrics.at("grid_staff");
    if (f.metrics.at("fishermen") > 0) {
      EXPECT_EQ(f.kind, "sea") << f.id;
    }
  }
  EXPECT_EQ(leaves, summary_->leaves);
  EXPECT_EQ(total["population"], 4798090);
  EXPECT_EQ(summary_->population, 4798090);
  EXPECT_NEAR(total["households"], 4798090 / 2.8, 2);
  EXPECT_GT(total["buildings"], total["households"] / 8);
  EXPECT_LT(total["buildings"], total["households"] / 3);
  EXPECT_NEAR(total["schools"], 1600, 50);
  EXPECT_NEAR(total["markets"], 960, 50);
  EXPECT_EQ(total["grid_staff"], 3770);
  EXPECT_EQ(total["fishermen"], 4975);
  EXPECT_EQ(total["fishing_boats"], 262);
  EXPECT_EQ(staff_per_grid.size(), 2954u);
  for (const auto& [g, n] : staff_per_grid) EXPECT_GE(n, 1) << g;
}

TEST_F(GenerateTest, GeometryIsExactAndOriented) {
  // Traced vertices lie on the half-pixel lattice, those made by fitting the
  // county borders on the 2^-30 degree lattice; both are exact in a double.
  const double kLatticeScale = 0x1.0p30;
  for (const Feature& f : *features_) {
    if (f.level == "city") {
      EXPECT_TRUE(f.polygons.empty());
      continue;
    }
    ASSERT_FALSE(f.polygons.empty()) << f.id << " has no geometry";
    for (const auto& poly : f.polygons) {
      for (size_t r = 0; r < poly.size(); ++r) {
        const Ring& ring = poly[r];
        ASSERT_GE(ring.size(), 4u) << f.id;
        EXPECT_EQ(ring.front(), ring.back()) << f.id << " ring not closed";
        if (f.level == "county") continue;  // published geometry, copied as is
        EXPECT_EQ(SignedArea(ring) > 0, r == 0) << f.id << " ring " << r << " has the wrong orientation";
        for (const auto& pt : ring) {
          EXPECT_EQ(pt[0] * kLatticeScale, std::round(pt[0] * kLatticeScale)) << f.id << ": vertex not on the 2^-30 lattice";
          EXPECT_EQ(pt[1] * kLatticeScale, std::round(pt[1] * kLatticeScale)) << f.id;
        }
      }
    }
  }
  // Taishan keeps its 41 published parts and gains the sea area.
  for (const Feature& f : *features_)
    if (f.id == "440781") {
      EXPECT_GE(f.polygons.size(), 42u);
    }
}

TEST_F(GenerateTest, RandomPointsFallInExactlyOneLeaf) {
  struct Leaf {
    const Feature* f;
    double minx, miny, maxx, maxy;
  };
  std::vector<Leaf> leaves;
  std::vector<std::array<double, 2>> vertices;
  std::vector<std::vector<Ring>> counties;
  double minx = 1e9, miny = 1e9, maxx = -1e9, maxy = -1e9;
  for (const Feature& f : *features_) {
    if (f.level == "county") {
      std::vector<Ring> all;
      for (const auto& poly : f.polygons)
        for (const Ring& r : poly) all.push_back(r);
      counties.push_back(std::move(all));
    }
    if (!f.has_metrics) continue;
    Leaf l{&f, 1e9, 1e9, -1e9, -1e9};
    for (const auto& poly : f.polygons)
      for (const Ring& r : poly)
        for (const auto& pt : r) {
          l.minx = std::min(l.minx, pt[0]);
          l.miny = std::min(l.miny, pt[1]);
          l.maxx = std::max(l.maxx, pt[0]);
          l.maxy = std::max(l.maxy, pt[1]);
          vertices.push_back(pt);
        }
    minx = std::min(minx, l.minx);
    miny = std::min(miny, l.miny);
    maxx = std::max(maxx, l.maxx);
    maxy = std::max(maxy, l.maxy);
    leaves.push_back(l);
  }
  auto count_hits = [&](double x, double y) {
    int hits = 0;
    for (const Leaf& l : leaves) {
      if (x < l.minx || x > l.maxx || y < l.miny || y > l.maxy) continue;
      for (const auto& poly : l.f->polygons) hits += EvenOdd(poly, x, y);
    }
    return hits;
  };
  SplitMix rng{12345};
  int checked_inside = 0;
  for (int k = 0; k < 2500; ++k) {
    double x = minx + rng.Uniform() * (maxx - minx), y = miny + rng.Uniform() * (maxy - miny);
    int hits = count_hits(x, y);
    ASSERT_LE(hits, 1) << "overlapping leaves at " << x << "," << y;
    bool in_county = false;
    for (const auto& c : counties) in_county |= EvenOdd(c, x, y);
    if (!in_county) continue;
    ++checked_inside;
    EXPECT_EQ(hits, 1) << "gap at " << x << "," << y;
  }
  EXPECT_GT(checked_inside, 500);
  // Points just next to shared vertices: never in two leaves.
  for (int k = 0; k < 2000; ++k) {
    const auto& v = vertices[static_cast<size_t>(rng.Uniform() * vertices.size())];
    double x = v[0] + (rng.Uniform() - 0.5) * 1e-5, y = v[1] + (rng.Uniform() - 0.5) * 1e-5;
    ASSERT_LE(count_hits(x, y), 1) << "overlapping leaves near " << v[0] << "," << v[1];
  }
}

// The published counties of boundary files, in file order (the first that
// holds a point owns it), as one even-odd point test fast enough for a
// million points: edges bucketed by horizontal band.
class PublishedCounties {
 public:
  // `keep`, when given, chooses the counties by id.
  explicit PublishedCounties(const std::vector<std::string>& paths,
                             const std::function<bool(const std::string&)>& keep = {}) {
    simdjson::dom::parser parser;
    for (const std::string& path : paths) {
      for (simdjson::dom::element f : parser.load(path)["features"].get_array()) {
        const std::string id{std::string_view(f["id"])};
        if (keep && !keep(id)) continue;
        ReadCounty(id, f["geometry"]);
      }
    }
    for (const auto& county : rings)
      for (const Ring& r : county)
        for (const auto& pt : r) {
          minx = std::min(minx, pt[0]);
          maxx = std::max(maxx, pt[0]);
          miny = std::min(miny, pt[1]);
          maxy = std::max(maxy, pt[1]);
        }
    bands_.resize(kBands);
    for (size_t c = 0; c < rings.size(); ++c)
      for (const Ring& r : rings[c])
        for (size_t k = 0, m = r.size() - 1; k < r.size(); m = k++) {
          const double lo = std::min(r[k][1], r[m][1]), hi = std::max(r[k][1], r[m][1]);
          for (int b = Band(lo); b <= Band(hi); ++b) bands_[b].push_back({r[m], r[k], static_cast<int>(c)});
        }
  }
  // The index of the first county whose rings hold (x, y), -1 if none.
  int Owner(double x, double y) const {
    if (y < miny || y > maxy) return -1;
    std::vector<bool> in(rings.size(), false);
    for (const Edge& e : bands_[Band(y)])
      if ((e.b[1] > y) != (e.a[1] > y) && x < e.b[0] + (y - e.b[1]) * (e.a[0] - e.b[0]) / (e.a[1] - e.b[1]))
        in[e.county] = !in[e.county];
    for (size_t c = 0; c < in.size(); ++c)
      if (in[c]) return static_cast<int>(c);
    return -1;
  }

  std::vector<std::string> ids;
  std::vector<std::vector<Ring>> rings;  // all rings of all parts, per county
  double minx = 1e300, miny = 1e300, maxx = -1e300, maxy = -1e300;

 private:
  static constexpr int kBands = 4096;
  struct Edge {
    std::array<double, 2> a, b;
    int county;
  };
  void ReadCounty(const std::string& id, simdjson::dom::element g) {
    ids.push_back(id);
    rings.emplace_back();
    std::vector<std::vector<Ring>> parts;
    if (std::string_view(g["type"]) == "Polygon") {
      parts.push_back(ReadPolygon(g["coordinates"]));
    } else {
      for (simdjson::dom::element p : g["coordinates"].get_array()) parts.push_back(ReadPolygon(p));
    }
    for (auto& poly : parts)
      for (Ring& r : poly) rings.back().push_back(std::move(r));
  }
  int Band(double y) const {
    return std::clamp(static_cast<int>((y - miny) / (maxy - miny) * kBands), 0, kBands - 1);
  }
  std::vector<std::vector<Edge>> bands_;
};

// Areas computed by GEOS, independently of the generator's own fitting.
class GeosAreas {
 public:
  GeosAreas() : h_(GEOS_init_r()) {}
  GeosAreas(const GeosAreas&) = delete;
  GeosAreas& operator=(const GeosAreas&) = delete;
  ~GeosAreas() {
    for (GEOSGeometry* g : owned_) GEOSGeom_destroy_r(h_, g);
    GEOS_finish_r(h_);
  }
  // One polygon: the first ring outer, the others holes.
  GEOSGeometry* Polygon(const std::vector<Ring>& poly) {
    std::vector<GEOSGeometry*> holes;
    for (size_t r = 1; r < poly.size(); ++r) holes.push_back(LinearRing(poly[r]));
    return GEOSGeom_createPolygon_r(h_, LinearRing(poly[0]), holes.data(), static_cast<unsigned>(holes.size()));
  }
  // The even-odd area of rings that may cross or touch themselves: the
  // symmetric difference of every ring's own (made valid) interior.
  GEOSGeometry* EvenOdd(const std::vector<Ring>& rings) {
    GEOSGeometry* acc = nullptr;
    for (const Ring& r : rings) {
      GEOSGeometry* raw = Polygon({r});
      GEOSGeometry* valid = GEOSMakeValid_r(h_, raw);
      GEOSGeom_destroy_r(h_, raw);
      GEOSGeometry* areal = Areal(valid);
      if (!acc) {
        acc = areal;
        continue;
      }
      GEOSGeometry* x = GEOSSymDifference_r(h_, acc, areal);
      GEOSGeom_destroy_r(h_, acc);
      GEOSGeom_destroy_r(h_, areal);
      acc = x;
    }
    return acc;
  }
  GEOSGeometry* Union(std::vector<GEOSGeometry*> parts) {
    GEOSGeometry* coll = GEOSGeom_createCollection_r(h_, GEOS_GEOMETRYCOLLECTION, parts.data(),
                                                     static_cast<unsigned>(parts.size()));
    GEOSGeometry* u = GEOSUnaryUnion_r(h_, coll);
    GEOSGeom_destroy_r(h_, coll);
    return Own(u);
  }
  GEOSGeometry* Difference(const GEOSGeometry* a, const GEOSGeometry* b) { return Own(GEOSDifference_r(h_, a, b)); }
  double Area(const GEOSGeometry* g) {
    double a = 0;
    EXPECT_TRUE(g != nullptr && GEOSArea_r(h_, g, &a)) << "GEOS failed to measure an area";
    return a;
  }

 private:
  GEOSGeometry* LinearRing(const Ring& r) {
    GEOSCoordSequence* seq = GEOSCoordSeq_create_r(h_, static_cast<unsigned>(r.size()), 2);
    for (size_t k = 0; k < r.size(); ++k) GEOSCoordSeq_setXY_r(h_, seq, static_cast<unsigned>(k), r[k][0], r[k][1]);
    return GEOSGeom_createLinearRing_r(h_, seq);
  }
  // The polygons of what MakeValid returned (it may add lines and points).
  GEOSGeometry* Areal(GEOSGeometry* g) {
    std::vector<GEOSGeometry*> polys;
    for (int k = 0; k < GEOSGetNumGeometries_r(h_, g); ++k) {
      const GEOSGeometry* part = GEOSGetGeometryN_r(h_, g, k);
      const int type = GEOSGeomTypeId_r(h_, part);
      if (type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON) polys.push_back(GEOSGeom_clone_r(h_, part));
    }
    GEOSGeom_destroy_r(h_, g);
    GEOSGeometry* coll = GEOSGeom_createCollection_r(h_, GEOS_GEOMETRYCOLLECTION, polys.data(),
                                                     static_cast<unsigned>(polys.size()));
    GEOSGeometry* u = GEOSUnaryUnion_r(h_, coll);
    GEOSGeom_destroy_r(h_, coll);
    return u;
  }
  GEOSGeometry* Own(GEOSGeometry* g) {
    owned_.push_back(g);
    return g;
  }
  GEOSContextHandle_t h_;
  std::vector<GEOSGeometry*> owned_;
};

struct CoverageFigures {
  double city = 0, uncovered = 0, overlap = 0, beyond = 0;  // square degrees
};

// The published city (the union of the counties' even-odd areas) against the
// union of the leaves: the area no leaf covers, the area covered twice (sum of
// the leaves' areas minus the area of their union), and the leaves' area
// outside the city (the sea area).
CoverageFigures MeasureCoverage(const std::vector<Feature>& features, const PublishedCounties& counties) {
  GeosAreas geos;
  std::vector<GEOSGeometry*> county_areas;
  for (const auto& rings : counties.rings) county_areas.push_back(geos.EvenOdd(rings));
  const GEOSGeometry* city = geos.Union(county_areas);
  std::vector<GEOSGeometry*> leaves;
  double leaf_sum = 0;
  for (const Feature& f : features) {
    if (!f.has_metrics) continue;
    for (const auto& poly : f.polygons) {
      leaves.push_back(geos.Polygon(poly));
      leaf_sum += geos.Area(leaves.back());
    }
  }
  const GEOSGeometry* covered = geos.Union(leaves);
  CoverageFigures out;
  out.city = geos.Area(city);
  out.uncovered = geos.Area(geos.Difference(city, covered));

  out.overlap = leaf_sum - geos.Area(covered);
  out.beyond = geos.Area(geos.Difference(covered, city));
  return out;
}

// Square kilometres in a square degree near Jiangmen (22.3° N): enough for
// printing figures; the assertions compare square degrees.
double KmSquaredPerDegreeSquared() { return 111.32 * 111.32 * std::cos(22.3 * M_PI / 180); }

void PrintCoverage(const std::string& what, const CoverageFigures& c) {
  const double km2 = KmSquaredPerDegreeSquared();
  std::cout << what << ": city " << c.city * km2 << " km2, uncovered " << c.uncovered * km2 * 1e6 << " m2 ("
            << c.uncovered / c.city << " of the city), overlap " << c.overlap * km2 * 1e6 << " m2, leaves outside "
            << c.beyond * km2 << " km2\n";
}

TEST_F(GenerateTest, LeavesCoverThePublishedCityWithoutOverlap) {
  const PublishedCounties counties({std::string(GRIDTREE_DATA_ROOT) + "/jiangmen/counties.geojson"});
  const CoverageFigures c = MeasureCoverage(*features_, counties);
  PrintCoverage("Jiangmen", c);
  EXPECT_LE(c.uncovered, 1e-5 * c.city);
  EXPECT_LE(std::abs(c.overlap), 1e-12 * c.city);
  // Only the sea area (100 km²) lies outside the published counties.
  EXPECT_NEAR(c.beyond * KmSquaredPerDegreeSquared(), 100.0, 3.0);
}

// A million uniform points inside the published city: each is answered by a
// leaf (the engine's index), the leaf belongs to the county that owns the
// point (brute-force even-odd on the published file), and the leaf's own
// polygon holds it (brute-force even-odd on the written geometry).
TEST_F(GenerateTest, AMillionPointsInTheCityAllFindALeafOfTheirCounty) {
  const PublishedCounties counties({std::string(GRIDTREE_DATA_ROOT) + "/jiangmen/counties.geojson"});
  LoadResult loaded = LoadDataset(*path_);
  ASSERT_TRUE(loaded.dataset.has_value()) << loaded.report.ErrorSummary();
  auto engine = Engine::Create(std::move(*loaded.dataset));
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto view_ptr = (*engine)->Read();
  const View& view = *view_ptr;
  std::unordered_map<std::string, const Feature*> by_id;
  for (const Feature& f : *features_) by_id[f.id] = &f;
  SplitMix rng{2026};
  int inside = 0, missed = 0, wrong_county = 0, not_in_polygon = 0;
  std::string first_problem;
  while (inside < 1000000) {
    const double x = counties.minx + rng.Uniform() * (counties.maxx - counties.minx);
    const double y = counties.miny + rng.Uniform() * (counties.maxy - counties.miny);
    const int owner = counties.Owner(x, y);
    if (owner < 0) continue;
    ++inside;
    const LocateResult r = view.Locate({x, y});
    std::ostringstream where;
    where.precision(17);
    where << x << "," << y;
    if (!r.hit()) {
      if (!missed++) first_problem = "no leaf at " + where.str();
      continue;
    }
    NodeId county = r.node;
    while (view.Parent(county).valid() && view.level(county) != Level::kCounty) county = view.Parent(county);
    if (view.id(county) != counties.ids[owner]) {
      if (!wrong_county++) first_problem = "leaf of " + std::string(view.id(county)) + " at " + where.str();
      continue;
    }
    bool in_polygon = false;
    for (const auto& poly : by_id.at(std::string(view.id(r.node)))->polygons) in_polygon |= EvenOdd(poly, x, y);
    if (!in_polygon && !not_in_polygon++) first_problem = "outside leaf " + std::string(view.id(r.node)) + " at " + where.str();
  }
  EXPECT_EQ(missed, 0) << first_problem;
  EXPECT_EQ(wrong_county, 0) << first_problem;
  EXPECT_EQ(not_in_polygon, 0) << first_problem;
}

TEST(Generate, SameSeedSameBytesOtherSeedOtherBytes) {
  std::string a = TempPath("det_a.geojson"), b = TempPath("det_b.geojson"), c = TempPath("det_c.geojson");
  ASSERT_TRUE(Generate(JiangmenOptions(a, 7)).ok());
  ASSERT_TRUE(Generate(JiangmenOptions(b, 7)).ok());
  ASSERT_TRUE(Generate(JiangmenOptions(c, 8)).ok());
  std::string da = ReadAll(a), db = ReadAll(b), dc = ReadAll(c);
  EXPECT_GT(da.size(), 1000000u);
  EXPECT_TRUE(da == db) << "same seed, different output";
  EXPECT_FALSE(da == dc) << "different seeds, same output";
  fs::remove(a);
  fs::remove(b);
  fs::remove(c);
}

TEST(Generate, CopiesAsTextSequence) {
  std::string path = TempPath("copies.geojsonl");
  GenerateOptions o = JiangmenOptions(path);
  o.cities = 2;
  o.pixels_per_degree = 1024;
  o.inner_geometry = false;
  int progress_calls = 0;
  o.progress = [&](std::string_view, double f) {
    ++progress_calls;
    EXPECT_GE(f, 0.0);
    EXPECT_LE(f, 1.0);
  };
  auto r = Generate(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(progress_calls, 5);
  EXPECT_EQ(r->counts_per_level[0], 2);
  EXPECT_EQ(r->counts_per_level[1], 14);
  std::ifstream in(path);
  std::string line;
  int64_t lines = 0, copy2 = 0;
  simdjson::dom::parser parser;
  while (std::getline(in, line)) {
    ++lines;
    Feature f = ParseFeature(parser.parse(line));
    if (f.id.rfind("c2-", 0) == 0) {
      ++copy2;
      EXPECT_NE(f.name.find(" (copy 2)"), std::string::npos) << f.id;
      if (!f.parent.empty()) {
        EXPECT_EQ(f.parent.rfind("c2-", 0), 0u) << f.id;
      }
    }
    if (f.level == "town" || f.level == "community") {
      EXPECT_TRUE(f.polygons.empty()) << f.id;
    }
    if (f.has_metrics) {
      EXPECT_FALSE(f.polygons.empty()) << f.id;
    }
  }
  EXPECT_EQ(lines, r->features);
  EXPECT_EQ(copy2 * 2, lines);
  fs::remove(path);
}

TEST(Generate, RejectsBadOptions) {
  GenerateOptions o = JiangmenOptions(TempPath("bad.geojson"));
  o.city = "atlantis";
  EXPECT_FALSE(Generate(o).ok());
  o = JiangmenOptions(TempPath("bad.geojson"));
  o.data_root = "/nonexistent";
  EXPECT_FALSE(Generate(o).ok());
  o = JiangmenOptions("");
  EXPECT_FALSE(Generate(o).ok());
  // Not a power of two: pixel corners would not be exact in a double.
  o = JiangmenOptions(TempPath("bad.geojson"));
  o.pixels_per_degree = 3000;
  auto r = Generate(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("power of two"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace gridtree

namespace gridtree {
namespace {

// The province: all cities from data/guangdong, at a coarse raster so that
// the test stays quick. The division table and the county files are the
// oracle for the tree's shape; the county seats for the geometry.
TEST(Generate, GuangdongProvince) {
  const std::string path = TempPath("guangdong.geojsonl");
  GenerateOptions o = JiangmenOptions(path);
  o.city = "guangdong";
  // GRIDTREE_TEST_PROVINCE_PPD=2048 measures the province at the default
  // resolution (docs/generator.md); 512 keeps the test quick.
  const char* ppd = std::getenv("GRIDTREE_TEST_PROVINCE_PPD");
  o.pixels_per_degree = ppd ? std::atoi(ppd) : 512;
  auto summary = Generate(o);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();

  // Division rows, and the county files' ids and seats.
  const std::string dir = std::string(GRIDTREE_DATA_ROOT) + "/guangdong/";
  std::map<std::string, std::vector<std::string>> children_of;  // parent code -> codes
  std::set<std::string> cities;
  {
    std::ifstream in(dir + "divisions.csv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::vector<std::string> cols;
      std::stringstream ss(line);
      std::string c;
      while (std::getline(ss, c, ',')) cols.push_back(c);
      if (cols.size() == 4) children_of[cols[3]].push_back(cols[1]);
      if (cols[0] == "city") cities.insert(cols[1]);
    }
  }
  std::map<std::string, std::array<double, 2>> seats;
  std::map<std::string, std::vector<Ring>> county_rings;  // all rings of all parts
  for (const auto& e : fs::directory_iterator(dir + "counties")) {
    simdjson::dom::parser parser;
    for (simdjson::dom::element f : parser.load(e.path().string())["features"].get_array()) {
      const std::string id{std::string_view(f["id"])};
      simdjson::dom::array cp = f["properties"]["cp"];
      seats[id] = {double(cp.at(0)), double(cp.at(1))};
      std::vector<std::vector<Ring>> parts;
      if (std::string_view(f["geometry"]["type"]) == "Polygon") {
        parts.push_back(ReadPolygon(f["geometry"]["coordinates"]));
      } else {
        for (simdjson::dom::element p : f["geometry"]["coordinates"].get_array()) parts.push_back(ReadPolygon(p));
      }
      for (auto& poly : parts)
        for (Ring& r : poly) county_rings[id].push_back(std::move(r));
    }
  }

  // The leaves are fitted to the published county borders, so even at this
  // coarse test resolution (512 pixels a degree, ~200 m) the dataset loads
  // without --lenient: no coverage gap, no overlap.
  LoadResult loaded = LoadDataset(path);
  ASSERT_TRUE(loaded.dataset.has_value()) << loaded.report.ErrorSummary();
  for (const Finding& f : loaded.report.findings) {
    EXPECT_NE(f.code, "overlapping-siblings") << f.ToString();
    EXPECT_NE(f.code, "coverage-gap") << f.ToString();
  }
  {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir + "counties")) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    std::vector<Feature> features;
    std::ifstream in(path);
    simdjson::dom::parser parser;
    for (std::string line; std::getline(in, line);) {
      Feature f = ParseFeature(parser.parse(line));
      if (f.has_metrics) features.push_back(std::move(f));
    }
    // Counties without a division row (the Dongsha islands) are not generated.
    auto in_table = [&](const std::string& id) {
      for (const auto& [parent, children] : children_of)
        if (std::find(children.begin(), children.end(), id) != children.end()) return true;
      return false;
    };
    const CoverageFigures c = MeasureCoverage(features, PublishedCounties(files, in_table));
    PrintCoverage("Guangdong at " + std::to_string(o.pixels_per_degree) + " pixels a degree", c);
    EXPECT_LE(c.uncovered, 1e-5 * c.city);
    EXPECT_LE(std::abs(c.overlap), 1e-9 * c.city);
  }
  const Dataset& d = *loaded.dataset;
  EXPECT_EQ(d.leaf_count(), static_cast<size_t>(summary->leaves));

  // Every city is a root; counties with geometry are present, the one
  // without (440311, split off after the boundaries were drawn) is not.
  size_t roots = 0;
  for (size_t n = 0; n < d.node_count(); ++n) roots += d.parents[n] < 0;
  EXPECT_EQ(roots, cities.size());
  for (const std::string& city : cities) {
    auto node = d.Find(city);
    ASSERT_TRUE(node.has_value()) << city;
    EXPECT_EQ(d.levels[*node], Level::kCity);
    EXPECT_EQ(d.parents[*node], -1);
  }
  for (const std::string& city : cities) {
    for (const std::string& county : children_of[city]) {
      const bool no_county_level = county == city + "00";
      if (no_county_level) {
        // Dongguan, Zhongshan: the towns hang directly from the city.
        EXPECT_FALSE(d.Find(county).has_value()) << county;
        for (const std::string& town : children_of[county]) {
          auto t = d.Find(town);
          ASSERT_TRUE(t.has_value()) << town;
          EXPECT_EQ(d.ids[d.parents[*t]], city) << town;
          EXPECT_EQ(d.levels[*t], Level::kTown);
        }
        continue;
      }
      auto c = d.Find(county);
      EXPECT_EQ(c.has_value(), seats.count(county) == 1) << county;
      if (c) {
        EXPECT_EQ(d.ids[d.parents[*c]], city);
        EXPECT_EQ(d.levels[*c], Level::kCounty);
      }
    }
  }
  EXPECT_TRUE(cities.count("4419") && cities.count("4420"));

  // Every county seat that lies inside its published county locates in a
  // leaf of its own county (or city, where there is no county level).
  auto engine = Engine::Create(std::move(*loaded.dataset));
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  int checked = 0;
  for (const auto& [code, seat] : seats) {
    const std::string expected = code.size() == 6 && code.substr(4) == "00" ? code.substr(0, 4) : code;
    auto view_ptr = (*engine)->Read();
    const View& view = *view_ptr;
    if (!view.dataset().Find(expected)) continue;  // no division row (e.g. the Dongsha islands)
    const std::vector<Ring>& rings = county_rings[code];
    if (!EvenOdd(rings, seat[0], seat[1])) continue;
    const LocateResult r = view.Locate({seat[0], seat[1]});
    ASSERT_TRUE(r.hit()) << code << " seat " << seat[0] << "," << seat[1];
    bool found = false;
    for (NodeId n = r.node; n.valid(); n = view.Parent(n)) found = found || view.id(n) == expected;
    EXPECT_TRUE(found) << code << " seat locates in " << view.id(r.node);
    ++checked;
  }
  EXPECT_GE(checked, 100);  // of 124 seats
  fs::remove(path);
}

}  // namespace
}  // namespace gridtree
