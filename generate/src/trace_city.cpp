// The generated nodes' geometry, traced from the leaf raster (city_stages.h:
// TraceBoundaries).
#include <utility>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {

std::vector<IntPolygon> TraceBoundaries(const GenerateOptions& options, const RasterFrame& frame,
                                        const LeafRaster& raster, const SeaArea& sea, CityTree& tree) {
  std::vector<Node>& nodes = tree.nodes;
  const int32_t N = static_cast<int32_t>(nodes.size());
  const int W = frame.W, H = frame.H;
  const std::vector<int32_t>& leaf = raster.leaf;
  std::vector<std::vector<TracedRing>> rings(N);
  auto sink = [&](TracedRing&& r) { rings[r.label].push_back(std::move(r)); };
  // Leaves keep the rings traced on the leaf level; the levels traced after
  // it only give the inner nodes their geometry.
  auto collect = [&](bool only_inner) {
    for (int32_t n = 0; n < N; ++n) {
      if (rings[n].empty()) continue;
      if (!only_inner || !nodes[n].children.empty()) nodes[n].geom = AssemblePolygons(std::move(rings[n]), W);
      rings[n].clear();
    }
  };
  ReportProgress(options, "trace", 0);
  // Junctions are always judged on the leaf raster, so a town's boundary is
  // exactly the union of its leaves' (docs/generator.md, "Tracing").
  TraceRings(W, H, leaf, leaf, sink);
  collect(false);
  std::vector<int32_t> lab(leaf.size());
  if (options.inner_geometry) {
    for (Level level : {Level::kTown, Level::kCommunity, Level::kGrid}) {
      ReportProgress(options, "trace", (static_cast<int>(level) - 1) / 4.0);
      const std::vector<int32_t>& ancestor = raster.AncestorsAt(level);
      for (size_t p = 0; p < leaf.size(); ++p) lab[p] = leaf[p] < 0 ? -1 : ancestor[leaf[p]];
      TraceRings(W, H, lab, leaf, sink);
      collect(true);
    }
  }
  std::vector<IntPolygon> sea_polys;
  if (!sea.pixels.empty()) {
    for (size_t p = 0; p < leaf.size(); ++p) lab[p] = (leaf[p] >= 0 && nodes[leaf[p]].kind == kSea) ? 0 : -1;
    std::vector<TracedRing> sr;
    TraceRings(W, H, lab, leaf, [&](TracedRing&& r) { sr.push_back(std::move(r)); });
    sea_polys = AssemblePolygons(std::move(sr), W);
  }
  ReportProgress(options, "trace", 1);
  return sea_polys;
}

}  // namespace gridtree::generate
