// The small containers every dataset is made of, tested on their own:
// Column (owned or borrowed), StringColumn and IdTable, against plain
// std::vector, std::string and std::unordered_map.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "gridtree/engine/column.h"
#include "gridtree/engine/id_table.h"

namespace gridtree {
namespace {

TEST(Column, OwnedCopiesAreIndependentAndMovesKeepTheView) {
  Column<int32_t> a(std::vector<int32_t>{1, 2, 3});
  Column<int32_t> copy = a;
  EXPECT_EQ(copy, a);
  EXPECT_NE(copy.data(), a.data());  // its own buffer, not a view of a's
  EXPECT_GT(copy.memory_bytes(), 0u);
  const int32_t* buffer = a.data();
  Column<int32_t> moved = std::move(a);
  EXPECT_EQ(moved.data(), buffer);  // the vector's buffer moved with it
  EXPECT_EQ(std::vector<int32_t>(moved.begin(), moved.end()), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): a moved-from column is empty
  copy = moved;
  EXPECT_EQ(copy, moved);
}

TEST(Column, BorrowedColumnsViewTheCallersMemoryAndCopiesShareIt) {
  const std::vector<double> storage = {0.5, 1.5, 2.5};
  Column<double> b = Column<double>::Borrow(storage);
  EXPECT_EQ(b.data(), storage.data());
  EXPECT_EQ(b.memory_bytes(), 0u);  // the mapped image owns the bytes
  Column<double> copy = b;
  EXPECT_EQ(copy.data(), storage.data());
  EXPECT_EQ(copy, Column<double>(std::vector<double>(storage)));  // equal values, wherever held
  Column<double> moved = std::move(b);
  EXPECT_EQ(moved.data(), storage.data());
  EXPECT_EQ(moved.back(), 2.5);
}

TEST(StringColumn, HoldsEveryStringAndRefusesBadBorrowedOffsets) {
  const std::vector<std::string> strings = {"", "江门市", "a", std::string("nul\0in", 6), ""};
  const StringColumn c = StringColumn::From(strings);
  ASSERT_EQ(c.size(), strings.size());
  for (size_t i = 0; i < strings.size(); ++i) EXPECT_EQ(c[i], strings[i]) << i;

  // Borrowed: offsets need not start at 0 (columns share one text).
  const std::string text = "xxabcde";
  const std::vector<uint32_t> offsets = {2, 4, 4, 7};
  StringColumn borrowed;
  std::string error;
  ASSERT_TRUE(StringColumn::Borrow(offsets, {text.data(), text.size()}, &borrowed, &error)) << error;
  EXPECT_EQ(borrowed.size(), 3u);
  EXPECT_EQ(borrowed[0], "ab");
  EXPECT_EQ(borrowed[1], "");
  EXPECT_EQ(borrowed[2], "cde");
  const std::vector<uint32_t> decreasing = {0, 3, 2};
  EXPECT_FALSE(StringColumn::Borrow(decreasing, {text.data(), text.size()}, &borrowed, &error));
  EXPECT_FALSE(error.empty());
  const std::vector<uint32_t> past_end = {0, 8};
  error.clear();
  EXPECT_FALSE(StringColumn::Borrow(past_end, {text.data(), text.size()}, &borrowed, &error));
  EXPECT_FALSE(error.empty());
}

TEST(IdTable, FindsEveryIdAndNothingElseAsAHashMapDoes) {
  std::mt19937_64 rng(5);
  std::vector<std::string> ids;
  std::unordered_map<std::string, int32_t> oracle;
  while (ids.size() < 5000) {
    std::string id = std::to_string(440000000000ULL + rng() % 1000000000ULL);
    if (oracle.emplace(id, static_cast<int32_t>(ids.size())).second) ids.push_back(id);
  }
  const StringColumn column = StringColumn::From(ids);
  const IdTable table = IdTable::Build(column);
  const size_t slots = table.slots().size();
  EXPECT_GT(slots, ids.size());
  EXPECT_EQ(slots & (slots - 1), 0u);  // a power of two
  for (const auto& [id, node] : oracle) EXPECT_EQ(table.Find(column, id), node) << id;
  for (int i = 0; i < 5000; ++i) {
    const std::string probe = std::to_string(rng());
    EXPECT_EQ(table.Find(column, probe).has_value(), oracle.count(probe) == 1) << probe;
  }
  EXPECT_FALSE(table.Find(column, "").has_value());

  // The stored form reads back, and bad stored tables are refused.
  IdTable borrowed;
  std::string error;
  ASSERT_TRUE(IdTable::Borrow(table.slots(), ids.size(), &borrowed, &error)) << error;
  for (size_t k = 0; k < ids.size(); k += 97) EXPECT_EQ(borrowed.Find(column, ids[k]), static_cast<int32_t>(k));
  std::vector<int32_t> odd_size(table.slots().begin(), table.slots().end() - 1);
  EXPECT_FALSE(IdTable::Borrow(odd_size, ids.size(), &borrowed, &error));
  std::vector<int32_t> bad_slot(table.slots().begin(), table.slots().end());
  bad_slot[0] = static_cast<int32_t>(ids.size());  // not a node number
  error.clear();
  EXPECT_FALSE(IdTable::Borrow(bad_slot, ids.size(), &borrowed, &error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace gridtree
