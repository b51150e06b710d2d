// The rollup tree: node reads, children, paths, name search and top-k,
// checked against sums and sorts computed here from the leaves.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "gridtree/engine/engine.h"
#include "small_dataset.h"

namespace {

using namespace gridtree;

class RollupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = Engine::Create(gridtree::testing::SmallDataset(8));
    ASSERT_TRUE(e.ok());
    engine_ = std::move(e.value());
    view_ = engine_->Read();
  }
  // Sum of a metric over the leaves of a subtree, by brute force.
  int64_t LeafSum(int32_t node, int metric) const {
    const Dataset& ds = view_->dataset();
    int64_t s = 0;
    for (size_t l = 0; l < ds.leaf_count(); ++l) {
      int32_t v = ds.leaf_nodes[l];
      while (v >= 0 && v != node) v = ds.parents[v];
      if (v == node) s += ds.leaf_metrics[l * ds.metric_count() + metric];
    }
    return s;
  }
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<const View> view_;
};

TEST_F(RollupTest, EveryNodeEqualsTheSumOfItsLeaves) {
  const Dataset& ds = view_->dataset();
  ASSERT_EQ(ds.metric_names, (std::vector<std::string>{"population", "households", "schools"}));
  for (size_t v = 0; v < ds.node_count(); ++v)
    for (int m = 0; m < 3; ++m) ASSERT_EQ(view_->Metric(NodeId(static_cast<int32_t>(v)), m), LeafSum(static_cast<int32_t>(v), m));
  const std::vector<int64_t> all = view_->Aggregate(NodeId(0));
  EXPECT_EQ(all[0], LeafSum(0, 0));
}

TEST_F(RollupTest, FlatDepthFirstLayout) {
  const Dataset& ds = view_->dataset();
  for (size_t v = 0; v < ds.node_count(); ++v) {
    for (NodeId c : view_->Children(NodeId(static_cast<int32_t>(v)))) {
      EXPECT_EQ(view_->Parent(c).value, static_cast<int32_t>(v));
      EXPECT_GT(c.value, static_cast<int32_t>(v));
      EXPECT_LE(ds.subtree_end[c.value], ds.subtree_end[v]);
    }
  }
  // A level may be skipped: the "direct" town sits under the city.
  const NodeId direct = *view_->Find("direct");
  EXPECT_EQ(view_->Parent(direct).value, 0);
  const Chain c = view_->ChainOf(*view_->Find("g7_7"));
  ASSERT_EQ(c.size, 3);
  EXPECT_EQ(view_->id(c.nodes[0]), "c");
  EXPECT_EQ(view_->id(c.nodes[1]), "direct");
}

TEST_F(RollupTest, FindByIdAndNamePrefix) {
  EXPECT_FALSE(view_->Find("nope").has_value());
  const auto towns = view_->FindByNamePrefix("town k1");
  ASSERT_EQ(towns.size(), 2u);
  for (NodeId t : towns) EXPECT_EQ(view_->level(t), Level::kTown);
  EXPECT_EQ(view_->FindByNamePrefix("grid ", 5).size(), 5u);
  EXPECT_TRUE(view_->FindByNamePrefix("zzz").empty());
}

TEST_F(RollupTest, TopKMatchesASortOfTheLevel) {
  const Dataset& ds = view_->dataset();
  for (bool density : {false, true}) {
    TopKQuery q;
    q.level = Level::kGrid;
    q.metric = 0;
    q.k = 5;
    q.density = density;
    const auto ranked = view_->TopK(q);
    ASSERT_TRUE(ranked.ok()) << ranked.status().ToString();
    const std::vector<TopEntry>& top = ranked->entries;
    // The oracle: every grid node, its leaf sum, sorted.
    std::vector<std::pair<double, int32_t>> all;
    for (size_t v = 0; v < ds.node_count(); ++v)
      if (ds.levels[v] == Level::kGrid) {
        double value = static_cast<double>(LeafSum(static_cast<int32_t>(v), 0));
        if (density) value /= ds.node_area_km2[v];
        all.push_back({-value, static_cast<int32_t>(v)});
      }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(top.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(top[i].node.value, all[i].second);
      EXPECT_EQ(top[i].value, LeafSum(all[i].second, 0));  // the count, exact, in both orders
      if (density) {
        EXPECT_DOUBLE_EQ(top[i].density, -all[i].first);
      }
    }
  }
  TopKQuery within;
  within.level = Level::kGrid;
  within.k = 100;
  within.within = *view_->Find("k1t0");
  const auto ranked = view_->TopK(within);
  ASSERT_TRUE(ranked.ok());
  for (const TopEntry& e : ranked->entries) {
    EXPECT_GE(e.node, within.within);
    EXPECT_LT(e.node.value, ds.subtree_end[within.within.value]);
  }
  TopKQuery unknown;
  unknown.metric = 7;
  EXPECT_EQ(view_->TopK(unknown).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
