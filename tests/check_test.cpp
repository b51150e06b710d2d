// GRIDTREE_DCHECK (gridtree/engine/check.h): where checks are on (debug and
// sanitizer builds), a View given a number it never handed out stops with
// the values involved; where they are off, the operands are not evaluated.
#include "gridtree/engine/check.h"

#include <gtest/gtest.h>

#include "small_dataset.h"

namespace gridtree {
namespace {

TEST(Check, ValuesArePrintedAsNumbers) {
  EXPECT_EQ(internal::CheckValues(7, size_t{3}), "7 vs 3");
  EXPECT_EQ(internal::CheckValues(-1, 0), "-1 vs 0");
}

#if GRIDTREE_DCHECKS

TEST(CheckDeathTest, ANodeNumberOutOfRangeStopsWithTheNumberAndTheNodeCount) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto engine = testing::SmallEngine();
  auto view = engine->Read();
  const size_t nodes = view->dataset().node_count();
  const std::string expected = "check failed: 0 <= node.value < .*\\(" + std::to_string(nodes + 5) + " vs " +
                               std::to_string(nodes) + "\\)";
  EXPECT_DEATH((void)view->id(NodeId(static_cast<int32_t>(nodes + 5))), expected);
  EXPECT_DEATH((void)view->Metric(NodeId(0), 1000), "check failed: 0 <= metric < metric_count\\(\\)");
  EXPECT_DEATH((void)view->NodeOf(LeafId(-1)), "\\(-1 vs ");
}

TEST(CheckDeathTest, AFalseConditionStopsWithItsText) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int leaves = 3;
  EXPECT_DEATH(GRIDTREE_DCHECK_LT(leaves, 2), "check failed: leaves < 2 \\(3 vs 2\\)");
  EXPECT_DEATH(GRIDTREE_DCHECK(leaves == 4), "check failed: leaves == 4");
}

#else

TEST(Check, OffChecksDoNotEvaluateTheirOperands) {
  int evaluated = 0;
  GRIDTREE_DCHECK(++evaluated > 0);
  GRIDTREE_DCHECK_LT(++evaluated, 0);
  GRIDTREE_DCHECK_INDEX(++evaluated, 0);
  EXPECT_EQ(evaluated, 0);
}

#endif

}  // namespace
}  // namespace gridtree
