// PartEdges: the edges of one polygon part (outer ring and holes), bucketed
// in horizontal slabs so that a horizontal scan line reads only the few
// edges whose y-range holds it. Used while building the lookup grid (to find
// the cells a part covers whole); lookups use the grid's per-cell edges.
// Immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "gridtree/index/flat_polygons.h"
#include "gridtree/index/geometry.h"

namespace gridtree::index::internal {

// A non-horizontal edge stored upward: y0 < y1. Horizontal edges never count
// in the crossing test (half-open rule) and are not stored.
struct UpEdge {
  double x0, y0, x1, y1;
};

class PartEdges {
 public:
  // Part number `part` of the geometry (a global part number).
  PartEdges(const FlatPolygons& geometry, uint32_t part, int edges_per_slab);

  // The x positions where the horizontal line y crosses the part (same
  // half-open rule), appended to xs unsorted. Used to classify grid cells.
  void CrossingsAt(double y, std::vector<double>& xs) const;

 private:
  int SlabOf(double y) const;

  double min_y_ = 0, max_y_ = 0, inv_slab_height_ = 0;
  int slab_count_ = 1;
  std::vector<uint32_t> slab_begin_;  // slab_count_ + 1 offsets into edges_
  std::vector<UpEdge> edges_;         // grouped by slab; an edge sits in every slab it spans
};

}  // namespace gridtree::index::internal
