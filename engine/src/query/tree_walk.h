// Internal: the pruned walk of the hierarchy that region aggregates and
// vector tiles share.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gridtree/engine/dataset.h"

namespace gridtree::internal {

// Visits the nodes of ds depth-first in pre-order (node-number order), from
// the roots; visit(node) returns whether to go down into the node's
// children. One stack and no recursion: a walk costs the nodes it visits.
template <typename Visit>
void WalkTree(const Dataset& ds, Visit&& visit) {
  std::vector<int32_t> stack;
  for (size_t k = 0; k < ds.node_count(); k = static_cast<size_t>(ds.subtree_end[k]))
    stack.push_back(static_cast<int32_t>(k));
  std::reverse(stack.begin(), stack.end());
  while (!stack.empty()) {
    const int32_t v = stack.back();
    stack.pop_back();
    if (!visit(v)) continue;
    for (int32_t c = ds.child_begin[v + 1]; c-- > ds.child_begin[v];) stack.push_back(ds.children[c].value);
  }
}

}  // namespace gridtree::internal
