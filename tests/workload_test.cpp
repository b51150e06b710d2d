// Workload files (bench/replay): parsing, defaults, errors that name the
// file and the field, the request sequence, the checksum definition as
// written in docs/workloads.md (re-implemented here), percentiles and the
// JSON report.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "replay/checksum.h"
#include "replay/report.h"
#include "replay/workload.h"

namespace gridtree::replay {
namespace {

const char* kFull = R"js({
  "name": "full",
  "points": {"generate": {"box": [112.0, 22.0, 112.1, 22.1], "count": 500, "seed": 9}},
  "regions": [
    {"circle": {"lon": 112.05, "lat": 22.05, "radius_m": 800}},
    {"box": [112.01, 22.01, 112.03, 22.02], "mode": "contained", "group_by": "none"},
    {"wkt": "POLYGON((112.0 22.0, 112.02 22.0, 112.02 22.02, 112.0 22.0))"},
    {"geojson": {"type": "Polygon", "coordinates": [[[112.0, 22.0], [112.01, 22.0], [112.0, 22.01], [112.0, 22.0]]]}}
  ],
  "mix": {"locate": 6, "locate_batch": 2, "aggregate": 2},
  "batch_size": 64,
  "requests": 1234,
  "seed": 42,
  "aggregate_mode": "area_weighted",
  "group_by": "town"
})js";

TEST(WorkloadParse, EveryField) {
  auto w = ParseWorkload(kFull, "w.json", "");
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->name, "full");
  ASSERT_EQ(w->point_count(), 500u);
  for (size_t i = 0; i < w->point_count(); ++i) {
    EXPECT_GE(w->lon[i], 112.0);
    EXPECT_LT(w->lon[i], 112.1);
    EXPECT_GE(w->lat[i], 22.0);
    EXPECT_LT(w->lat[i], 22.1);
  }
  EXPECT_DOUBLE_EQ(w->mix[0], 0.6);
  EXPECT_DOUBLE_EQ(w->mix[1], 0.2);
  EXPECT_DOUBLE_EQ(w->mix[2], 0.2);
  EXPECT_EQ(w->cumulative[2], 1.0);
  EXPECT_EQ(w->batch_size, 64u);
  EXPECT_EQ(w->requests, 1234u);
  EXPECT_EQ(w->seed, 42u);
  ASSERT_EQ(w->regions.size(), 4u);
  // Top-level mode and group_by fill what a region leaves out.
  EXPECT_EQ(w->regions[0].source, WorkloadRegion::Source::kCircle);
  EXPECT_EQ(w->regions[0].query.mode, RegionMode::kAreaWeighted);
  EXPECT_EQ(w->regions[0].query.group_by, Level::kTown);
  EXPECT_EQ(w->regions[1].query.mode, RegionMode::kContained);
  EXPECT_FALSE(w->regions[1].query.group_by.has_value());
  EXPECT_EQ(w->regions[2].source, WorkloadRegion::Source::kWkt);
  EXPECT_EQ(w->regions[2].query.region.kind, Region::Kind::kPolygon);
  EXPECT_EQ(w->regions[3].source, WorkloadRegion::Source::kGeoJson);
  EXPECT_NE(w->regions[3].text.find("Polygon"), std::string::npos);
}

TEST(WorkloadParse, Defaults) {
  auto w = ParseWorkload(R"js({"points": {"generate": {"box": [0, 0, 1, 1], "count": 10}}, "mix": {"locate": 1}})js",
                         "dir/min.json", "");
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->name, "min.json");
  EXPECT_EQ(w->batch_size, 1000u);
  EXPECT_EQ(w->requests, 10000u);
  EXPECT_EQ(w->seed, 1u);
  EXPECT_EQ(w->mix[0], 1.0);
}

TEST(WorkloadParse, CsvPointsRelativeToTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("gridtree_workload_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pts.csv") << "lon,lat\n# a comment\n112.5,22.5\r\n\n113,23\n";
  std::ofstream(dir / "w.json") << R"js({"points": "pts.csv", "mix": {"locate_batch": 1}, "batch_size": 3})js";
  auto w = LoadWorkload((dir / "w.json").string());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->point_count(), 2u);
  EXPECT_EQ(w->lon[0], 112.5);
  EXPECT_EQ(w->lat[1], 23.0);
  EXPECT_EQ(w->path, (dir / "w.json").string());

  std::ofstream(dir / "bad.csv") << "112.5,22.5\n113,23\n113;23\n";
  std::ofstream(dir / "bad.json") << R"js({"points": "bad.csv", "mix": {"locate": 1}})js";
  auto bad = LoadWorkload((dir / "bad.json").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.json: points: "), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("bad.csv: line 3: expected lon,lat"), std::string::npos)
      << bad.status().message();

  auto missing = LoadWorkload((dir / "nope.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.json: cannot open"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Each bad file, and the "<file>: <field>: " its error must start with.
TEST(WorkloadParse, BadFilesNameTheFileAndTheField) {
  const std::string pts = R"js("points": {"generate": {"box": [0, 0, 1, 1], "count": 10}})js";
  const std::string mix = R"js("mix": {"locate": 1})js";
  const std::string circle = R"js("mix": {"aggregate": 1}, "regions": )js";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "w.json: malformed JSON"},
      {"[]", "w.json: the workload must be a JSON object"},
      {"{" + pts + ", " + mix + ", \"mixx\": 1}", "w.json: mixx: unknown field"},
      {"{" + pts + "}", "w.json: mix: missing"},
      {"{" + pts + ", " + mix + ", " + mix + "}", "w.json: mix: given twice"},
      {"{" + pts + R"js(, "mix": {"locate": -1})js" + "}", "w.json: mix.locate: must be >= 0"},
      {"{" + pts + R"js(, "mix": {"locate": "x"})js" + "}", "w.json: mix.locate: must be a finite number"},
      {"{" + pts + R"js(, "mix": {"query": 1})js" + "}", "w.json: mix.query: unknown kind"},
      {"{" + pts + R"js(, "mix": {"locate": 0})js" + "}", "w.json: mix: all weights are zero"},
      {"{" + pts + ", " + mix + R"js(, "batch_size": 0})js", "w.json: batch_size: must be an integer in [1, 1000000]"},
      {"{" + pts + ", " + mix + R"js(, "requests": 1.5})js", "w.json: requests: must be an integer"},
      {"{" + pts + ", " + mix + R"js(, "requests": -3})js", "w.json: requests: must be an integer"},
      {"{" + pts + ", " + mix + R"js(, "seed": "one"})js", "w.json: seed: must be an integer"},
      {"{" + pts + ", " + mix + R"js(, "aggregate_mode": "most"})js", "w.json: aggregate_mode: must be"},
      {"{" + pts + ", " + mix + R"js(, "group_by": "district"})js", "w.json: group_by: unknown level \"district\""},
      {"{" + mix + "}", "w.json: points: missing"},
      {R"js({"points": 3, )js" + mix + "}", "w.json: points: must be a CSV file name"},
      {R"js({"points": {"generate": {"box": [1, 0, 0, 1], "count": 10}}, )js" + mix + "}",
       "w.json: points.generate.box: west > east"},
      {R"js({"points": {"generate": {"box": [0, 0, 1], "count": 10}}, )js" + mix + "}",
       "w.json: points.generate.box: must be [west, south, east, north]"},
      {R"js({"points": {"generate": {"box": [0, 0, 1, 1]}}, )js" + mix + "}", "w.json: points.generate.count: missing"},
      {R"js({"points": {"generate": {"box": [0, 0, 1, 1], "count": 0}}, )js" + mix + "}",
       "w.json: points.generate.count: must be an integer in [1, "},
      {R"js({"points": {"generate": {"box": [0, 0, 1, 1], "count": 5, "sead": 1}}, )js" + mix + "}",
       "w.json: points.generate.sead: unknown field"},
      {R"js({"mix": {"aggregate": 1}})js", "w.json: regions: missing or empty"},
      {"{" + circle + R"js([{"circle": {"lon": 1, "lat": 2}}]})js", "w.json: regions[0].circle.radius_m: missing"},
      {"{" + circle + R"js([{"box": [0,0,1,1]}, {"circle": {"lon": 1, "lat": 2, "radius_m": -5}}]})js",
       "w.json: regions[1].circle.radius_m: must be > 0"},
      {"{" + circle + R"js([{"circle": {"lon": 1, "lat": 95, "radius_m": 5}}]})js",
       "w.json: regions[0].circle.lat: outside [-90, 90]"},
      {"{" + circle + R"js([{"box": [0,0,1,1], "wkt": "POLYGON((0 0, 1 0, 1 1, 0 0))"}]})js",
       "w.json: regions[0]: needs exactly one of"},
      {"{" + circle + R"js([{"mode": "contained"}]})js", "w.json: regions[0]: needs exactly one of"},
      {"{" + circle + R"js([{"wkt": "POLYGON((0 0, 1 0))"}]})js", "w.json: regions[0].wkt: "},
      {"{" + circle + R"js([{"geojson": {"type": "Point", "coordinates": [1, 2]}}]})js", "w.json: regions[0].geojson: "},
      {"{" + circle + R"js([{"box": [0,0,1,1], "group_by": "block"}]})js",
       "w.json: regions[0].group_by: unknown level \"block\""},
      {"{" + circle + R"js([{"box": [0,0,1,1], "colour": "red"}]})js", "w.json: regions[0].colour: unknown field"},
  };
  for (const auto& [text, expected] : cases) {
    auto w = ParseWorkload(text, "w.json", "");
    ASSERT_FALSE(w.ok()) << "accepted: " << text;
    EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.status().message().rfind(expected, 0), 0u)
        << "text: " << text << "\nmessage: " << w.status().message() << "\nexpected prefix: " << expected;
  }
}

TEST(WorkloadSequence, AFunctionOfTheFileAlone) {
  auto a = ParseWorkload(kFull, "a.json", "");
  auto b = ParseWorkload(kFull, "b.json", "");
  ASSERT_TRUE(a.ok() && b.ok());
  std::array<uint64_t, kKindCount> count{};
  const uint64_t n = 100000;
  for (uint64_t i = 0; i < n; ++i) {
    const Request ra = RequestAt(*a, i), rb = RequestAt(*b, i);
    ASSERT_EQ(ra.kind, rb.kind);
    ASSERT_EQ(ra.item, rb.item);
    ASSERT_LT(ra.item, ra.kind == Kind::kAggregate ? a->regions.size() : a->point_count());
    ++count[static_cast<int>(ra.kind)];
  }
  for (int k = 0; k < kKindCount; ++k)
    EXPECT_NEAR(static_cast<double>(count[k]) / n, a->mix[k], 0.01) << KindName(static_cast<Kind>(k));

  // Another seed, another sequence.
  Workload c = *a;
  c.seed = 43;
  int same = 0;
  for (uint64_t i = 0; i < 1000; ++i) same += RequestAt(*a, i).item == RequestAt(c, i).item;
  EXPECT_LT(same, 100);
}

// The checksum as docs/workloads.md defines it, written out again here so
// that a change to checksum.cpp that breaks the documented definition fails.
struct DocHash {
  uint64_t s = 0;
  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  DocHash& W(uint64_t v) {
    s = Mix(s ^ v) + 0x9E3779B97F4A7C15ull;
    return *this;
  }
  DocHash& I(int64_t v) { return W(static_cast<uint64_t>(v)); }
  DocHash& V(double v) { return I(std::llround(v * 1e6)); }
};

TEST(WorkloadChecksum, MatchesTheDocumentedDefinition) {
  EXPECT_EQ(LocateHash(7, -1), DocHash().W(0).W(7).I(-1).s);
  EXPECT_EQ(LocateHash(0, 12), DocHash().W(0).W(0).I(12).s);
  const std::vector<int32_t> leaves = {3, -1, 5};
  EXPECT_EQ(BatchHash(9, leaves), DocHash().W(1).W(9).W(3).I(3).I(-1).I(5).s);
  RegionResult r;
  r.leaves = 4;
  r.total = {10.0, 2.5, 1.0000004};
  r.rows.push_back({NodeId(17), {6.0, 1.5, 0.0}, {}});
  r.rows.push_back({NodeId(21), {4.0, 1.0, 1.0000004}, {}});
  EXPECT_EQ(AggregateHash(11, r), DocHash()
                                      .W(2)
                                      .W(11)
                                      .I(4)
                                      .W(3)
                                      .V(10.0)
                                      .V(2.5)
                                      .V(1.0000004)
                                      .W(2)
                                      .I(17)
                                      .V(6.0)
                                      .V(1.5)
                                      .V(0.0)
                                      .I(21)
                                      .V(4.0)
                                      .V(1.0)
                                      .V(1.0000004)
                                      .s);
  // Rounded to 1e-6: a difference below it does not show, one above does.
  RegionResult near = r, far = r;
  near.total[1] += 1e-9;
  far.total[1] += 1e-5;
  EXPECT_EQ(AggregateHash(11, near), AggregateHash(11, r));
  EXPECT_NE(AggregateHash(11, far), AggregateHash(11, r));
  EXPECT_NE(ErrorHash(Kind::kLocate, 7), LocateHash(7, -1));
}

TEST(WorkloadReport, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i) v.push_back(i);
  const Latency l = Summarise(v);
  EXPECT_EQ(l.p50, 500);
  EXPECT_EQ(l.p90, 900);
  EXPECT_EQ(l.p99, 990);
  EXPECT_EQ(l.p999, 999);
  EXPECT_EQ(l.max, 1000);
  EXPECT_DOUBLE_EQ(l.mean, 500.5);
  std::vector<double> empty;
  EXPECT_EQ(Summarise(empty).max, 0);
}

TEST(WorkloadReport, JsonHasTheDocumentedFields) {
  auto w = ParseWorkload(kFull, "w.json", "");
  ASSERT_TRUE(w.ok());
  Tally t;
  t.kinds[0].requests = 3;
  t.kinds[0].points = 3;
  t.kinds[0].latency_us = {1, 2, 3};
  t.kinds[0].checksum = 5;
  t.kinds[2].requests = 1;
  t.kinds[2].errors = 1;
  t.kinds[2].checksum = 7;
  RunInfo run;
  run.tool = "gridtree_replay";
  run.target = "in_process";
  run.dataset = "a \"quoted\" path";
  run.threads = 2;
  run.seconds = 0.5;
  const std::string json = JsonReport(*w, run, t);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.parse(json).get(root)) << json;
  EXPECT_EQ(std::string_view(root["checksum"].get_string().value()), "0x000000000000000c");
  EXPECT_EQ(std::string_view(root["dataset"].get_string().value()), "a \"quoted\" path");
  EXPECT_EQ(root["requests"].get_uint64().value(), 4u);
  EXPECT_EQ(root["errors"].get_uint64().value(), 1u);
  EXPECT_EQ(root["requests_per_s"].get_double().value(), 8.0);
  EXPECT_EQ(root["workload"]["requests"].get_uint64().value(), 1234u);
  simdjson::dom::array kinds = root["kinds"].get_array().value();
  ASSERT_EQ(kinds.size(), 2u);  // kinds without requests are left out
  simdjson::dom::element locate = kinds.at(0).value();
  EXPECT_EQ(std::string_view(locate["kind"].get_string().value()), "locate");
  EXPECT_EQ(locate["latency_us"]["p50"].get_double().value(), 2.0);
  EXPECT_EQ(locate["latency_us"]["p99_9"].get_double().value(), 3.0);
  EXPECT_EQ(std::string_view(kinds.at(1)["kind"].get_string().value()), "aggregate");
}

}  // namespace
}  // namespace gridtree::replay
