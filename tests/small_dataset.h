// A small synthetic dataset for fast tests: a city with two counties, each
// with towns, communities and square grid leaves on a lattice (a town
// directly under the city too, to skip a level). Deterministic.
#pragma once

#include <string>

#include "gridtree/engine/dataset.h"

namespace gridtree::testing {

// GeoJSON FeatureCollection text; n x n leaves of 0.01 degree.
std::string SmallDatasetGeoJson(int n = 8);
// The same, loaded; aborts on failure.
Dataset SmallDataset(int n = 8);

}  // namespace gridtree::testing
