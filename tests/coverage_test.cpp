// Coverage findings against geometry built here, so the expected overlap,
// gap and outside part are known exactly: a town of 0.02° x 0.02° and two
// grid leaves whose rectangles are chosen to overlap, leave a strip, or
// reach outside. The oracle is the rectangle arithmetic, not the loader.
#include <gtest/gtest.h>

#include <string>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"

namespace {

using namespace gridtree;

struct Rect {
  double w, s, e, n;
  bool Contains(index::Point p) const { return p.x > w && p.x < e && p.y > s && p.y < n; }
  index::MultiPolygon Polygon() const { return {{{{{{w, s}, {e, s}, {e, n}, {w, n}}}}}}; }
};

std::string Square(const Rect& r) {
  auto c = [](double v) { return std::to_string(v); };
  return "{\"type\":\"Polygon\",\"coordinates\":[[[" + c(r.w) + "," + c(r.s) + "],[" + c(r.e) + "," + c(r.s) + "],[" +
         c(r.e) + "," + c(r.n) + "],[" + c(r.w) + "," + c(r.n) + "],[" + c(r.w) + "," + c(r.s) + "]]]}";
}

// Leaves (grids) carry a metric; inner nodes none.
std::string Feature(const std::string& id, const std::string& parent, const std::string& level,
                    const std::string& geometry) {
  const std::string metrics = level == "grid" ? ",\"metrics\":{\"population\":1}" : "";
  return "{\"type\":\"Feature\",\"id\":\"" + id + "\",\"properties\":{\"parent\":" +
         (parent.empty() ? std::string("null") : "\"" + parent + "\"") + ",\"level\":\"" + level + "\"" +
         metrics + "},\"geometry\":" + geometry + "}";
}

const Rect kTown{112.00, 22.00, 112.02, 22.02};

// A city over the town over two grids a and b.
std::string Town(const Rect& a, const Rect& b) {
  return "{\"type\":\"FeatureCollection\",\"features\":[" + Feature("c", "", "city", "null") + "," +
         Feature("t", "c", "town", Square(kTown)) + "," + Feature("a", "t", "grid", Square(a)) + "," +
         Feature("b", "t", "grid", Square(b)) + "]}";
}

const Finding* Find(const ValidationReport& r, const std::string& code) {
  for (const Finding& f : r.findings)
    if (f.code == code) return &f;
  return nullptr;
}

TEST(Coverage, OverlappingSiblingsAreAnErrorNamingBothTheAreaAndAPoint) {
  const Rect a{112.00, 22.00, 112.012, 22.02}, b{112.008, 22.00, 112.02, 22.02};
  const Rect overlap{112.008, 22.00, 112.012, 22.02};  // 20 % of the town
  LoadResult r = LoadDatasetFromText(Town(a, b), "overlap.geojson");
  ASSERT_FALSE(r.dataset.has_value());
  const Finding* f = Find(r.report, "overlapping-siblings");
  ASSERT_NE(f, nullptr) << r.report.ErrorSummary();
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->id, "a");
  EXPECT_NE(f->message.find("\"b\""), std::string::npos) << f->message;
  EXPECT_NEAR(f->area_km2, index::GeodesicAreaKm2(overlap.Polygon()), 1e-6);
  ASSERT_TRUE(f->point.has_value());
  EXPECT_TRUE(overlap.Contains(*f->point)) << f->point->x << "," << f->point->y;

  // --lenient serves it, and the leaf first in the file answers inside the overlap.
  LoadOptions lenient;
  lenient.lenient = true;
  LoadResult served = LoadDatasetFromText(Town(a, b), "overlap.geojson", lenient);
  ASSERT_TRUE(served.dataset.has_value()) << served.report.ErrorSummary();
  EXPECT_EQ(Find(served.report, "overlapping-siblings")->severity, Severity::kWarning);
  auto engine = Engine::Create(std::move(*served.dataset));
  ASSERT_TRUE(engine.ok());
  auto view = engine.value()->Read();
  EXPECT_EQ(view->id(view->Locate({112.010, 22.010}).node), "a");
}

TEST(Coverage, AGapIsAnErrorWithThePointNoLeafAnswers) {
  const Rect a{112.00, 22.00, 112.008, 22.02}, b{112.012, 22.00, 112.02, 22.02};
  const Rect gap{112.008, 22.00, 112.012, 22.02};
  LoadResult r = LoadDatasetFromText(Town(a, b), "gap.geojson");
  ASSERT_FALSE(r.dataset.has_value());
  const Finding* f = Find(r.report, "coverage-gap");
  ASSERT_NE(f, nullptr) << r.report.ErrorSummary();
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->id, "t");
  EXPECT_NEAR(f->area_km2, index::GeodesicAreaKm2(gap.Polygon()), 1e-6);
  ASSERT_TRUE(f->point.has_value());
  EXPECT_TRUE(gap.Contains(*f->point));
}

TEST(Coverage, AChildOutsideItsParentIsAnErrorWithTheAreaOutside) {
  const Rect a{112.00, 22.00, 112.01, 22.02}, b{112.01, 22.00, 112.03, 22.02};
  const Rect outside{112.02, 22.00, 112.03, 22.02};  // half of b
  LoadResult r = LoadDatasetFromText(Town(a, b), "outside.geojson");
  ASSERT_FALSE(r.dataset.has_value());
  const Finding* f = Find(r.report, "outside-parent");
  ASSERT_NE(f, nullptr) << r.report.ErrorSummary();
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->id, "b");
  EXPECT_NEAR(f->area_km2, index::GeodesicAreaKm2(outside.Polygon()), 1e-6);
  ASSERT_TRUE(f->point.has_value());
  EXPECT_TRUE(outside.Contains(*f->point));
}

TEST(Coverage, SmallDefectsAndExactTilingsPass) {
  // Touching exactly: no finding at all.
  LoadResult tiled = LoadDatasetFromText(Town({112.00, 22.00, 112.01, 22.02}, {112.01, 22.00, 112.02, 22.02}), "ok");
  ASSERT_TRUE(tiled.dataset.has_value()) << tiled.report.ErrorSummary();
  EXPECT_EQ(Find(tiled.report, "overlapping-siblings"), nullptr);
  EXPECT_EQ(Find(tiled.report, "coverage-gap"), nullptr);
  // A 1 % overlap is under the 2 % tolerance.
  LoadResult slight = LoadDatasetFromText(Town({112.00, 22.00, 112.0101, 22.02}, {112.0099, 22.00, 112.02, 22.02}), "ok");
  EXPECT_TRUE(slight.dataset.has_value()) << slight.report.ErrorSummary();
}

TEST(Coverage, AnEmptyCollectionIsAnError) {
  LoadResult r = LoadDatasetFromText("{\"type\":\"FeatureCollection\",\"features\":[]}", "empty.geojson");
  EXPECT_FALSE(r.dataset.has_value());
  ASSERT_NE(Find(r.report, "empty-dataset"), nullptr);
}

}  // namespace
