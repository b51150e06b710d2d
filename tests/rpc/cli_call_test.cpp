// `gridtree call` against a real `gridtree serve`: answers with metric
// values name each metric, give exact counts as integers and round
// area-weighted values; every answer is the same document as the HTTP
// port's (docs/json.md), and ?v=1 still gives the old shape. The oracle is
// the dataset file itself, loaded here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "../small_dataset.h"
#include "command_output.h"
#include "json_doc.h"
#include "serve_process.h"

namespace gridtree::testing {
namespace {

namespace fs = std::filesystem;

// Sum of a metric over the leaves under `id` (every leaf for "").
int64_t Sum(const Dataset& ds, const std::string& id, int metric) {
  int64_t s = 0;
  for (size_t l = 0; l < ds.leaf_count(); ++l) {
    int32_t v = ds.leaf_nodes[l];
    while (v >= 0 && !id.empty() && ds.ids[v] != id) v = ds.parents[v];
    if (v >= 0) s += ds.leaf_metrics[l * ds.metric_count() + metric];
  }
  return s;
}

// A served small dataset (RPC and HTTP) and the `gridtree call` of it.
class CliCall : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gridtree_cli_call_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string dataset = (dir_ / "small.geojson").string();
    std::ofstream(dataset) << SmallDatasetGeoJson(10);
    server_ = std::make_unique<ServeProcess>(
        std::vector<std::string>{dataset, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--threads", "1"},
        dir_ / "serve.log");
    ASSERT_GT(server_->port(), 0u) << server_->Log();
    ASSERT_GT(server_->http_port(), 0u) << server_->Log();
    call_ = std::string(GRIDTREE_BINARY) + " call --connect 127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  std::string Call(const std::string& args) { return CommandOutput(call_ + " " + args); }
  HttpAnswer Get(const std::string& target) { return HttpGet(server_->http_port(), target); }

  fs::path dir_;
  std::unique_ptr<ServeProcess> server_;
  std::string call_;
  const Dataset ds_ = SmallDataset(10);
};

TEST_F(CliCall, MetricsAreNamedCountsExactAndSharesRounded) {
  JsonDoc out = ParseJson(Call("aggregate --node k1"));
  ASSERT_TRUE(out.ok()) << out.text;
  simdjson::dom::element k1 = out.root["nodes"].at(0);
  EXPECT_EQ(std::string_view(k1["id"]), "k1") << out.text;
  EXPECT_EQ(int64_t(k1["metrics"]["population"]), Sum(ds_, "k1", 0)) << out.text;
  EXPECT_EQ(int64_t(k1["metrics"]["households"]), Sum(ds_, "k1", 1)) << out.text;
  EXPECT_EQ(int64_t(k1["metrics"]["schools"]), Sum(ds_, "k1", 2)) << out.text;
  EXPECT_EQ(int64_t(out.root["dataset_version"]), 1) << out.text;  // 64-bit: a JSON number

  out = ParseJson(Call("node c"));
  ASSERT_TRUE(out.ok()) << out.text;
  EXPECT_EQ(int64_t(out.root["metrics"]["population"]), Sum(ds_, "", 0)) << out.text;

  // Area-weighted: three named values, each with at most two decimals.
  out = ParseJson(Call("aggregate --circle 112.05,22.05,2000 --mode area_weighted"));
  ASSERT_TRUE(out.ok()) << out.text;
  simdjson::dom::object metrics = out.root["metrics"];
  EXPECT_EQ(metrics.size(), 3u) << out.text;
  for (auto [name, value] : metrics) {
    const double v = double(value);
    EXPECT_EQ(std::round(v * 100) / 100, v) << name << " in " << out.text;
  }

  // top-k: the largest grid population, as an integer.
  int64_t best = 0;
  for (size_t l = 0; l < ds_.leaf_count(); ++l) best = std::max(best, ds_.leaf_metrics[l * ds_.metric_count()]);
  out = ParseJson(Call("topk --level grid --metric population --k 1"));
  ASSERT_TRUE(out.ok()) << out.text;
  EXPECT_EQ(int64_t(out.root["entries"].at(0)["metrics"]["population"]), best) << out.text;
}

// One writer per answer: `gridtree call X` and the HTTP form of X print the
// same document.
TEST_F(CliCall, SameDocumentOverHttp) {
  const std::pair<std::string, std::string> same[] = {
      {"node k1", "/node?id=k1"},
      {"info", "/info"},
      {"locate 112.055 22.035", "/locate?lon=112.055&lat=22.035"},
      {"children c", "/children?id=c"},
      {"path k1", "/path?id=k1"},
      {"aggregate --node k1 --node k2", "/aggregate?id=k1,k2"},
      {"aggregate --bbox 112,22,112.1,22.1 --group-by county", "/region?bbox=112,22,112.1,22.1&group_by=county"},
      {"aggregate --circle 112.05,22.05,2000 --mode area_weighted",
       "/region?circle=112.05,22.05,2000&mode=area_weighted"},
      {"topk --level grid --metric population --k 3 --density", "/topk?level=grid&metric=population&k=3&density=1"},
  };
  for (const auto& [args, target] : same) {
    const HttpAnswer http = Get(target);
    EXPECT_EQ(http.status, 200u) << target << ": " << http.body;
    EXPECT_TRUE(SameJsonText(Call(args), http.body)) << args << " vs " << target;
  }
  // The node's document, key by key (docs/json.md).
  const JsonDoc node = ParseJson(Get("/node?id=k1").body);
  ASSERT_TRUE(node.ok()) << node.text;
  for (const char* key : {"id", "name", "level", "kind", "parent", "child_count", "area_km2", "bounds", "metrics",
                          "dataset_version", "version"})
    EXPECT_FALSE(node.root[key].error()) << key << " missing in " << node.text;
  EXPECT_EQ(std::string_view(node.root["parent"]), "c") << node.text;
  EXPECT_EQ(node.root["bounds"].get_array().size(), 4u) << node.text;
  // box= is the old name of bbox=: the same answer.
  EXPECT_TRUE(SameJsonText(Get("/region?box=112,22,112.1,22.1").body, Get("/region?bbox=112,22,112.1,22.1").body));
  // The commands that answer from a local file write the same documents.
  const std::string local = std::string(GRIDTREE_BINARY) + " ";
  const std::string dataset = (dir_ / "small.geojson").string();
  const std::pair<std::string, std::string> same_locally[] = {
      {"aggregate " + dataset + " --node k1 --json", "/node?id=k1"},
      {"aggregate " + dataset + " --bbox 112,22,112.1,22.1 --group-by county --json",
       "/region?bbox=112,22,112.1,22.1&group_by=county"},
      {"top " + dataset + " --level grid --metric population -k 3 --density --json",
       "/topk?level=grid&metric=population&k=3&density=1"},
  };
  for (const auto& [args, target] : same_locally)
    EXPECT_TRUE(SameJsonText(CommandOutput(local + args), Get(target).body)) << args << " vs " << target;
}

// ?v=1: the JsonCodec shape of the release before, for one more release.
TEST_F(CliCall, OldShapeBehindV1) {
  JsonDoc old = ParseJson(Get("/node?id=k1&v=1").body);
  ASSERT_TRUE(old.ok()) << old.text;
  EXPECT_EQ(std::string_view(old.root["node"]["id"]), "k1") << old.text;
  EXPECT_EQ(std::string_view(old.root["datasetVersion"]), "1") << old.text;  // 64-bit: a JSON string
  EXPECT_FALSE(old.root["childCount"].error()) << old.text;
  EXPECT_EQ(std::string_view(old.root["metrics"].at(0)), std::to_string(Sum(ds_, "k1", 0))) << old.text;

  old = ParseJson(Get("/aggregate?id=k1,k2&v=1").body);
  ASSERT_TRUE(old.ok()) << old.text;
  EXPECT_EQ(old.root["aggregates"].get_array().size(), 2u) << old.text;
  EXPECT_EQ(std::string_view(old.root["aggregates"].at(1)["values"].at(0)), std::to_string(Sum(ds_, "k2", 0)))
      << old.text;

  old = ParseJson(Get("/topk?level=grid&metric=population&k=1&v=1").body);
  ASSERT_TRUE(old.ok()) << old.text;
  EXPECT_FALSE(old.root["entries"].at(0)["count"].error()) << old.text;

  // v=2 is the default named; any other v is refused by name.
  EXPECT_TRUE(SameJsonText(Get("/node?id=k1&v=2").body, Get("/node?id=k1").body));
  const HttpAnswer bad = Get("/node?id=k1&v=3");
  EXPECT_EQ(bad.status, 400u) << bad.body;
  const JsonDoc error = ParseJson(bad.body);
  ASSERT_TRUE(error.ok()) << bad.body;
  EXPECT_TRUE(std::string_view(error.root["error"]).starts_with("v: ")) << bad.body;
}

}  // namespace
}  // namespace gridtree::testing

namespace gridtree::testing {
namespace {

// `--lenient`, before or after the command's name, serves what validation
// refuses; the JSON report carries the defect's area and point.
TEST(CliLenient, OverlapsAreRefusedUnlessLenient) {
  const std::string file = std::string(GRIDTREE_TEST_DIR) + "/data/bad/overlapping-siblings.geojson";
  const std::string gridtree = GRIDTREE_BINARY;
  EXPECT_NE(std::system((gridtree + " validate " + file + " >/dev/null").c_str()), 0);
  EXPECT_EQ(std::system((gridtree + " validate " + file + " --lenient >/dev/null").c_str()), 0);
  EXPECT_EQ(std::system((gridtree + " --lenient validate " + file + " >/dev/null").c_str()), 0);
  const JsonDoc report = ParseJson(CommandOutput(gridtree + " validate " + file + " --json"));
  ASSERT_TRUE(report.ok()) << report.text;
  simdjson::dom::element first = report.root["findings"].at(0);
  EXPECT_EQ(std::string_view(first["code"]), "overlapping-siblings") << report.text;
  EXPECT_EQ(double(first["point"].at(0)), 112.0075) << report.text;
  EXPECT_EQ(double(first["point"].at(1)), 22.0075) << report.text;
  EXPECT_NEAR(double(first["area_km2"]), 0.2858, 0.0001) << report.text;
}

}  // namespace
}  // namespace gridtree::testing
