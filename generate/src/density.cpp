// The population density field (city_stages.h: PopulationDensity).
#include <algorithm>
#include <cmath>
#include <numbers>

#include "city_stages.h"

namespace gridtree::generate {
namespace {

// The bump at every county seat.
constexpr double kSeatAmplitude = 15;
constexpr double kSeatSigma = 0.025;  // degrees
// Kilometres per degree of latitude.
constexpr double kKmPerDegree = 111.32;

}  // namespace

DensityField PopulationDensity(const RasterFrame& frame, const std::vector<CountyShape>& shapes) {
  // Jiangmen's urban cores are in every city's field; far from Jiangmen they
  // add next to nothing, but their amplitude still sets `peak`.
  std::vector<DensityBump> bumps(kJiangmen.urban_cores.begin(), kJiangmen.urban_cores.end());
  for (const CountyShape& s : shapes)
    if (s.cp_lon != 0) bumps.push_back({s.cp_lon, s.cp_lat, kSeatAmplitude, kSeatSigma});
  DensityField field;
  for (const DensityBump& b : bumps) field.peak = std::max(field.peak, b.amplitude);

  const int W = frame.W, H = frame.H;
  field.density.resize(frame.PixelCount());
  field.weight.resize(frame.PixelCount());
  std::vector<double> row_area(H);  // km² of a pixel in row j
  for (int j = 0; j < H; ++j) {
    double lat = frame.Lat(j + 0.5);
    double km = kKmPerDegree / frame.R;
    row_area[j] = km * km * std::cos(lat * std::numbers::pi / 180.0);
  }
  // Each bump is separable: exp(-(dx² + dy²)/2σ²) = GX(i) * GY(j).
  std::vector<std::vector<double>> GX(bumps.size(), std::vector<double>(W)), GY(bumps.size(), std::vector<double>(H));
  for (size_t b = 0; b < bumps.size(); ++b) {
    double s2 = 2 * bumps[b].sigma * bumps[b].sigma;
    for (int i = 0; i < W; ++i) {
      double dx = (frame.Lon(i + 0.5) - bumps[b].lon) * std::cos(bumps[b].lat * std::numbers::pi / 180.0);
      GX[b][i] = bumps[b].amplitude * std::exp(-dx * dx / s2);
    }
    for (int j = 0; j < H; ++j) {
      double dy = frame.Lat(j + 0.5) - bumps[b].lat;
      GY[b][j] = std::exp(-dy * dy / s2);
    }
  }
  for (int j = 0; j < H; ++j) {
    for (int i = 0; i < W; ++i) {
      double d = 1.0;
      for (size_t b = 0; b < bumps.size(); ++b) d += GX[b][i] * GY[b][j];
      field.density[static_cast<size_t>(j) * W + i] = static_cast<float>(d);
      field.weight[static_cast<size_t>(j) * W + i] = static_cast<float>(d * row_area[j]);
    }
  }
  return field;
}

}  // namespace gridtree::generate
