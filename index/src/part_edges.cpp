#include "part_edges.h"

#include <algorithm>
#include <cmath>

namespace gridtree::index::internal {

int PartEdges::SlabOf(double y) const {
  int slab = static_cast<int>((y - min_y_) * inv_slab_height_);
  return std::clamp(slab, 0, slab_count_ - 1);
}

PartEdges::PartEdges(const FlatPolygons& geometry, uint32_t part, int edges_per_slab) {
  std::vector<UpEdge> up;
  min_y_ = INFINITY;
  max_y_ = -INFINITY;
  for (uint32_t r = geometry.rings_begin(part); r < geometry.rings_end(part); ++r) {
    const std::span<const Point> ring = geometry.ring(r);
    const size_t n = ring.size();
    for (size_t i = 0; i < n; ++i) {
      const Point a = ring[i], b = ring[(i + 1) % n];
      min_y_ = std::min(min_y_, a.y);
      max_y_ = std::max(max_y_, a.y);
      if (a.y == b.y) continue;
      up.push_back(a.y < b.y ? UpEdge{a.x, a.y, b.x, b.y} : UpEdge{b.x, b.y, a.x, a.y});
    }
  }
  if (up.empty()) {  // degenerate part: contains nothing
    min_y_ = 1, max_y_ = 0;
    slab_begin_ = {0, 0};
    return;
  }
  slab_count_ = std::max(1, static_cast<int>(up.size()) / std::max(1, edges_per_slab));
  const double height = max_y_ - min_y_;
  inv_slab_height_ = height > 0 ? slab_count_ / height : 0;
  // Count, then place: an edge goes into every slab its y-range touches.
  // Slab lookup uses the same monotone function as Contains, so an edge with
  // y0 <= y < y1 is always in the slab of y.
  std::vector<uint32_t> count(slab_count_ + 1, 0);
  for (const UpEdge& e : up)
    for (int s = SlabOf(e.y0), last = SlabOf(e.y1); s <= last; ++s) ++count[s + 1];
  for (int s = 0; s < slab_count_; ++s) count[s + 1] += count[s];
  slab_begin_ = count;
  edges_.resize(count[slab_count_]);
  for (const UpEdge& e : up)
    for (int s = SlabOf(e.y0), last = SlabOf(e.y1); s <= last; ++s) edges_[count[s]++] = e;
}

void PartEdges::CrossingsAt(double y, std::vector<double>& xs) const {
  if (y < min_y_ || y >= max_y_) return;
  const int slab = SlabOf(y);
  for (uint32_t i = slab_begin_[slab]; i < slab_begin_[slab + 1]; ++i) {
    const UpEdge& e = edges_[i];
    if (e.y0 <= y && y < e.y1) xs.push_back(e.x0 + (y - e.y0) * (e.x1 - e.x0) / (e.y1 - e.y0));
  }
}

}  // namespace gridtree::index::internal
