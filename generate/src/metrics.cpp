// Every leaf's metrics, adding up to the calibrated totals (city_stages.h:
// AssignMetrics).
#include <algorithm>
#include <cmath>

#include "allocate.h"
#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Per node: the sums over its leaf pixels.
struct LeafSums {
  std::vector<double> weight, density, area;
};

LeafSums SumOverLeaves(const DensityField& field, const LeafRaster& raster, size_t nodes) {
  LeafSums s{std::vector<double>(nodes, 0), std::vector<double>(nodes, 0), std::vector<double>(nodes, 0)};
  for (size_t p = 0; p < raster.leaf.size(); ++p) {
    int32_t l = raster.leaf[p];
    if (l < 0) continue;
    s.weight[l] += field.weight[p];
    s.density[l] += field.density[p];
    s.area[l] += field.weight[p] / field.density[p];
  }
  return s;
}

double PopulationFactor(uint8_t kind) {
  return kind == kPark ? kRatios.park_population_factor : kind == kSea ? kRatios.sea_population_factor : 1.0;
}

// One staff member per grid, the rest by grid population, all on the grid's
// first leaf.
void AssignGridStaff(const Calibration& cal, const std::vector<int32_t>& grids, std::vector<Node>& nodes) {
  std::vector<double> gp;
  for (int32_t g : grids) {
    double s = 0;
    if (nodes[g].children.empty()) s = nodes[g].metrics[kPopulation];
    for (int32_t c : nodes[g].children) s += nodes[c].metrics[kPopulation];
    gp.push_back(s);
  }
  auto staff = LargestRemainder(cal.grid_staff - static_cast<int64_t>(grids.size()), gp);
  for (size_t k = 0; k < grids.size(); ++k) {
    int32_t g = grids[k];
    int32_t first = nodes[g].children.empty() ? g : nodes[g].children[0];
    nodes[first].metrics[kGridStaff] = 1 + staff[k];
  }
}

}  // namespace

void AssignMetrics(const GenerateOptions& options, const Calibration& cal, const DensityField& field,
                   const LeafRaster& raster, const std::vector<int32_t>& leaves, const std::vector<int32_t>& grids,
                   CityTree& tree) {
  ReportProgress(options, "metrics", 0);
  std::vector<Node>& nodes = tree.nodes;
  const LeafSums sums = SumOverLeaves(field, raster, nodes.size());
  const Ratios& r = kRatios;
  // Population by density x area, then everything else from the population.
  std::vector<double> pw, bw, sea_area;
  for (int32_t l : leaves) pw.push_back(sums.weight[l] * PopulationFactor(nodes[l].kind));
  auto pop = LargestRemainder(cal.population, pw);
  double btotal = 0;
  for (size_t k = 0; k < leaves.size(); ++k) {
    int32_t l = leaves[k];
    // How urban the leaf is, 0..1: fewer buildings per household in the cores.
    double mean_density = raster.leaf_pixels[l] ? sums.density[l] / raster.leaf_pixels[l] : 1.0;
    double urban = std::clamp((mean_density - 1.0) / field.peak, 0.0, 1.0);
    bw.push_back(pop[k] / r.people_per_household / r.households_per_rural_building /
                 (1.0 + r.urban_building_gain * urban));
    btotal += bw.back();
    sea_area.push_back(nodes[l].kind == kSea ? sums.area[l] : 0.0);
  }
  std::vector<double> popd(pop.begin(), pop.end());
  auto hh = LargestRemainder(std::llround(cal.population / r.people_per_household), popd);
  auto bld = LargestRemainder(std::llround(btotal), bw);
  auto sch = LargestRemainder(std::llround(cal.population / r.people_per_school), popd);
  auto mkt = LargestRemainder(std::llround(cal.population / r.people_per_market), popd);
  // Fishermen and boats live on the sea leaves, by area.
  bool any_sea = std::any_of(sea_area.begin(), sea_area.end(), [](double a) { return a > 0; });
  auto fish = any_sea ? LargestRemainder(kJiangmen.fishermen, sea_area) : std::vector<int64_t>(leaves.size(), 0);
  auto boats = any_sea ? LargestRemainder(kJiangmen.fishing_boats, sea_area) : std::vector<int64_t>(leaves.size(), 0);
  for (size_t k = 0; k < leaves.size(); ++k) {
    auto& m = nodes[leaves[k]].metrics;
    m[kPopulation] = pop[k];
    m[kHouseholds] = hh[k];
    m[kBuildings] = bld[k];
    m[kSchools] = sch[k];
    m[kMarkets] = mkt[k];
    m[kFishermen] = fish[k];
    m[kFishingBoats] = boats[k];
  }
  AssignGridStaff(cal, grids, nodes);
}

}  // namespace gridtree::generate
