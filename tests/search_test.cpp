// View::FindByName against a brute-force scan of every node of Jiangmen.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "jiangmen_fixture.h"

namespace gridtree {
namespace {

// The ranking of engine.h, written the slow and obvious way.
std::vector<NodeId> BruteForce(const View& view, std::string_view text, size_t limit) {
  std::vector<NodeId> by_rank[3];
  const auto n = static_cast<int32_t>(view.dataset().node_count());
  for (int level = 0; level < kLevelCount; ++level) {
    for (int32_t v = 0; v < n; ++v) {
      const NodeId node(v);
      if (static_cast<int>(view.level(node)) != level) continue;
      const std::string name(view.name(node)), id(view.id(node));
      if (id == text) {
        by_rank[0].push_back(node);
      } else if (name.rfind(text, 0) == 0) {
        by_rank[1].push_back(node);
      } else if (name.find(text) != std::string::npos || id.find(text) != std::string::npos) {
        by_rank[2].push_back(node);
      }
    }
  }
  std::vector<NodeId> out;
  for (const auto& rank : by_rank)
    for (NodeId node : rank)
      if (out.size() < limit) out.push_back(node);
  return out;
}

// A whole-character substring from the middle of the first name of a level
// that is at least 5 characters long (Chinese: 3 bytes a character).
std::string MiddleOfAName(const View& view, Level level) {
  const auto n = static_cast<int32_t>(view.dataset().node_count());
  for (int32_t v = 0; v < n; ++v) {
    const std::string_view name = view.name(NodeId(v));
    if (view.level(NodeId(v)) == level && name.size() >= 15 && static_cast<unsigned char>(name[0]) >= 0xE0)
      return std::string(name.substr(3, 6));  // the second and third characters
  }
  return "";
}

TEST(SearchTest, FindByNameMatchesBruteForce) {
  const std::shared_ptr<const View> view = testing::SharedJiangmen().engine->Read();
  const std::string middle = MiddleOfAName(*view, Level::kCommunity);
  ASSERT_FALSE(middle.empty());
  const std::string some_id(view->id(NodeId(static_cast<int32_t>(view->dataset().node_count() / 2))));
  const std::vector<std::string> queries = {
      middle, "江门", "蓬江", "碧桂园", "社区", "村", "鲲鹏", some_id, some_id.substr(0, 6), "4407", "no such place"};
  for (const std::string& q : queries) {
    for (size_t limit : {size_t{1}, size_t{20}, size_t{100000}}) {
      EXPECT_EQ(view->FindByName(q, limit), BruteForce(*view, q, limit)) << "query " << q << " limit " << limit;
    }
  }
  // The middle of a name finds that name (not only names starting with it).
  const std::vector<NodeId> found = view->FindByName(middle, 100000);
  ASSERT_FALSE(found.empty());
  EXPECT_TRUE(std::any_of(found.begin(), found.end(), [&](NodeId n) {
    const std::string_view name = view->name(n);
    return !name.starts_with(middle) && name.find(middle) != std::string_view::npos;
  }));
}

TEST(SearchTest, RanksIdThenPrefixThenSubstring) {
  const std::shared_ptr<const View> view = testing::SharedJiangmen().engine->Read();
  const std::string some_id(view->id(NodeId(1)));
  const std::vector<NodeId> found = view->FindByName(some_id, 5);
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0], NodeId(1));
  EXPECT_TRUE(view->FindByName("", 20).empty());
  EXPECT_TRUE(view->FindByName("江门", 0).empty());
}

}  // namespace
}  // namespace gridtree
