// The totals one city is built to (city_calibration.h).
#include "city_calibration.h"

#include <algorithm>
#include <cmath>

namespace gridtree::generate {

Calibration Calibration::Jiangmen() {
  return {kJiangmen.population, kJiangmen.grids, kJiangmen.park_grids, kJiangmen.grid_staff};
}

Calibration Calibration::PerCommunity(int64_t communities) {
  const double f = static_cast<double>(communities) / kJiangmen.communities;
  Calibration c;
  c.population = std::llround(kJiangmen.population * f);
  c.grids = std::llround(kJiangmen.grids * f);
  c.park_grids = std::llround(kJiangmen.park_grids * f);
  // At least one staff member per grid.
  c.grid_staff = std::max<int64_t>(c.grids, std::llround(kJiangmen.grid_staff * f));
  return c;
}

}  // namespace gridtree::generate
