// Exact coverage checks between a node and its children, for the findings
// that refuse a broken hierarchy (docs/dataset.md): siblings that overlap,
// a child reaching outside its parent, children leaving part of their parent
// uncovered. Each measures the area (km² on the ellipsoid) and names a point
// inside it, so that a person can go and look.
//
// Boost.Geometry does the polygon operations on lon/lat as plane
// coordinates: exact enough to find and size a defect, not used to answer
// queries.
#pragma once

#include <optional>
#include <vector>

#include "gridtree/index/geometry.h"

namespace gridtree::internal {

struct AreaDefect {
  double area_km2 = 0;
  index::Point point;  // a point inside the defect's largest piece (its centroid when that is inside)
};

// The part of `a` inside `b`; none when they share no area.
std::optional<AreaDefect> Overlap(const index::MultiPolygon& a, const index::MultiPolygon& b);
// The part of `child` outside `parent`.
std::optional<AreaDefect> Outside(const index::MultiPolygon& child, const index::MultiPolygon& parent);
// The part of `parent` in none of `children`.
std::optional<AreaDefect> Uncovered(const index::MultiPolygon& parent,
                                    const std::vector<const index::MultiPolygon*>& children);

}  // namespace gridtree::internal
