// Weighted Voronoi cells of a parent's pixels (city_stages.h: CellSplitter).
#include <string>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Picks one pixel of `pixels` with probability proportional to weight^2.
int32_t DrawSquared(const std::vector<int32_t>& pixels, const float* weight, Rng& rng) {
  double total = 0;
  for (int32_t p : pixels) total += double(weight[p]) * weight[p];
  double u = rng.Uniform() * total, acc = 0;
  for (size_t n = 0; n < pixels.size(); ++n) {
    acc += double(weight[pixels[n]]) * weight[pixels[n]];
    if (acc > u) return static_cast<int32_t>(n);
  }
  return static_cast<int32_t>(pixels.size() - 1);
}

// The position in `pixels` of the pixel whose centre is nearest (lon, lat)
// in degrees, -1 if there are no pixels.
int32_t NearestPixel(const std::vector<int32_t>& pixels, const RasterFrame& frame, double lon, double lat) {
  int32_t best = -1;
  double bd = 1e300;
  for (size_t n = 0; n < pixels.size(); ++n) {
    int32_t p = pixels[n];
    double dx = frame.Lon(p % frame.W + 0.5) - lon, dy = frame.Lat(p / frame.W + 0.5) - lat;
    if (dx * dx + dy * dy < bd) {
      bd = dx * dx + dy * dy;
      best = static_cast<int32_t>(n);
    }
  }
  return best;
}

// Street offices (街道) have town codes ending in 0xx; they sit in the urban core.
bool IsStreetOffice(const std::string& code) { return code.size() >= 3 && code[code.size() - 3] == '0'; }

}  // namespace

std::vector<std::vector<int32_t>> CellSplitter::Split(const std::string& code, int k,
                                                      const std::vector<int32_t>& pixels,
                                                      const std::vector<int32_t>& fixed) const {
  return SplitWithStream(code + "#split", k, pixels, fixed);
}

std::vector<std::vector<int32_t>> CellSplitter::SplitSea(const std::string& code, int k,
                                                         const std::vector<int32_t>& pixels) const {
  return SplitWithStream(code + "#sea", k, pixels, {});
}

std::vector<std::vector<int32_t>> CellSplitter::SplitWithStream(const std::string& stream, int k,
                                                                const std::vector<int32_t>& pixels,
                                                                const std::vector<int32_t>& fixed) const {
  Rng rng(StreamSeed(options_.seed, stream));
  return VoronoiSplit(pixels, k, field_.weight.data(), 1.0, frame_.W, rng, fixed);
}

void CellSplitter::SplitAmongChildren(CityTree& tree, int32_t parent, bool street_seeds) const {
  Node& P = tree.nodes[parent];
  int k = static_cast<int>(P.children.size());
  if (static_cast<size_t>(k) > P.pixels.size()) {
    ReportNotice(options_, "only " + std::to_string(P.pixels.size()) + " pixels for the " + std::to_string(k) +
                               " children of " + P.code + "; dropping the last children");
    k = static_cast<int>(P.pixels.size());
  }
  std::vector<int32_t> fixed(k, -1);
  Rng rng(StreamSeed(options_.seed, P.code + "#fixed"));
  for (int c = 0; c < k; ++c) {
    const Node& child = tree.nodes[P.children[c]];
    for (const TownSeat& seat : kJiangmen.town_seats)
      if (child.code == seat.code) fixed[c] = NearestPixel(P.pixels, frame_, seat.lon, seat.lat);
    if (fixed[c] < 0 && street_seeds && IsStreetOffice(child.code))
      fixed[c] = DrawSquared(P.pixels, field_.weight.data(), rng);
  }
  auto cells = Split(P.code, k, P.pixels, fixed);
  for (int c = 0; c < k; ++c) tree.nodes[P.children[c]].pixels = std::move(cells[c]);
  P.children.resize(k);  // reduced (reported above) when the parent is too small
  P.pixels.clear();
  P.pixels.shrink_to_fit();
}

}  // namespace gridtree::generate
