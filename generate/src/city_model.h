// One city as the generator builds it and writes it out: the administrative
// tree (the real rows of the division table, then the generated grids and
// micro-grids) with metrics and traced geometry.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gridtree/engine/level.h"
#include "tessellate.h"

namespace gridtree::generate {

// What a grid or micro-grid is; kNone on the real divisions.
enum Kind : uint8_t { kNone = 0, kResidential, kPark, kSea };
inline constexpr const char* kKindNames[] = {"", "residential", "park", "sea"};

enum Metric {
  kPopulation = 0,
  kHouseholds,
  kBuildings,
  kSchools,
  kMarkets,
  kGridStaff,
  kFishermen,
  kFishingBoats,
  kMetricCount
};
inline constexpr const char* kMetricNames[] = {"population", "households", "buildings",  "schools",
                                               "markets",    "grid_staff", "fishermen", "fishing_boats"};

// A county boundary as published, in lon/lat; written out unchanged.
struct CountyShape {
  std::string source;  // the file it was read from, for messages
  std::string code, name;
  double cp_lon = 0, cp_lat = 0;  // the county seat; 0 when not given
  MultiPolygon parts;
  bool multi = false;  // read as a MultiPolygon
};

struct Node {
  std::string code;
  std::string name;
  Level level = Level::kCity;
  int32_t parent = -1;
  std::vector<int32_t> children;
  uint8_t kind = kNone;
  int county_shape = -1;  // county nodes: index into the shapes
  std::vector<int32_t> pixels;  // while the city is built: the node's raster pixels
  std::array<int64_t, kMetricCount> metrics{};
  std::vector<IntPolygon> geom;
  // Nodes near a county border: the traced shape fitted to the published
  // borders (fit_borders.cpp), in degrees, rings closed; written instead of
  // `geom` when not empty.
  MultiPolygon fitted;
};

// One city's generated tree: every node with its traced geometry, in raster
// units (half pixels) relative to the raster origin (x0i, y0i).
struct CityModel {
  std::vector<Node> nodes;
  int32_t root = -1;
  std::vector<CountyShape> shapes;
  std::vector<IntPolygon> sea_polys;
  int64_t sea_shape = -1;  // the county shape the sea area is appended to
  int64_t x0i = 0, y0i = 0;
  int W = 0, H = 0;
  bool county_level = true;  // false: towns sit directly under the city
  int64_t population = 0;
};

}  // namespace gridtree::generate
