// Writing the built cities as GeoJSON (docs/generator.md, "Output").
#pragma once

#include <vector>

#include "city_model.h"
#include "gridtree/generate/generate.h"
#include "gridtree/engine/status.h"

namespace gridtree::generate {

// Writes options.cities copies of all `models` to options.out_path: a
// FeatureCollection, or a text sequence for .geojsonl / .geojsons.
Result<GenerateSummary> WriteDataset(const GenerateOptions& options, const std::vector<CityModel>& models);

}  // namespace gridtree::generate
