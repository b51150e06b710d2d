// The default Jiangmen dataset, generated once per test binary into a
// temporary file and loaded into an Engine shared by the tests.
#pragma once

#include <memory>
#include <string>

#include "gridtree/engine/engine.h"

namespace gridtree::testing {

struct Jiangmen {
  std::string path;           // the generated GeoJSON
  std::unique_ptr<Engine> engine;
  ValidationReport report;
};

// Generated and loaded on first use; aborts the test binary on failure.
const Jiangmen& SharedJiangmen();

}  // namespace gridtree::testing
