// Building one city: the stages of city_stages.h, in order.
#include "build_city.h"

#include <algorithm>
#include <utility>

#include "city_stages.h"

namespace gridtree::generate {

Result<CityModel> BuildCity(const GenerateOptions& options, const std::string& where, std::vector<CountyShape> shapes,
                            const std::vector<Division>& divs, bool jiangmen) {
  auto tree_r = ReadTree(where, divs, shapes);
  if (!tree_r.ok()) return tree_r.status();
  CityTree& tree = tree_r.value();
  const int64_t communities_in_table = std::count_if(
      tree.nodes.begin(), tree.nodes.end(), [](const Node& n) { return n.level == Level::kCommunity; });
  const Calibration cal = jiangmen ? Calibration::Jiangmen() : Calibration::PerCommunity(communities_in_table);

  const RasterFrame frame = FrameAround(shapes, options.pixels_per_degree);
  const DensityField field = PopulationDensity(frame, shapes);
  const CellSplitter splitter(options, frame, field);

  const std::vector<int32_t> county_of = RasterizeCounties(options, frame, shapes, tree);
  PlaceTowns(options, splitter, tree);
  // The sea needs Guanghai's pixels, so it comes after the towns.
  SeaArea sea = CarveSea(options, frame, field, county_of, tree);
  PlaceCommunities(options, splitter, tree);
  GiveSeaToKunpeng(sea, tree);

  const std::vector<int32_t> communities = tree.Communities();
  const std::vector<int64_t> grid_count = CountGrids(cal, field, sea, communities, tree);
  const std::vector<int32_t> grids = PlaceGrids(options, splitter, sea, communities, grid_count, tree);
  MarkParkGrids(options, cal, grids, tree);
  SplitMicroGrids(options, splitter, grids, tree);

  const LeafRaster raster = LabelLeaves(options, frame, tree);
  const std::vector<int32_t> leaves = GeneratedLeaves(tree);
  AssignMetrics(options, cal, field, raster, leaves, grids, tree);
  std::vector<IntPolygon> sea_polys = TraceBoundaries(options, frame, raster, sea, tree);
  for (int32_t l : leaves)
    if (tree.nodes[l].geom.empty())
      return Status(StatusCode::kInternal, "generate: leaf " + tree.nodes[l].code + " lost all its pixels");
  if (Status fit = FitCountyBorders(options, frame, raster, shapes, tree); !fit.ok()) return fit;

  CityModel model;
  // Kunpeng's county (Taishan) carries the sea area as one more polygon.
  if (sea.kunpeng >= 0) model.sea_shape = tree.nodes[tree.nodes[tree.nodes[sea.kunpeng].parent].parent].county_shape;
  model.nodes = std::move(tree.nodes);
  model.root = tree.root;
  model.shapes = std::move(shapes);
  model.sea_polys = std::move(sea_polys);
  model.x0i = frame.x0i;
  model.y0i = frame.y0i;
  model.W = frame.W;
  model.H = frame.H;
  model.population = cal.population;
  return model;
}

}  // namespace gridtree::generate
