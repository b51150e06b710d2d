// PartEdges: the edges of one polygon part (outer ring and holes), bucketed
// in horizontal slabs so that a point-in-part test reads only the few edges
// whose y-range holds the point. Immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "gridtree/index/geometry.h"
#include "orient.h"

namespace gridtree::index::internal {

// A non-horizontal edge stored upward: y0 < y1. Horizontal edges never count
// in the crossing test (half-open rule) and are not stored.
struct UpEdge {
  double x0, y0, x1, y1;
};

class PartEdges {
 public:
  PartEdges(const Polygon& part, int edges_per_slab);

  // Crossing-number test with the half-open rule: an upward edge counts when
  // y0 <= p.y < y1 and p lies strictly left of it. Equivalent to testing p
  // moved by an infinitesimal step east and a smaller one north.
  bool Contains(Point p) const {
    if (p.y < min_y_ || p.y >= max_y_) return false;
    int slab = static_cast<int>((p.y - min_y_) * inv_slab_height_);
    if (slab >= slab_count_) slab = slab_count_ - 1;
    bool inside = false;
    const UpEdge* e = edges_.data() + slab_begin_[slab];
    const UpEdge* end = edges_.data() + slab_begin_[slab + 1];
    for (; e != end; ++e) {
      if (e->y0 <= p.y && p.y < e->y1 && Orient(e->x0, e->y0, e->x1, e->y1, p.x, p.y) > 0) inside = !inside;
    }
    return inside;
  }

  // The x positions where the horizontal line y crosses the part (same
  // half-open rule), appended to xs unsorted. Used to classify grid cells.
  void CrossingsAt(double y, std::vector<double>& xs) const;

  size_t memory_bytes() const { return edges_.size() * sizeof(UpEdge) + slab_begin_.size() * sizeof(uint32_t); }

 private:
  int SlabOf(double y) const;

  double min_y_ = 0, max_y_ = 0, inv_slab_height_ = 0;
  int slab_count_ = 1;
  std::vector<uint32_t> slab_begin_;  // slab_count_ + 1 offsets into edges_
  std::vector<UpEdge> edges_;         // grouped by slab; an edge sits in every slab it spans
};

}  // namespace gridtree::index::internal
