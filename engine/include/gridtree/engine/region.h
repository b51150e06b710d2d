// Building and parsing regions for aggregate queries.
#pragma once

#include <string_view>

#include "gridtree/engine/engine.h"

namespace gridtree {

Region BoxRegion(double west, double south, double east, double north);
Region CircleRegion(double lon, double lat, double radius_m);
// Rings are closed and oriented as needed; a ring of fewer than three
// points or a non-finite coordinate is an InvalidArgument error.
Result<Region> PolygonRegion(index::MultiPolygon polygon);

// "POLYGON((lon lat, ...), (hole ...))" or "MULTIPOLYGON(((...)),((...)))".
// Rings are closed and oriented as needed; errors name what is wrong.
Result<Region> ParseRegionWkt(std::string_view wkt);
// A GeoJSON Polygon or MultiPolygon geometry, or a Feature holding one.
Result<Region> ParseRegionGeoJson(std::string_view json);

const char* RegionModeName(RegionMode mode);  // "contained", "intersecting", "area_weighted"
std::optional<RegionMode> ParseRegionMode(std::string_view name);

}  // namespace gridtree
