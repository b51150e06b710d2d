// The dataset generator's entry point: real county borders and administrative
// tree, with towns, communities, grids and micro-grids generated inside them
// on a raster, deterministically from a seed. See docs/generator.md.
#include "gridtree/generate/generate.h"

#include <string>
#include <utility>
#include <vector>

#include "build_city.h"
#include "geojson_out.h"
#include "read_inputs.h"
#include "report.h"

namespace gridtree {
namespace {

using generate::CityModel;

// data/jiangmen: the one city, calibrated to its real figures.
Result<std::vector<CityModel>> BuildJiangmen(const GenerateOptions& options, const std::string& dir) {
  generate::ReportProgress(options, "read", 0);
  auto shapes = generate::ReadCounties(dir + "counties.geojson");
  if (!shapes.ok()) return shapes.status();
  auto divs = generate::ReadDivisions(dir + "divisions.csv");
  if (!divs.ok()) return divs.status();
  auto model = generate::BuildCity(options, dir, std::move(shapes.value()), divs.value(), true);
  if (!model.ok()) return model.status();
  std::vector<CityModel> models;
  models.push_back(std::move(model.value()));
  return models;
}

// data/guangdong: every city of the province, in city code order.
Result<std::vector<CityModel>> BuildProvince(const GenerateOptions& options, const std::string& dir) {
  auto inputs = generate::ReadProvince(options, dir);
  if (!inputs.ok()) return inputs.status();
  std::vector<CityModel> models;
  for (size_t k = 0; k < inputs.value().size(); ++k) {
    generate::CityInput& in = inputs.value()[k];
    generate::ReportNotice(options, "city " + std::to_string(k + 1) + "/" + std::to_string(inputs.value().size()) +
                                        ": " + in.divs[0].code + " " + in.divs[0].name);
    auto model = generate::BuildCity(options, dir, std::move(in.shapes), in.divs, false);
    if (!model.ok()) return model.status();
    model.value().county_level = in.county_level;
    models.push_back(std::move(model.value()));
  }
  return models;
}

}  // namespace

Result<GenerateSummary> Generate(const GenerateOptions& options) {
  if (options.city != "jiangmen" && options.city != "guangdong")
    return InvalidArgument("generate: unknown city \"" + options.city + "\" (embedded: jiangmen, guangdong)");
  if (options.cities < 1) return InvalidArgument("generate: cities must be >= 1");
  // A power of two keeps every vertex exact in a double (docs/generator.md,
  // "Why a raster with corner cutting").
  if (options.pixels_per_degree < 64 || options.pixels_per_degree > 16384 ||
      (options.pixels_per_degree & (options.pixels_per_degree - 1)) != 0)
    return InvalidArgument("generate: pixels_per_degree must be a power of two in [64, 16384]");
  if (options.out_path.empty()) return InvalidArgument("generate: out_path is empty");
  const std::string dir = options.data_root + "/" + options.city + "/";
  auto models = options.city == "jiangmen" ? BuildJiangmen(options, dir) : BuildProvince(options, dir);
  if (!models.ok()) return models.status();
  return generate::WriteDataset(options, models.value());
}

}  // namespace gridtree
