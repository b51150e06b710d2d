// The real towns and communities, as Voronoi cells of their parents
// (city_stages.h: PlaceTowns, PlaceCommunities).
#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {

void PlaceTowns(const GenerateOptions& options, const CellSplitter& splitter, CityTree& tree) {
  const std::vector<int32_t>& counties = tree.nodes[tree.root].children;
  for (size_t c = 0; c < counties.size(); ++c) {
    ReportProgress(options, "towns", double(c) / counties.size());
    splitter.SplitAmongChildren(tree, counties[c], true);
  }
}

void PlaceCommunities(const GenerateOptions& options, const CellSplitter& splitter, CityTree& tree) {
  const std::vector<int32_t> towns = tree.Towns();
  for (size_t k = 0; k < towns.size(); ++k) {
    ReportProgress(options, "communities", double(k) / towns.size());
    splitter.SplitAmongChildren(tree, towns[k], false);
  }
}

}  // namespace gridtree::generate
