// Reading the generator's inputs: county boundaries (GeoJSON) and the
// division table (CSV), for Jiangmen alone or the whole province
// (docs/generator.md).
#pragma once

#include <string>
#include <vector>

#include "city_model.h"
#include "gridtree/generate/generate.h"
#include "gridtree/engine/status.h"

namespace gridtree::generate {

// One row of divisions.csv: level,code,name,parent_code.
struct Division {
  std::string level, code, name, parent;
};

// The inputs of one city of the province: its county shapes and its rows of
// the division table.
struct CityInput {
  std::vector<CountyShape> shapes;
  std::vector<Division> divs;
  bool county_level = true;
};

// Every feature of a county boundary file.
Result<std::vector<CountyShape>> ReadCounties(const std::string& path);

// Every row of a division table, header skipped.
Result<std::vector<Division>> ReadDivisions(const std::string& path);

// data/guangdong: counties/*.geojson (one file per city) and divisions.csv
// (the whole province), grouped by city in city code order. Counties without
// geometry are dropped with their towns, and reported; features without a
// division row are reported and ignored.
Result<std::vector<CityInput>> ReadProvince(const GenerateOptions& options, const std::string& dir);

}  // namespace gridtree::generate
