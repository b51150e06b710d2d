// The fixture of the durability tests: a temporary folder with the small
// dataset written to it, and every leaf value of an engine in one vector
// (the thing two runs are compared by).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "crash_batches.h"
#include "small_dataset.h"

namespace gridtree::testing {

class DataDirTest : public ::testing::Test {
 protected:
  // prefix names the folder: /tmp/<prefix>-<pid>-<test name>.
  explicit DataDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           (prefix_ + "-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    dataset_ = (dir_ / "small.geojson").string();
    std::ofstream(dataset_) << SmallDatasetGeoJson(8);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::vector<int64_t> LeafValues(const Engine& e) {
    auto v = e.Read();
    std::vector<int64_t> out;
    for (int32_t n : v->dataset().leaf_nodes)
      for (size_t m = 0; m < v->dataset().metric_count(); ++m) out.push_back(v->Metric(NodeId(n), static_cast<int>(m)));
    return out;
  }

  // The oracle of every recovery test: the leaf values after crash batches
  // 1..v applied in memory, with no log.
  static std::vector<int64_t> ValuesAfterBatches(uint64_t v) {
    auto e = SmallEngine(8);
    const auto base = e->Read();
    for (uint64_t k = 1; k <= v; ++k) EXPECT_TRUE(e->Apply(CrashBatch(*base, k)).ok());
    return LeafValues(*e);
  }

  std::string prefix_;
  std::filesystem::path dir_;
  std::string dataset_;
};

}  // namespace gridtree::testing
