// The raster of leaves, without pinches (city_stages.h: LabelLeaves,
// GeneratedLeaves).
#include <string>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {

LeafRaster LabelLeaves(const GenerateOptions& options, const RasterFrame& frame, CityTree& tree) {
  std::vector<Node>& nodes = tree.nodes;
  const int32_t N = static_cast<int32_t>(nodes.size());
  LeafRaster r;
  r.leaf.assign(frame.PixelCount(), -1);
  r.leaf_pixels.assign(N, 0);
  for (int32_t n = 0; n < N; ++n) {
    if (!nodes[n].children.empty()) continue;
    for (int32_t p : nodes[n].pixels) r.leaf[p] = n;
    r.leaf_pixels[n] = static_cast<int64_t>(nodes[n].pixels.size());
    nodes[n].pixels.clear();
    nodes[n].pixels.shrink_to_fit();
  }
  r.ancestors.assign(kLevelCount - 1, std::vector<int32_t>(N, -1));
  for (int32_t n = 0; n < N; ++n) {
    for (int L = 1; L < kLevelCount; ++L) {
      int32_t a = n;
      while (static_cast<int>(nodes[a].level) > L) a = nodes[a].parent;
      r.ancestors[L - 1][n] = a;
    }
  }
  ReportProgress(options, "pinches", 0);
  int unresolved = 0;
  RemovePinches(frame.W, frame.H, r.leaf, r.ancestors, r.leaf_pixels, &unresolved);
  if (unresolved) ReportNotice(options, std::to_string(unresolved) + " pinches could not be removed");
  ReportProgress(options, "pinches", 1);
  return r;
}

std::vector<int32_t> GeneratedLeaves(const CityTree& tree) {
  std::vector<int32_t> leaves;
  for (int32_t n = 0; n < static_cast<int32_t>(tree.nodes.size()); ++n)
    if (tree.nodes[n].children.empty() && tree.nodes[n].level >= Level::kGrid) leaves.push_back(n);
  return leaves;
}

}  // namespace gridtree::generate
