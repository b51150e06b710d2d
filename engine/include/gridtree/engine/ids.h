// Node and leaf numbers as two distinct types, so that a leaf number can
// never be passed where a node number is meant (or the reverse). Both are
// positions in one dataset version: keep them together with the View that
// produced them (View::dataset_version names it).
#pragma once

#include <compare>
#include <cstdint>

namespace gridtree {

// A node's position in depth-first pre-order; -1 for none.
struct NodeId {
  int32_t value = -1;
  constexpr NodeId() = default;
  constexpr explicit NodeId(int32_t v) : value(v) {}
  constexpr bool valid() const { return value >= 0; }
  friend constexpr auto operator<=>(NodeId, NodeId) = default;
};

// A leaf's position among the leaves, in the same order; -1 for none.
struct LeafId {
  int32_t value = -1;
  constexpr LeafId() = default;
  constexpr explicit LeafId(int32_t v) : value(v) {}
  constexpr bool valid() const { return value >= 0; }
  friend constexpr auto operator<=>(LeafId, LeafId) = default;
};

static_assert(sizeof(NodeId) == sizeof(int32_t) && sizeof(LeafId) == sizeof(int32_t));

}  // namespace gridtree
