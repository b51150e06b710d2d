// Ring cleaning and simplicity checks used by the loader.
#pragma once

#include "gridtree/index/geometry.h"

namespace gridtree::internal {

enum class RingDefect { kNone, kTouches, kCrosses };

// Whether non-adjacent edges of the (open) ring meet: a proper crossing, or
// only a touch (a vertex on another edge, collinear overlap). Sweep over
// edges sorted by x; fine for rings of many thousand vertices.
RingDefect CheckRingSimple(const index::Ring& ring);

// Removes consecutive repeated vertices (also across the closing edge);
// returns how many were removed.
size_t RemoveRepeatedVertices(index::Ring& ring);

}  // namespace gridtree::internal
