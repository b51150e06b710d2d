// A small synthetic dataset for fast tests: a city with two counties, each
// with towns, communities and square grid leaves on a lattice (a town
// directly under the city too, to skip a level). Deterministic.
#pragma once

#include <string>

#include <memory>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"

namespace gridtree::testing {

// GeoJSON FeatureCollection text; n x n leaves of 0.01 degree.
std::string SmallDatasetGeoJson(int n = 8);
// The same, loaded; aborts on failure.
Dataset SmallDataset(int n = 8);
// The same in an engine of one thread: no TBB work, so the tests that use
// it are meaningful under ThreadSanitizer. Aborts on failure.
std::unique_ptr<Engine> SmallEngine(int n = 8);

}  // namespace gridtree::testing
