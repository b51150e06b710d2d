// Kunpeng's sea area, off Guanghai's south coast (city_stages.h: CarveSea,
// GiveSeaToKunpeng).
#include <algorithm>
#include <cmath>
#include <queue>
#include <utility>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Pixels (Chebyshev) kept between the sea area and any land: the sea polygon
// is appended to Taishan's published boundary, which the raster follows only
// to within half a pixel, and must stay clear of it.
constexpr int kClearance = 3;
// How many pixels further off the coast the start may move.
constexpr int kMaxOffshore = 12;
// A sea area smaller than this (km²) is reported.
constexpr double kSmallSeaKm2 = 60;

// Where the sea may go: outside, at least kClearance pixels from any land,
// not on the raster's edge.
class OpenWater {
 public:
  OpenWater(const RasterFrame& frame, const std::vector<int32_t>& county_of)
      : W_(frame.W), H_(frame.H), near_land_(frame.PixelCount(), 0) {
    // Dilation by a square, one axis at a time: rows, then columns.
    std::vector<uint8_t> tmp(frame.PixelCount(), 0);
    const int r = kClearance;
    for (int j = 0; j < H_; ++j)
      for (int i = 0; i < W_; ++i) {
        if (county_of[static_cast<size_t>(j) * W_ + i] < 0) continue;
        for (int di = std::max(0, i - r); di <= std::min(W_ - 1, i + r); ++di) tmp[static_cast<size_t>(j) * W_ + di] = 1;
      }
    for (int j = 0; j < H_; ++j)
      for (int i = 0; i < W_; ++i) {
        if (!tmp[static_cast<size_t>(j) * W_ + i]) continue;
        for (int dj = std::max(0, j - r); dj <= std::min(H_ - 1, j + r); ++dj)
          near_land_[static_cast<size_t>(dj) * W_ + i] = 1;
      }
  }

  bool Allowed(int i, int j) const {
    return i >= 1 && j >= 1 && i < W_ - 1 && j < H_ - 1 && !near_land_[static_cast<size_t>(j) * W_ + i];
  }

 private:
  int W_, H_;
  std::vector<uint8_t> near_land_;
};

// The blob's centre: due south of Guanghai's southernmost pixel (the one
// closest to its mean column on ties), a little off the coast; failing that,
// the open-water pixel nearest to it. -1 if there is no open water.
int32_t SeaStart(const RasterFrame& frame, const OpenWater& water, const std::vector<int32_t>& guanghai) {
  const int W = frame.W, H = frame.H;
  double mean_i = 0;
  for (int32_t p : guanghai) mean_i += p % W;
  mean_i /= guanghai.size();
  int32_t south = guanghai[0];
  for (int32_t p : guanghai) {
    if (p / W < south / W || (p / W == south / W && std::abs(p % W - mean_i) < std::abs(south % W - mean_i))) south = p;
  }
  const int si = south % W, sj = south / W;
  for (int j = sj; j >= 1; --j) {
    if (water.Allowed(si, j)) {
      int jj = j;
      while (jj > 1 && water.Allowed(si, jj - 1) && j - jj < kMaxOffshore) --jj;
      return jj * W + si;
    }
  }
  int32_t start = -1;
  double bd = 1e300;
  for (int j = 1; j < H - 1; ++j)
    for (int i = 1; i < W - 1; ++i) {
      if (!water.Allowed(i, j)) continue;
      double d = double(i - si) * (i - si) + double(j - sj) * (j - sj);
      if (d < bd) {
        bd = d;
        start = j * W + i;
      }
    }
  return start;
}

// A disc-like connected blob of open water around `start` (nearest pixels
// first, 4-connected) of kJiangmen.kunpeng_sea_km2. Sets *area to its area.
std::vector<int32_t> GrowBlob(const RasterFrame& frame, const DensityField& field, const OpenWater& water,
                              int32_t start, double* area) {
  const int W = frame.W;
  std::vector<int32_t> blob;
  using Item = std::pair<int64_t, int32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> pq;
  std::vector<uint8_t> seen(frame.PixelCount(), 0);
  const int ci = start % W, cj = start / W;
  pq.push({0, start});
  seen[start] = 1;
  *area = 0;
  while (!pq.empty() && *area < kJiangmen.kunpeng_sea_km2) {
    int32_t p = pq.top().second;
    pq.pop();
    blob.push_back(p);
    *area += field.weight[p] / field.density[p];
    int i = p % W, j = p / W;
    const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    for (const auto& d : nb) {
      int a = i + d[0], b = j + d[1];
      if (!water.Allowed(a, b) || seen[static_cast<size_t>(b) * W + a]) continue;
      seen[static_cast<size_t>(b) * W + a] = 1;
      pq.push({int64_t(a - ci) * (a - ci) + int64_t(b - cj) * (b - cj), b * W + a});
    }
  }
  std::sort(blob.begin(), blob.end());
  return blob;
}

}  // namespace

SeaArea CarveSea(const GenerateOptions& options, const RasterFrame& frame, const DensityField& field,
                 const std::vector<int32_t>& county_of, const CityTree& tree) {
  ReportProgress(options, "sea", 0);
  SeaArea sea;
  sea.kunpeng = tree.Find(kJiangmen.kunpeng);
  const int32_t guanghai = tree.Find(kJiangmen.guanghai);
  if (sea.kunpeng < 0 || guanghai < 0 || tree.nodes[guanghai].pixels.empty()) return sea;
  const OpenWater water(frame, county_of);
  const int32_t start = SeaStart(frame, water, tree.nodes[guanghai].pixels);
  if (start < 0) {
    ReportNotice(options, "no room for the sea area of " + std::string(kJiangmen.kunpeng));
    return sea;
  }
  double area = 0;
  sea.pixels = GrowBlob(frame, field, water, start, &area);
  if (area < kSmallSeaKm2) ReportNotice(options, "sea area only " + std::to_string(area) + " km2");
  return sea;
}

void GiveSeaToKunpeng(SeaArea& sea, CityTree& tree) {
  if (sea.kunpeng < 0) return;
  std::vector<int32_t>& pixels = tree.nodes[sea.kunpeng].pixels;
  sea.kunpeng_land = pixels.size();
  pixels.insert(pixels.end(), sea.pixels.begin(), sea.pixels.end());  // land first, then sea
}

}  // namespace gridtree::generate
