// The loader: a corpus of bad files, each with the exact finding expected
// (tests/data/bad/expected.tsv), the text-sequence form, and the real
// county file with its published defects.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <simdjson.h>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/read_file.h"
#include "small_dataset.h"

namespace {

using namespace gridtree;

std::string ReadFile(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? std::move(bytes).value() : std::string();
}

const std::string kBad = std::string(GRIDTREE_TEST_DIR) + "/data/bad/";

TEST(Loader, EveryBadFileGivesExactlyItsExpectedFindings) {
  std::map<std::string, std::multiset<std::string>> expected;
  std::istringstream tsv(ReadFile(kBad + "expected.tsv"));
  std::string line;
  while (std::getline(tsv, line)) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    expected[line.substr(0, tab)].insert(line.substr(tab + 1));
  }
  ASSERT_GE(expected.size(), 20u);
  for (const auto& [file, want] : expected) {
    LoadResult r = LoadDatasetFromText(ReadFile(kBad + file), file);
    std::multiset<std::string> got;
    for (const Finding& f : r.report.findings) got.insert(f.ToString());
    EXPECT_EQ(got, want) << file;
    bool any_error = false;
    for (const std::string& w : want) any_error |= w.find(": error [") != std::string::npos;
    EXPECT_EQ(r.dataset.has_value(), !any_error) << file;
  }
}

// A small valid dataset written both ways must load the same.
TEST(Loader, TextSequenceEqualsFeatureCollection) {
  const std::string f1 =
      R"({"type":"Feature","id":"c","properties":{"parent":null,"level":"city","name":"C"},"geometry":null})";
  const std::string f2 =
      R"({"type":"Feature","id":"g","properties":{"parent":"c","level":"grid","name":"G","kind":"park","metrics":{"population":7,"schools":1}},"geometry":{"type":"Polygon","coordinates":[[[112,22],[112.01,22],[112.01,22.01],[112,22.01],[112,22]]]}})";
  LoadResult a = LoadDatasetFromText("{\"type\":\"FeatureCollection\",\"features\":[" + f1 + ",\n" + f2 + "]}", "fc");
  LoadResult b = LoadDatasetFromText("\x1e" + f1 + "\n\x1e" + f2 + "\n", "seq");
  ASSERT_TRUE(a.dataset) << (a.report.findings.empty() ? "" : a.report.findings[0].ToString());
  ASSERT_TRUE(b.dataset) << (b.report.findings.empty() ? "" : b.report.findings[0].ToString());
  EXPECT_EQ(a.dataset->fingerprint, b.dataset->fingerprint);
  EXPECT_EQ(a.dataset->ids, b.dataset->ids);
  EXPECT_EQ(a.dataset->leaf_metrics, b.dataset->leaf_metrics);
  EXPECT_EQ(a.dataset->metric_names, (std::vector<std::string>{"population", "schools"}));
  EXPECT_EQ(a.dataset->kinds[1], "park");
  EXPECT_TRUE(a.report.findings.empty());
}

// The published Jiangmen county borders as leaves under one city: they must
// load (with warnings for their real defects) and locate each county seat.
TEST(Loader, RealCountyFileLoadsWithWarningsAndAnswers) {
  const std::string path = std::string(GRIDTREE_DATA_ROOT) + "/jiangmen/counties.geojson";
  simdjson::dom::parser parser;
  simdjson::padded_string text = simdjson::padded_string::load(path);
  simdjson::dom::element root = parser.parse(text);
  std::string out = R"({"type":"FeatureCollection","features":[{"type":"Feature","id":"4407","properties":{"parent":null,"level":"city","name":"江门市"},"geometry":null})";
  std::vector<std::pair<std::string, std::pair<double, double>>> seats;
  size_t parts_taishan = 0;
  for (simdjson::dom::element f : root["features"].get_array()) {
    const std::string id(f["id"].get_string().value());
    simdjson::dom::array cp = f["properties"]["cp"].get_array();
    seats.push_back({id, {double(cp.at(0)), double(cp.at(1))}});
    if (id == "440781") parts_taishan = f["geometry"]["coordinates"].get_array().size();
    out += R"(,{"type":"Feature","id":")" + id + R"(","properties":{"parent":"4407","level":"county","name":")" +
           std::string(f["properties"]["name"].get_string().value()) +
           R"(","metrics":{"population":1}},"geometry":)" + simdjson::to_string(f["geometry"]) + "}";
  }
  out += "]}";
  EXPECT_EQ(parts_taishan, 41u);
  LoadResult r = LoadDatasetFromText(out, "counties");
  ASSERT_TRUE(r.dataset) << r.report.findings[0].ToString();
  std::set<std::string> codes;
  for (const Finding& f : r.report.findings) {
    EXPECT_EQ(f.severity, Severity::kWarning) << f.ToString();
    codes.insert(f.code);
  }
  EXPECT_TRUE(codes.count("repeated-vertex"));
  EXPECT_TRUE(codes.count("self-touching"));
  auto engine = Engine::Create(std::move(*r.dataset));
  ASSERT_TRUE(engine.ok());
  auto view = engine.value()->Read();
  for (const auto& [id, seat] : seats) {
    const LocateResult hit = view->Locate({seat.first, seat.second});
    ASSERT_TRUE(hit.hit()) << id;
    EXPECT_EQ(view->id(hit.node), id);
  }
}

// A city and `grids` grids, one feature a line (line 1: the collection's
// head, line 2: the city, line k + 2: grid k); metrics(k) gives grid k's.
std::string Grids(int grids, const std::function<std::string(int)>& metrics, bool sequence) {
  std::string out = sequence ? "" : "{\"type\":\"FeatureCollection\",\"features\":[\n";
  out += R"({"type":"Feature","id":"c","properties":{"parent":null,"level":"city","name":"C"},"geometry":null})";
  for (int k = 1; k <= grids; ++k) {
    const std::string x0 = std::to_string(112 + k * 0.01), x1 = std::to_string(112 + k * 0.01 + 0.005);
    out += std::string(sequence ? "\n" : ",\n") + R"({"type":"Feature","id":"g)" + std::to_string(k) +
           R"(","properties":{"parent":"c","level":"grid","name":"G","metrics":{)" + metrics(k) +
           R"(}},"geometry":{"type":"Polygon","coordinates":[[[)" + x0 + ",22],[" + x1 + ",22],[" + x1 + ",22.005],[" +
           x0 + ",22.005],[" + x0 + ",22]]]}}";
  }
  return out + (sequence ? "\n" : "\n]}\n");
}

// The findings of one code, as text.
std::vector<std::string> FindingsOf(const LoadResult& r, const std::string& code) {
  std::vector<std::string> out;
  for (const Finding& f : r.report.findings)
    if (f.code == code) out.push_back(f.ToString());
  return out;
}

// A metric simdjson cannot hold (past 64 bits, past a double) is named with
// its line, its feature and its name; the rest of the file is still read.
TEST(Loader, AnOutOfRangeMetricNamesLineFeatureAndMetric) {
  for (bool sequence : {false, true}) {
    const std::string text = Grids(50, [](int k) {
      if (k == 46) return std::string(R"("population":7,"households":123456789012345678901234)");
      if (k == 47) return std::string(R"("population":1e400)");
      if (k == 48) return std::string(R"("population":-99999999999999999999)");
      return std::string(R"("population":7)");
    }, sequence);
    LoadResult r = LoadDatasetFromText(text, "grids.geojson");
    EXPECT_FALSE(r.dataset.has_value());
    const int line = sequence ? 47 : 48;  // grid 46: line 48 in the collection, 47 in the sequence
    const std::vector<std::string> want = {
        "grids.geojson: feature 46 (id \"g46\"): error [bad-metric]: line " + std::to_string(line) +
            ": metric \"households\" is larger than 2^63-1 (123456789012345678901234)",
        "grids.geojson: feature 47 (id \"g47\"): error [bad-metric]: line " + std::to_string(line + 1) +
            ": metric \"population\" is not an integer (1e400)",
        "grids.geojson: feature 48 (id \"g48\"): error [bad-metric]: line " + std::to_string(line + 2) +
            ": metric \"population\" is negative (-99999999999999999999)"};
    EXPECT_EQ(FindingsOf(r, "bad-metric"), want) << (sequence ? "sequence" : "collection");
    EXPECT_TRUE(FindingsOf(r, "malformed-json").empty());
    EXPECT_EQ(r.report.errors(), 3u);
  }
}

// A sum past 2^63-1 in the roll-up names the node and the metric.
TEST(Loader, ASumOverflowNamesTheNodeAndTheMetric) {
  LoadResult r = LoadDatasetFromText(Grids(3, [](int k) {
    return std::string(R"("population":1,"households":)") + (k == 2 ? "9223372036854775807" : "1");
  }, false), "grids.geojson");
  EXPECT_FALSE(r.dataset.has_value());
  EXPECT_EQ(FindingsOf(r, "overflow"),
            std::vector<std::string>{"grids.geojson: feature 0 (id \"c\"): error [overflow]: the sum of metric "
                                     "\"households\" over the leaves of \"c\" exceeds 2^63-1"});
}

TEST(Loader, OldBinarySnapshotIsAClearError) {
  const std::string path = ::testing::TempDir() + "/old.gtds";
  std::ofstream(path, std::ios::binary) << "GTDSET01" << std::string(64, '\0');
  LoadResult r = LoadDataset(path);
  EXPECT_FALSE(r.dataset.has_value());
  ASSERT_FALSE(r.report.findings.empty());
  EXPECT_EQ(r.report.findings[0].code, "old-snapshot");
  EXPECT_NE(r.report.findings[0].message.find("gridtree image"), std::string::npos);
}

}  // namespace
