#include "packed_rtree.h"

#include <algorithm>
#include <numeric>

namespace gridtree::index::internal {
namespace {

// Position of (x, y) on the Hilbert curve of a 2^16 x 2^16 grid.
uint32_t HilbertIndex(uint32_t x, uint32_t y) {
  uint32_t d = 0;
  for (uint32_t s = 1u << 15; s > 0; s >>= 1) {
    const uint32_t rx = (x & s) > 0, ry = (y & s) > 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry == 0) {  // rotate the quadrant
      if (rx == 1) x = s - 1 - x, y = s - 1 - y;
      std::swap(x, y);
    }
  }
  return d;
}

}  // namespace

PackedRTree::Storage PackedRTree::Build(std::span<const Box> item_boxes) {
  Storage s;
  const size_t n = item_boxes.size();
  if (n == 0) return s;
  Box extent = Box::Empty();
  for (const Box& b : item_boxes) extent.Extend(b);
  const double w = std::max(extent.max_x - extent.min_x, 1e-300), h = std::max(extent.max_y - extent.min_y, 1e-300);
  std::vector<uint32_t> hilbert(n), order(n);
  for (size_t i = 0; i < n; ++i) {
    const Box& b = item_boxes[i];
    const double cx = ((b.min_x + b.max_x) / 2 - extent.min_x) / w, cy = ((b.min_y + b.max_y) / 2 - extent.min_y) / h;
    hilbert[i] = HilbertIndex(static_cast<uint32_t>(std::clamp(cx, 0.0, 1.0) * 65535),
                              static_cast<uint32_t>(std::clamp(cy, 0.0, 1.0) * 65535));
  }
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return hilbert[a] < hilbert[b]; });
  for (uint32_t i : order) {
    s.boxes.push_back(item_boxes[i]);
    s.refs.push_back(i);
  }
  s.level_begin.push_back(0);
  size_t begin = 0, end = n;
  do {  // one level above [begin, end) until a level has one box
    s.level_begin.push_back(static_cast<uint32_t>(end));
    for (size_t c = begin; c < end; c += kNodeSize) {
      Box b = Box::Empty();
      for (size_t k = c; k < std::min(end, c + kNodeSize); ++k) b.Extend(s.boxes[k]);
      s.boxes.push_back(b);
      s.refs.push_back(static_cast<uint32_t>(c));
    }
    begin = end;
    end = s.boxes.size();
  } while (end - begin > 1);
  s.level_begin.push_back(static_cast<uint32_t>(end));
  return s;
}

bool PackedRTree::Check(const PackedRTreeArrays& a, size_t items, std::string* error) {
  auto fail = [&](const std::string& what) {
    *error = "R-tree: " + what;
    return false;
  };
  if (items == 0) return a.boxes.empty() ? true : fail("boxes without items");
  if (a.refs.size() != a.boxes.size()) return fail("boxes and refs differ in count");
  if (a.level_begin.size() < 2 || a.level_begin.size() > 33 || a.level_begin[0] != 0 ||
      a.level_begin.back() != a.boxes.size() || a.level_begin[1] != items)
    return fail("level offsets do not match the item count");
  for (size_t l = 1; l < a.level_begin.size(); ++l)
    if (a.level_begin[l] <= a.level_begin[l - 1]) return fail("empty level " + std::to_string(l - 1));
  if (a.level_begin[a.level_begin.size() - 2] + 1 != a.level_begin.back()) return fail("more than one root");
  for (uint32_t i = 0; i < items; ++i)
    if (a.refs[i] >= items) return fail("item " + std::to_string(a.refs[i]) + " out of range");
  // Each level above the items packs the one below in runs of kNodeSize,
  // exactly as Build does: every box is reached once, so a query's work is
  // bounded by the tree's size (children shared between boxes would make
  // it grow exponentially with the depth).
  for (size_t l = 1; l + 1 < a.level_begin.size(); ++l) {
    const uint64_t below = a.level_begin[l] - a.level_begin[l - 1];
    if (a.level_begin[l + 1] - a.level_begin[l] != (below + kNodeSize - 1) / kNodeSize)
      return fail("level " + std::to_string(l) + " does not pack the level below in runs of " +
                  std::to_string(kNodeSize));
    for (uint32_t p = a.level_begin[l]; p < a.level_begin[l + 1]; ++p)
      if (a.refs[p] != a.level_begin[l - 1] + uint64_t{p - a.level_begin[l]} * kNodeSize)
        return fail("box " + std::to_string(p) + " of level " + std::to_string(l) + " names child position " +
                    std::to_string(a.refs[p]) + ", not its run of the level below");
  }
  return true;
}

}  // namespace gridtree::index::internal
