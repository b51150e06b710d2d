// Building one city: the real counties and division rows, with towns,
// communities, grids and micro-grids generated inside them.
#pragma once

#include <string>
#include <vector>

#include "city_model.h"
#include "gridtree/generate/generate.h"
#include "gridtree/engine/status.h"
#include "read_inputs.h"

namespace gridtree::generate {

// Builds one city from its county shapes and its rows of the division table
// (one city row, its counties, towns and communities). `where` names the
// inputs' folder in messages. `jiangmen`: calibrate to Jiangmen's real
// figures rather than per community.
Result<CityModel> BuildCity(const GenerateOptions& options, const std::string& where, std::vector<CountyShape> shapes,
                            const std::vector<Division>& divs, bool jiangmen);

}  // namespace gridtree::generate
