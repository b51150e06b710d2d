// PackedRTree: a static R-tree over boxes, packed bottom-up in Hilbert order
// of the box centres (Kamel and Faloutsos' packing, as Flatbush does), and
// held in three flat arrays so that an engine image maps it without a
// build. Level 0 holds the item boxes; each box of level L > 0 covers up to
// kNodeSize consecutive boxes of level L - 1; the last level is the root.
// Thread safety: const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gridtree/index/geometry.h"

namespace gridtree::index::internal {

struct PackedRTreeArrays {
  std::span<const Box> boxes;             // every level, leaves first
  std::span<const uint32_t> refs;         // level 0: item number; above: first child's position
  std::span<const uint32_t> level_begin;  // position where each level starts, plus the end
};

class PackedRTree {
 public:
  static constexpr uint32_t kNodeSize = 16;

  struct Storage {
    std::vector<Box> boxes;
    std::vector<uint32_t> refs;
    std::vector<uint32_t> level_begin;
  };
  // Packs boxes[i] as item i.
  static Storage Build(std::span<const Box> item_boxes);
  // Checks the arrays' shape (sizes, levels, child positions) so that a
  // query never reads outside them; `items` is the number of items.
  static bool Check(const PackedRTreeArrays& a, size_t items, std::string* error);

  // Calls visit(item) for every item whose box intersects query; stops
  // when visit returns false. No allocation.
  template <typename Visit>
  static void Query(const PackedRTreeArrays& a, const Box& query, Visit&& visit) {
    if (a.boxes.empty()) return;
    const uint32_t levels = static_cast<uint32_t>(a.level_begin.size() - 1);
    // Depth-first: at most kNodeSize - 1 siblings wait per level, plus the root.
    struct Entry {
      uint32_t pos, level;
    };
    Entry stack[kNodeSize * 32];
    uint32_t top = 0;
    stack[top++] = {static_cast<uint32_t>(a.boxes.size() - 1), levels - 1};
    while (top > 0) {
      const Entry e = stack[--top];
      if (!a.boxes[e.pos].Intersects(query)) continue;
      if (e.level == 0) {
        if (!visit(a.refs[e.pos])) return;
        continue;
      }
      const uint32_t first = a.refs[e.pos];
      const uint32_t end = std::min(first + kNodeSize, a.level_begin[e.level]);
      for (uint32_t c = end; c-- > first;) stack[top++] = {c, e.level - 1};
    }
  }
};

}  // namespace gridtree::index::internal
