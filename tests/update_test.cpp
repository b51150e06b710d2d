// Updates: atomic batches, rejections that change nothing, and readers that
// never see an inner node disagree with its leaves while writers run
// (plain std::threads, so the test is meaningful under ThreadSanitizer).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "gridtree/engine/engine.h"
#include "small_dataset.h"

namespace {

using namespace gridtree;
using Op = MetricUpdate::Op;

std::unique_ptr<Engine> Small(int n = 8) { return gridtree::testing::SmallEngine(n); }

TEST(Update, SetAndAddRollUpAndBumpTheVersion) {
  auto engine = Small();
  auto before = engine->Read();
  const NodeId leaf = *before->Find("g1_1");
  const NodeId city(0);
  const int64_t city_pop = before->Metric(city, 0), leaf_pop = before->Metric(leaf, 0);
  auto v = engine->Apply({{{"g1_1", "population", Op::kSet, 5000}, {"g1_1", "population", Op::kAdd, -1}}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v.value(), 1u);
  auto after = engine->Read();
  EXPECT_EQ(after->version(), 1u);
  EXPECT_EQ(after->Metric(leaf, 0), 4999);
  EXPECT_EQ(after->Metric(city, 0), city_pop - leaf_pop + 4999);
  for (NodeId a = after->Parent(leaf); a.valid(); a = after->Parent(a))
    EXPECT_EQ(after->Metric(a, 0), before->Metric(a, 0) - leaf_pop + 4999);
  // The old view still sees the old state.
  EXPECT_EQ(before->Metric(city, 0), city_pop);
  EXPECT_EQ(before->version(), 0u);
}

TEST(Update, BadBatchesAreRejectedWholeAndChangeNothing) {
  auto engine = Small();
  const int64_t city_pop = engine->Read()->Metric(NodeId(0), 0);
  const std::vector<std::pair<UpdateBatch, std::string>> bad = {
      {{{{"g1_1", "population", Op::kSet, 1}, {"nobody", "population", Op::kSet, 1}}}, "unknown id"},
      {{{{"g1_1", "population", Op::kSet, 1}, {"k1", "population", Op::kSet, 1}}}, "inner node"},
      {{{{"g1_1", "population", Op::kSet, 1}, {"g1_2", "bicycles", Op::kSet, 1}}}, "unknown metric"},
      {{{{"g1_1", "population", Op::kSet, -5}}}, "negative"},
      {{{{"g1_1", "population", Op::kAdd, -100000}}}, "would go negative"},
      {{{{"g1_1", "population", Op::kSet, INT64_MAX}, {"g1_1", "population", Op::kAdd, 1}}}, "overflows"},
      {{{{"g1_1", "population", Op::kSet, INT64_MAX}}}, "overflow"},  // the city sum would overflow
      {{}, "empty"},
  };
  for (const auto& [batch, expect] : bad) {
    auto r = engine->Apply(batch);
    ASSERT_FALSE(r.ok()) << expect;
    EXPECT_NE(r.status().message().find(expect), std::string::npos) << r.status().message();
    EXPECT_EQ(engine->Read()->version(), 0u);
    EXPECT_EQ(engine->Read()->Metric(NodeId(0), 0), city_pop);
  }
}

TEST(Update, ListenersHearEveryBatch) {
  auto engine = Small();
  std::vector<uint64_t> versions;
  std::vector<LeafId> leaves;
  const int id = engine->AddListener([&](const std::shared_ptr<const View>& v, std::span<const LeafId> changed) {
    versions.push_back(v->version());
    leaves.assign(changed.begin(), changed.end());
  });
  ASSERT_TRUE(engine->Apply({{{"g2_3", "schools", Op::kAdd, 2}}}).ok());
  ASSERT_TRUE(engine->Apply({{{"g0_0", "schools", Op::kAdd, 1}, {"g2_3", "population", Op::kSet, 7}}}).ok());
  EXPECT_EQ(versions, (std::vector<uint64_t>{1, 2}));
  auto view = engine->Read();
  ASSERT_EQ(leaves.size(), 2u);
  EXPECT_EQ(view->NodeOf(leaves[0]), *view->Find("g0_0"));
  engine->RemoveListener(id);
  ASSERT_TRUE(engine->Apply({{{"g0_0", "schools", Op::kAdd, 1}}}).ok());
  EXPECT_EQ(versions.size(), 2u);
}

// Writers move population between random leaves (the city total never
// changes) and bump households; readers check, on every view they take,
// that each inner node equals the sum of its children and that the city
// total is constant. Versions seen by one reader never go backwards.
TEST(UpdateConcurrency, ReadersAlwaysSeeConsistentSums) {
  auto engine = Small(12);
  auto first = engine->Read();
  const Dataset& ds = first->dataset();
  const int64_t total = first->Metric(NodeId(0), 0);
  std::vector<std::string> leaf_ids;
  for (int32_t n : ds.leaf_nodes) leaf_ids.push_back(std::string(ds.ids[n]));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> checks{0}, batches{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w)
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      std::uniform_int_distribution<size_t> pick(0, leaf_ids.size() - 1);
      while (!stop) {
        UpdateBatch b;
        for (int k = 0; k < 5; ++k) {
          const std::string& from = leaf_ids[pick(rng)];
          const std::string& to = leaf_ids[pick(rng)];
          b.updates.push_back({from, "population", Op::kAdd, -1});
          b.updates.push_back({to, "population", Op::kAdd, 1});
          b.updates.push_back({to, "households", Op::kAdd, 1});
        }
        if (engine->Apply(b).ok()) ++batches;  // may fail when a leaf would go negative: fine
      }
    });
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&] {
      uint64_t last = 0;
      while (!stop) {
        auto view = engine->Read();
        EXPECT_GE(view->version(), last);
        last = view->version();
        EXPECT_EQ(view->Metric(NodeId(0), 0), total);
        for (size_t v = 0; v < view->dataset().node_count(); ++v) {
          const NodeId node(static_cast<int32_t>(v));
          const auto kids = view->Children(node);
          if (kids.empty()) continue;
          for (int m = 0; m < 2; ++m) {
            int64_t sum = 0;
            for (NodeId c : kids) sum += view->Metric(c, m);
            ASSERT_EQ(view->Metric(node, m), sum);
          }
        }
        ++checks;
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(batches.load(), 10);
  EXPECT_GT(checks.load(), 10);
  EXPECT_EQ(engine->Read()->version(), static_cast<uint64_t>(batches.load()));
}

}  // namespace
