// The raster around the counties, and the counties on it (city_stages.h:
// FrameAround, RasterizeCounties).
#include <algorithm>
#include <cmath>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Pixels of outside around the counties' bounding box, so every boundary
// (and the sea area) lies inside the raster.
constexpr int kMargin = 8;

}  // namespace

RasterFrame FrameAround(const std::vector<CountyShape>& shapes, int pixels_per_degree) {
  const int R = pixels_per_degree;
  double minx = 1e9, maxx = -1e9, miny = 1e9, maxy = -1e9;
  for (const CountyShape& s : shapes)
    for (const auto& poly : s.parts)
      for (const auto& ring : poly)
        for (const auto& pt : ring) {
          minx = std::min(minx, pt[0]);
          maxx = std::max(maxx, pt[0]);
          miny = std::min(miny, pt[1]);
          maxy = std::max(maxy, pt[1]);
        }
  RasterFrame f;
  f.R = R;
  f.x0i = static_cast<int64_t>(std::floor(minx * R)) - kMargin;
  f.y0i = static_cast<int64_t>(std::floor(miny * R)) - kMargin;
  f.W = static_cast<int>(static_cast<int64_t>(std::ceil(maxx * R)) + kMargin - f.x0i);
  f.H = static_cast<int>(static_cast<int64_t>(std::ceil(maxy * R)) + kMargin - f.y0i);
  f.x0 = static_cast<double>(f.x0i) / R;
  f.y0 = static_cast<double>(f.y0i) / R;
  return f;
}

std::vector<int32_t> RasterizeCounties(const GenerateOptions& options, const RasterFrame& frame,
                                       const std::vector<CountyShape>& shapes, CityTree& tree) {
  ReportProgress(options, "rasterize", 0);
  std::vector<int32_t> county_of(frame.PixelCount(), -1);
  {
    std::vector<MultiPolygon> mp;
    for (const CountyShape& s : shapes) mp.push_back(s.parts);
    RasterizeEvenOdd(mp, frame.x0, frame.y0, frame.R, frame.W, frame.H, county_of);
  }
  std::vector<int32_t> county_node(shapes.size());
  for (size_t s = 0; s < shapes.size(); ++s) county_node[s] = tree.Find(shapes[s].code);
  for (size_t p = 0; p < county_of.size(); ++p)
    if (county_of[p] >= 0) tree.nodes[county_node[county_of[p]]].pixels.push_back(static_cast<int32_t>(p));
  ReportProgress(options, "rasterize", 1);
  return county_of;
}

}  // namespace gridtree::generate
