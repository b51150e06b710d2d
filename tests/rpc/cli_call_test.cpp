// `gridtree call` against a real `gridtree serve`: answers with metric
// values name each metric, give exact counts as integers and round
// area-weighted values. The oracle is the dataset file itself, loaded here.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

#include "../small_dataset.h"
#include "command_output.h"
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

TEST(CliCall, MetricsAreNamedCountsExactAndSharesRounded) {
  const fs::path dir = fs::temp_directory_path() / ("gridtree_cli_call_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string dataset = (dir / "small.geojson").string();
  std::ofstream(dataset) << SmallDatasetGeoJson(10);
  ServeProcess server({dataset, "--listen", "127.0.0.1:0", "--threads", "1"}, dir / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  const std::string call = std::string(GRIDTREE_BINARY) + " call --connect 127.0.0.1:" + std::to_string(server.port());
  const Dataset ds = SmallDataset(10);

  std::string out = CommandOutput(call + " aggregate --node k1");
  const std::string k1 = "\"metrics\":{\"population\":" + std::to_string(Sum(ds, "k1", 0)) +
                         ",\"households\":" + std::to_string(Sum(ds, "k1", 1)) +
                         ",\"schools\":" + std::to_string(Sum(ds, "k1", 2)) + "}";
  EXPECT_NE(out.find(k1), std::string::npos) << out;
  EXPECT_NE(out.find("\"dataset_version\":1"), std::string::npos) << out;

  out = CommandOutput(call + " node c");
  EXPECT_NE(out.find("\"population\":" + std::to_string(Sum(ds, "", 0))), std::string::npos) << out;

  // Area-weighted: every value has at most two decimals.
  out = CommandOutput(call + " aggregate --circle 112.05,22.05,2000 --mode area_weighted");
  ASSERT_NE(out.find("\"metrics\":{\"population\":"), std::string::npos) << out;
  const std::regex value("\"(population|households|schools)\":([-0-9.eE+]+)");
  int values = 0;
  for (std::sregex_iterator it(out.begin(), out.end(), value), end; it != end; ++it, ++values) {
    const std::string v = (*it)[2];
    EXPECT_TRUE(std::regex_match(v, std::regex("[0-9]+(\\.[0-9]{1,2})?"))) << v << " in " << out;
  }
  EXPECT_EQ(values, 3) << out;

  // top-k: the largest grid population, as an integer.
  int64_t best = 0;
  for (size_t l = 0; l < ds.leaf_count(); ++l) best = std::max(best, ds.leaf_metrics[l * ds.metric_count()]);
  out = CommandOutput(call + " topk --level grid --metric population --k 1");
  EXPECT_NE(out.find("\"population\":" + std::to_string(best) + "}"), std::string::npos) << out;
  fs::remove_all(dir);
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
  const std::string json = CommandOutput(gridtree + " validate " + file + " --json");
  EXPECT_NE(json.find("\"code\":\"overlapping-siblings\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"point\":[112.0075,22.0075]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"area_km2\":0.28"), std::string::npos) << json;
}

}  // namespace
}  // namespace gridtree::testing
