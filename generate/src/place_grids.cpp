// Grids: how many each community gets, and their cells (city_stages.h:
// CountGrids, PlaceGrids).
#include <algorithm>
#include <string>
#include <utility>

#include "allocate.h"
#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// A community's population weight: density x area over its pixels, its sea
// pixels (Kunpeng's, after its land ones) at sea density.
double PopulationWeight(const DensityField& field, const SeaArea& sea, const CityTree& tree, int32_t m) {
  double w = 0;
  const auto& px = tree.nodes[m].pixels;
  for (size_t k = 0; k < px.size(); ++k)
    w += field.weight[px[k]] * (m == sea.kunpeng && k >= sea.kunpeng_land ? kRatios.sea_population_factor : 1.0);
  return w;
}

// Kunpeng's grids: about half on land (kind residential), half on the sea
// (kind sea), each part split on its own.
void SplitLandAndSea(const CellSplitter& splitter, const SeaArea& sea, const std::string& code,
                     const std::vector<int32_t>& px, int64_t n, std::vector<std::vector<int32_t>>& cells,
                     std::vector<uint8_t>& kinds) {
  std::vector<int32_t> land(px.begin(), px.begin() + sea.kunpeng_land), water(px.begin() + sea.kunpeng_land, px.end());
  int64_t n_sea = std::max<int64_t>(1, n / 2), n_land = std::max<int64_t>(1, n - n_sea);
  n_land = std::min<int64_t>(n_land, land.size());
  n_sea = std::min<int64_t>(n - n_land, water.size());
  auto a = splitter.Split(code, static_cast<int>(n_land), land);
  auto b = splitter.SplitSea(code, static_cast<int>(n_sea), water);
  for (auto& c : a) {
    cells.push_back(std::move(c));
    kinds.push_back(kResidential);
  }
  for (auto& c : b) {
    cells.push_back(std::move(c));
    kinds.push_back(kSea);
  }
}

}  // namespace

std::vector<int64_t> CountGrids(const Calibration& cal, const DensityField& field, const SeaArea& sea,
                                const std::vector<int32_t>& communities, const CityTree& tree) {
  const std::vector<Node>& nodes = tree.nodes;
  std::vector<int64_t> grid_count(nodes.size(), 0);
  // Country Garden's grids are fixed; Pengjiang's other communities share
  // Pengjiang's real count, the rest of the city the rest.
  const int32_t cg = tree.Find(kJiangmen.country_garden);
  const int32_t pj = tree.Find(kJiangmen.pengjiang);
  std::vector<int32_t> group_pj, group_rest;
  for (int32_t m : communities) {
    if (m == cg) continue;
    (pj >= 0 && nodes[nodes[m].parent].parent == pj ? group_pj : group_rest).push_back(m);
  }
  const auto country_garden_grids = static_cast<int64_t>(kJiangmen.country_garden_micro_grids.size());
  int64_t cg_grids = cg >= 0 ? std::min<int64_t>(country_garden_grids, nodes[cg].pixels.size()) : 0;
  int64_t total_pj = pj >= 0 ? kJiangmen.pengjiang_grids - cg_grids : 0;
  int64_t total_rest = cal.grids - cg_grids - total_pj;
  if (cg >= 0) grid_count[cg] = cg_grids;
  // Each community gets at least one grid (Kunpeng a few, on land and sea),
  // at most one per pixel, the rest by population weight.
  for (auto [group, total] : {std::pair{&group_pj, total_pj}, std::pair{&group_rest, total_rest}}) {
    std::vector<int64_t> mins, caps;
    std::vector<double> w;
    for (int32_t m : *group) {
      int64_t mn = sea.OwnedBy(m) ? kRatios.kunpeng_min_grids : 1;
      int64_t cap = static_cast<int64_t>(nodes[m].pixels.size());
      // Half of Kunpeng's grids go on land, at least a pixel each: at most
      // twice its land pixels.
      if (sea.OwnedBy(m)) cap = std::min<int64_t>(cap, int64_t(sea.kunpeng_land) * 2);
      mins.push_back(std::min(mn, cap));
      caps.push_back(cap);
      w.push_back(PopulationWeight(field, sea, tree, m));
    }
    auto counts = Allocate(total, mins, w, caps);
    for (size_t k = 0; k < group->size(); ++k) grid_count[(*group)[k]] = counts[k];
  }
  return grid_count;
}

std::vector<int32_t> PlaceGrids(const GenerateOptions& options, const CellSplitter& splitter, const SeaArea& sea,
                                const std::vector<int32_t>& communities, const std::vector<int64_t>& grid_count,
                                CityTree& tree) {
  std::vector<int32_t> grids;
  for (size_t k = 0; k < communities.size(); ++k) {
    if (k % 64 == 0) ReportProgress(options, "grids", double(k) / communities.size());
    const int32_t m = communities[k];
    const std::string code = tree.nodes[m].code;  // a copy: adding grids moves the nodes
    std::vector<int32_t> px = std::move(tree.nodes[m].pixels);
    const int64_t n = grid_count[m];
    std::vector<std::vector<int32_t>> cells;
    std::vector<uint8_t> kinds;
    if (sea.OwnedBy(m)) {
      SplitLandAndSea(splitter, sea, code, px, n, cells, kinds);
    } else {
      cells = splitter.Split(code, static_cast<int>(n), px);
      kinds.assign(cells.size(), kResidential);
    }
    if (static_cast<int64_t>(cells.size()) != n)
      ReportNotice(options, "community " + code + " gets " + std::to_string(cells.size()) + " grids instead of " +
                                std::to_string(n));
    for (size_t g = 0; g < cells.size(); ++g) {
      int32_t id = tree.AddGeneratedChild(m, static_cast<int>(g + 1), 3, "网格", Level::kGrid, kinds[g]);
      tree.nodes[id].pixels = std::move(cells[g]);
      grids.push_back(id);
    }
  }
  return grids;
}

}  // namespace gridtree::generate
