// The stages of building one city, in the order BuildCity (build_city.cpp)
// runs them, and the state they hand on to each other. docs/generator.md,
// "Algorithm", describes what each stage does and why.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "city_calibration.h"
#include "city_model.h"
#include "gridtree/generate/generate.h"
#include "gridtree/engine/status.h"
#include "read_inputs.h"
#include "tessellate.h"

namespace gridtree::generate {

// ---- state ----------------------------------------------------------------------------

// The city's tree while it is built. `by_code` indexes the rows of the
// division table only: the calibration names real codes, never generated ones.
struct CityTree {
  std::vector<Node> nodes;
  std::unordered_map<std::string, int32_t> by_code;
  int32_t root = -1;

  // The node of a division row, -1 if the city has no such row.
  int32_t Find(const std::string& code) const;
  // Appends generated child number `ordinal` (from 1) to `parent`: its code
  // is the parent's plus `ordinal` in `digits` digits, its name the parent's
  // plus 第<ordinal><unit>.
  int32_t AddGeneratedChild(int32_t parent, int ordinal, int digits, const char* unit, Level level, uint8_t kind);
  // Towns in county order, communities in town order, each in code order.
  std::vector<int32_t> Towns() const;
  std::vector<int32_t> Communities() const;
};

// The raster every generated shape is cut from: R pixels per degree, pixel
// (i, j) at index j * W + i covering lon x0 + i/R .. x0 + (i+1)/R.
struct RasterFrame {
  int R = 0;
  int64_t x0i = 0, y0i = 0;  // origin in pixels, so copies can be shifted exactly
  int W = 0, H = 0;
  double x0 = 0, y0 = 0;  // origin in degrees

  size_t PixelCount() const { return static_cast<size_t>(W) * H; }
  double Lon(double i) const { return x0 + i / R; }
  double Lat(double j) const { return y0 + j / R; }
};

// Where people live, per pixel.
struct DensityField {
  std::vector<float> density;  // rural base 1 plus the bumps
  std::vector<float> weight;   // density x the pixel's area in km²
  double peak = 0;             // the highest bump amplitude: how dense "fully urban" is
};

// The sea area of the Kunpeng fishing village, if this city has it.
struct SeaArea {
  std::vector<int32_t> pixels;  // sorted; empty when there is none
  int32_t kunpeng = -1;         // Kunpeng's node, -1 when the city has no such row
  size_t kunpeng_land = 0;      // Kunpeng's land pixels, which come before its sea pixels

  bool OwnedBy(int32_t node) const { return node == kunpeng && !pixels.empty(); }
};

// Every pixel's leaf, once the tree is complete.
struct LeafRaster {
  std::vector<int32_t> leaf;         // per pixel: the leaf node, -1 outside
  std::vector<int64_t> leaf_pixels;  // per node: how many pixels the leaf has
  // ancestors[L - 1][n]: n's ancestor at level L (county to micro-grid), n
  // itself at or above L; the layout RemovePinches (tessellate.h) reads.
  std::vector<std::vector<int32_t>> ancestors;

  const std::vector<int32_t>& AncestorsAt(Level level) const { return ancestors[static_cast<int>(level) - 1]; }
};

// Cuts pixels into weighted Voronoi cells (tessellate.h). Each parent draws
// from its own random stream, keyed by its code, so a cell never depends on
// the order the parents are split in.
class CellSplitter {
 public:
  CellSplitter(const GenerateOptions& options, const RasterFrame& frame, const DensityField& field)
      : options_(options), frame_(frame), field_(field) {}

  // `pixels` of the node `code` into k cells; fixed[c] >= 0 forces the seed of cell c.
  std::vector<std::vector<int32_t>> Split(const std::string& code, int k, const std::vector<int32_t>& pixels,
                                          const std::vector<int32_t>& fixed = {}) const;
  // Kunpeng's sea pixels into k cells, from a stream of their own.
  std::vector<std::vector<int32_t>> SplitSea(const std::string& code, int k, const std::vector<int32_t>& pixels) const;
  // Moves `parent`'s pixels to its real children (towns or communities), in
  // code order. Street offices are seeded in the dense core when
  // `street_seeds`; a parent with fewer pixels than children loses its last
  // children, reported.
  void SplitAmongChildren(CityTree& tree, int32_t parent, bool street_seeds) const;

 private:
  std::vector<std::vector<int32_t>> SplitWithStream(const std::string& stream, int k,
                                                    const std::vector<int32_t>& pixels,
                                                    const std::vector<int32_t>& fixed) const;

  const GenerateOptions& options_;
  const RasterFrame& frame_;
  const DensityField& field_;
};

// ---- stages ---------------------------------------------------------------------------

// The tree of the division rows, checked, children in code order, every
// county linked to its shape.
Result<CityTree> ReadTree(const std::string& where, const std::vector<Division>& divs,
                          const std::vector<CountyShape>& shapes);

// The raster around the counties.
RasterFrame FrameAround(const std::vector<CountyShape>& shapes, int pixels_per_degree);

// Density: rural base + bumps at Jiangmen's urban cores and every county seat.
DensityField PopulationDensity(const RasterFrame& frame, const std::vector<CountyShape>& shapes);

// Gives every county node the pixels inside its shape (even-odd). Returns the
// county shape of every pixel, -1 outside.
std::vector<int32_t> RasterizeCounties(const GenerateOptions& options, const RasterFrame& frame,
                                       const std::vector<CountyShape>& shapes, CityTree& tree);

// Splits every county among its real towns.
void PlaceTowns(const GenerateOptions& options, const CellSplitter& splitter, CityTree& tree);

// Grows Kunpeng's sea area off Guanghai's south coast, clear of any land.
SeaArea CarveSea(const GenerateOptions& options, const RasterFrame& frame, const DensityField& field,
                 const std::vector<int32_t>& county_of, const CityTree& tree);

// Splits every town among its real communities.
void PlaceCommunities(const GenerateOptions& options, const CellSplitter& splitter, CityTree& tree);

// Appends the sea pixels to Kunpeng's land pixels.
void GiveSeaToKunpeng(SeaArea& sea, CityTree& tree);

// How many grids each community gets (indexed by node): the calibrated total
// by population weight, Pengjiang's and Country Garden's counts held fixed.
std::vector<int64_t> CountGrids(const Calibration& cal, const DensityField& field, const SeaArea& sea,
                                const std::vector<int32_t>& communities, const CityTree& tree);

// Splits every community into its grids. Returns the grids.
std::vector<int32_t> PlaceGrids(const GenerateOptions& options, const CellSplitter& splitter, const SeaArea& sea,
                                const std::vector<int32_t>& communities, const std::vector<int64_t>& grid_count,
                                CityTree& tree);

// Marks the calibrated number of grids as parks.
void MarkParkGrids(const GenerateOptions& options, const Calibration& cal, const std::vector<int32_t>& grids,
                   CityTree& tree);

// Splits grids into 3-8 micro-grids (about 10% keep none).
void SplitMicroGrids(const GenerateOptions& options, const CellSplitter& splitter, const std::vector<int32_t>& grids,
                     CityTree& tree);

// Moves every leaf's pixels into one raster and removes its pinches, so no
// traced ring touches itself.
LeafRaster LabelLeaves(const GenerateOptions& options, const RasterFrame& frame, CityTree& tree);

// The generated leaves (grids without micro-grids, and micro-grids).
std::vector<int32_t> GeneratedLeaves(const CityTree& tree);

// Shares the calibrated totals out among the leaves as their metrics.
void AssignMetrics(const GenerateOptions& options, const Calibration& cal, const DensityField& field,
                   const LeafRaster& raster, const std::vector<int32_t>& leaves, const std::vector<int32_t>& grids,
                   CityTree& tree);

// Traces the geometry of every generated node (inner ones only with
// options.inner_geometry). Returns the sea area's outline.
std::vector<IntPolygon> TraceBoundaries(const GenerateOptions& options, const RasterFrame& frame,
                                        const LeafRaster& raster, const SeaArea& sea, CityTree& tree);

// Redraws every node near a county border as its traced shape cut to (and
// extended up to) the published borders, so the leaves cover each county's
// published area exactly, one owner per point (Node::fitted).
Status FitCountyBorders(const GenerateOptions& options, const RasterFrame& frame, const LeafRaster& raster,
                        const std::vector<CountyShape>& shapes, CityTree& tree);

}  // namespace gridtree::generate
