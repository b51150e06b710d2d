// Raster tessellation used by the dataset generator (internal header).
//
// Everything works on a W x H pixel raster, row 0 in the south, pixel (i, j)
// at index j * W + i. Labels are int32 node indices, -1 = outside. Traced
// geometry is in integer HALF-pixel coordinates relative to the raster origin:
// pixel corners are even numbers, pixel-edge midpoints odd ones.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace gridtree::generate {

// Deterministic PRNG (splitmix64); never std distributions.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t s) : state(s) {}
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0.
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64); }
};

// A seed-dependent stream for a key (e.g. a node id), independent of call order.
uint64_t StreamSeed(uint64_t seed, std::string_view key);

using Ring = std::vector<std::array<double, 2>>;       // lon/lat, as read
using Polygon = std::vector<Ring>;                      // outer, then holes
using MultiPolygon = std::vector<Polygon>;

// Sets label[p] = index of the first shape whose rings (all parts, even-odd)
// contain the centre of pixel p, for pixels still -1. Origin (x0, y0) and the
// shapes are in degrees; R pixels per degree.
void RasterizeEvenOdd(const std::vector<MultiPolygon>& shapes, double x0, double y0, int R, int W, int H,
                      std::vector<int32_t>& label);

// Partitions `pixels` (sorted indices) into k cells of a multiplicatively
// weighted Voronoi diagram whose seeds are drawn from `pixels` with
// probability proportional to weight[p]^exponent. fixed[c] >= 0 forces the
// seed of cell c. Each seed keeps its own pixel. k <= pixels.size().
std::vector<std::vector<int32_t>> VoronoiSplit(const std::vector<int32_t>& pixels, int k, const float* weight,
                                               double exponent, int W, Rng& rng,
                                               const std::vector<int32_t>& fixed = {});

// Removes every 2x2 pinch at every level (label at level L = anc[L][leaf]),
// relabelling one of the two other pixels of the window to the full label of
// the diagonal pair. leaf_count[n] counts the pixels of leaf n and is kept up
// to date; a leaf never loses its last pixel. Returns the number of relabels.
int64_t RemovePinches(int W, int H, std::vector<int32_t>& leaf, const std::vector<std::vector<int32_t>>& anc,
                      std::vector<int64_t>& leaf_count, int* unresolved);

// One traced ring: half-pixel coordinates (x, y interleaved), not closed.
struct TracedRing {
  int32_t label = -1;
  int32_t first_pixel = -1;  // a pixel of `label` on the ring's left
  int64_t area2 = 0;         // twice the signed area (half-pixel units): > 0 outer (CCW), < 0 hole
  std::vector<int32_t> xy;
};

// Traces the boundaries of every label >= 0 of `label` into rings with the
// interior on the left, cutting non-junction corners (junction = the four
// pixels around a corner carry >= 3 distinct labels of `junction`).
void TraceRings(int W, int H, const std::vector<int32_t>& label, const std::vector<int32_t>& junction,
                const std::function<void(TracedRing&&)>& sink);

// Groups the rings of one label into polygons: each outer ring with the holes
// it contains. Output rings are half-pixel coordinates, not closed.
using IntRing = std::vector<int32_t>;
using IntPolygon = std::vector<IntRing>;
std::vector<IntPolygon> AssemblePolygons(std::vector<TracedRing>&& rings, int W);

}  // namespace gridtree::generate
