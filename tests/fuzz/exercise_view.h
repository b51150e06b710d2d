// Asks a View every kind of question once, the way the command line, the
// RPC service and the tile server do, so that a fuzzed dataset or image that
// was accepted is also one every query can take without crashing or looping.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/region.h"
#include "gridtree/engine/tiles.h"
#include "gridtree/index/geometry.h"

namespace gridtree::fuzz {

// Walks every vertex as `gridtree export` writes it (the first vertex again
// to close each ring).
inline size_t WalkOutline(const index::MultiPolygon& mp) {
  size_t vertices = 0;
  for (const auto& part : mp.parts)
    for (const auto& ring : part.rings)
      for (size_t i = 0; i <= ring.size(); ++i) vertices += ring[i % ring.size()].x == ring[0].x;
  return vertices;
}

inline void ExerciseView(const View& view, size_t max_nodes = 64) {
  const Dataset& ds = view.dataset();
  const size_t n = std::min(ds.node_count(), max_nodes);
  for (size_t k = 0; k < n; ++k) {
    const NodeId node(static_cast<int32_t>(k));
    (void)view.ChainOf(node);
    (void)view.Aggregate(node);
    (void)view.Children(node);
    (void)view.AreaKm2(node);
    const index::Box& b = ds.node_bounds[k];
    (void)view.Locate({(b.min_x + b.max_x) / 2, (b.min_y + b.max_y) / 2});
    (void)view.Locate({b.min_x, b.min_y});
    if (const LeafId leaf = view.LeafOf(node); leaf.valid()) (void)WalkOutline(view.spatial_index().polygon(leaf.value));
    else if (!ds.inner_geometry.empty(k)) (void)WalkOutline(ds.inner_geometry.Get(k));
    (void)view.Find(view.id(node));
  }
  (void)view.FindByNamePrefix("", 16);
  if (ds.node_count() == 0) return;
  const index::Box& all = ds.node_bounds[0];
  for (uint8_t l = 0; l < kLevelCount; ++l) {
    RegionQuery rq;
    rq.region = BoxRegion(all.min_x, all.min_y, all.max_x, all.max_y);
    rq.group_by = static_cast<Level>(l);
    (void)view.RegionAggregate(rq);
    if (view.metric_count() > 0) {
      TopKQuery tq;
      tq.level = static_cast<Level>(l);
      tq.k = 4;
      tq.density = l % 2;
      (void)view.TopK(tq);
    }
  }
  // The tiles over the middle of the first root, from the world down.
  if (!std::isfinite(all.min_x + all.max_x + all.min_y + all.max_y)) return;  // a root without geometry
  const double lon = std::clamp((all.min_x + all.max_x) / 2, -180.0, 179.999);
  const double lat = std::clamp((all.min_y + all.max_y) / 2, -85.0, 85.0);
  for (int z = 0; z <= 14; z += 2) {
    const double scale = static_cast<double>(uint32_t{1} << z);
    const double merc = std::log(std::tan(M_PI / 4 + lat * M_PI / 360));
    const auto x = static_cast<uint32_t>((lon + 180) / 360 * scale);
    const auto y = static_cast<uint32_t>(std::clamp((1 - merc / M_PI) / 2 * scale, 0.0, scale - 1));
    (void)RenderTile(view, TileId{z, std::min(x, uint32_t{1} << z), y});
  }
}

}  // namespace gridtree::fuzz
