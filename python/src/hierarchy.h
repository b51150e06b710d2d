// Leaf numbers to the nodes above them, over any flat hierarchy in
// depth-first pre-order (the engine's Dataset, or the table a client reads
// from a server): the one implementation behind ids(), names() and
// locate_frame() of both Engine and Client.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "gridtree/engine/level.h"

namespace gridtree::python {

struct HierarchyColumns {
  std::span<const int32_t> parents;     // per node, -1 for a root
  std::span<const Level> levels;        // per node
  std::span<const int32_t> leaf_nodes;  // per leaf: its node
};

// A level name, or BadInput naming the accepted names.
Level ParseLevelOrThrow(std::string_view name);

// "leaf" -> nullopt (the leaf itself); a level name -> that level; anything
// else is refused (BadInput naming the accepted names).
std::optional<Level> ParseLevelOrLeaf(std::string_view name);

// out[i]: the node of `level` (nullopt: the leaf's own node) above leaves[i];
// -1 where leaves[i] is -1 or the leaf has no ancestor of that level. A
// leaf number out of range is refused, naming the row.
void LevelNodes(const HierarchyColumns& h, std::span<const int32_t> leaves, std::optional<Level> level,
                std::span<int32_t> out);

}  // namespace gridtree::python
