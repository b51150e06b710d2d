// Well-known binary of a polygon outline, for shapely.wkb.loads.
#pragma once

#include <string>

#include "gridtree/index/geometry.h"

namespace gridtree::python {

// A MULTIPOLYGON in little-endian WKB, each ring closed (the index keeps
// rings without the repeated closing vertex).
std::string MultiPolygonWkb(const index::MultiPolygon& polygon);

}  // namespace gridtree::python
