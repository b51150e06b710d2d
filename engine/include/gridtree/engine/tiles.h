// Vector tiles of the hierarchy (docs/tiles.md): Mapbox Vector Tile 2.1 in
// the Web Mercator XYZ scheme, one layer per level, every feature with its
// id, name, level, kind, metrics, area and densities, computed from one
// View (so an update shows in the next tile), and a TileJSON 3.0 document
// that describes them.
// Thread safety: free functions over a const View; call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gridtree/engine/level.h"
#include "gridtree/engine/status.h"

namespace gridtree {

class View;

struct TileId {
  int z = 0;
  uint32_t x = 0, y = 0;
};

struct TileOptions {
  // Tiles past this zoom are refused (the geometry has nothing finer).
  // DEFAULT: 16
  int max_zoom = 16;
  // Coordinate extent of a tile. DEFAULT: 4096 (the specification's)
  uint32_t extent = 4096;
  // Geometry kept around the tile, in tile units, so that borders and
  // strokes meet across tiles. DEFAULT: 64
  uint32_t buffer = 64;
};

// The smallest zoom at which a level's layer appears (docs/tiles.md):
// city 0, county 6, town 9, community 11, grid 12, micro_grid 13.
int LevelMinZoom(Level level);

// Checks z, x and y (0 <= z <= max_zoom, x and y < 2^z); the error names
// the bad coordinate.
Status CheckTile(const TileId& tile, const TileOptions& options = {});

// The tile as an MVT (protobuf bytes; empty when nothing intersects it).
Result<std::string> RenderTile(const View& view, const TileId& tile, const TileOptions& options = {});

// The TileJSON 3.0 document; tiles_url is the template clients fetch, e.g.
// "http://127.0.0.1:7480/tiles/{z}/{x}/{y}.mvt".
std::string TileJson(const View& view, std::string_view tiles_url, const TileOptions& options = {});

// An entity tag for one tile of a View, quoted ("..."), from what the tile
// may show: the dataset, and the number and metric values of every node
// the tile's walk visits (each node with an outline drawn at this zoom
// whose box meets the tile: the tile's features, and any whose outline
// misses the tile though its box does not). It changes when a value shown
// in the tile changes or the dataset is reloaded, and only then: an update
// in one grid makes stale the tiles over that grid and over the ancestors
// drawn at that zoom, not the others. Costs the walk without the geometry
// (a small fraction of RenderTile).
std::string TileETag(const View& view, const TileId& tile, const TileOptions& options = {});

}  // namespace gridtree
