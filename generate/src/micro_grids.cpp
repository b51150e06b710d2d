// Micro-grids inside grids (city_stages.h: SplitMicroGrids).
#include <string>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Of every grid: no micro-grids with this chance, else kMinMicroGrids plus
// one of kMicroGridChoices more (3-8).
constexpr double kNoMicroGridsChance = 0.1;
constexpr int kMinMicroGrids = 3;
constexpr int kMicroGridChoices = 6;

// How many micro-grids grid `g` is split into: Country Garden's real counts,
// or the random rule.
int MicroGridCount(const CityTree& tree, int32_t g, Rng& rng) {
  const Node& grid = tree.nodes[g];
  const Node& community = tree.nodes[grid.parent];
  const auto& country_garden = kJiangmen.country_garden_micro_grids;
  if (community.code == kJiangmen.country_garden && community.children.size() == country_garden.size())
    return country_garden[grid.code.back() - '1'];
  return rng.Uniform() < kNoMicroGridsChance ? 0 : kMinMicroGrids + static_cast<int>(rng.Below(kMicroGridChoices));
}

}  // namespace

void SplitMicroGrids(const GenerateOptions& options, const CellSplitter& splitter, const std::vector<int32_t>& grids,
                     CityTree& tree) {
  std::vector<Node>& nodes = tree.nodes;
  for (size_t k = 0; k < grids.size(); ++k) {
    if (k % 256 == 0) ReportProgress(options, "micro_grids", double(k) / grids.size());
    const int32_t g = grids[k];
    Rng rng(StreamSeed(options.seed, nodes[g].code + "#micro"));
    int n = MicroGridCount(tree, g, rng);
    if (n > static_cast<int>(nodes[g].pixels.size())) {
      ReportNotice(options, "grid " + nodes[g].code + " has " + std::to_string(nodes[g].pixels.size()) +
                                " pixels for " + std::to_string(n) + " micro-grids");
      n = static_cast<int>(nodes[g].pixels.size());
      if (n == 1) n = 0;  // one micro-grid would only repeat the grid
    }
    if (n == 0) continue;
    auto cells = splitter.Split(nodes[g].code, n, nodes[g].pixels);
    nodes[g].pixels.clear();
    nodes[g].pixels.shrink_to_fit();
    for (int c = 0; c < n; ++c) {
      int32_t id = tree.AddGeneratedChild(g, c + 1, 2, "微网格", Level::kMicroGrid, nodes[g].kind);
      nodes[id].pixels = std::move(cells[c]);
    }
  }
  ReportProgress(options, "micro_grids", 1);
}

}  // namespace gridtree::generate
