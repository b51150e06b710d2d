// Polygon geometry of one vector tile: Web Mercator projection into tile
// coordinates, clipping to the buffered tile, snapping to the integer grid
// and the winding the MVT specification requires, then the command stream
// (MoveTo, LineTo, ClosePath with zigzag deltas).
//
// Neighbours keep sharing their borders exactly: every vertex is projected
// and snapped on its own, so a vertex two leaves share lands on the same
// integer point in both, and snapping to the tile grid is the per-zoom
// simplification (vertices closer than one tile unit merge).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gridtree/engine/tiles.h"
#include "gridtree/index/flat_polygons.h"

namespace gridtree::internal {

class TileProjection {
 public:
  TileProjection(const TileId& tile, uint32_t extent);
  // Tile coordinates (y down) of a lon/lat point, unrounded.
  void Project(index::Point p, double* x, double* y) const;
  // The lon/lat box of the tile grown by buffer tile units.
  index::Box LonLatBox(uint32_t buffer) const;

 private:
  double scale_;  // world tile units per unit of Mercator x in [0, 1)
  double x0_, y0_;
  int z_;
  uint32_t x_, y_, extent_;
};

// Appends the MVT geometry commands of polygon `polygon` of `geometry` to
// out; returns false (appending nothing) when nothing of it is left in the
// buffered tile. scratch is reused between calls.
struct RingScratch {
  std::vector<double> xs, ys, cx, cy;
  std::vector<int32_t> ix, iy;
  std::vector<uint32_t> part_commands;
};
bool AppendPolygonCommands(const index::FlatPolygons& geometry, size_t polygon, const TileProjection& projection,
                           uint32_t extent, uint32_t buffer, RingScratch& scratch, std::vector<uint32_t>& out);

}  // namespace gridtree::internal
