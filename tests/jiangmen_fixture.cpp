#include "jiangmen_fixture.h"

#include <cstdlib>
#include <unistd.h>
#include <filesystem>
#include <iostream>

#include "gridtree/generate/generate.h"

namespace gridtree::testing {

const Jiangmen& SharedJiangmen() {
  static const Jiangmen* shared = [] {
    auto* j = new Jiangmen;
    const auto dir = std::filesystem::temp_directory_path() / ("gridtree-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    j->path = (dir / "jiangmen.geojson").string();
    GenerateOptions g;
    g.data_root = GRIDTREE_DATA_ROOT;
    g.out_path = j->path;
    if (auto r = Generate(g); !r.ok()) {
      std::cerr << "generate failed: " << r.status().ToString() << "\n";
      std::abort();
    }
    EngineOptions options;
    options.threads = 2;
    auto e = Engine::Open(j->path, options, &j->report);
    if (!e.ok()) {
      std::cerr << "open failed: " << e.status().ToString() << "\n";
      std::abort();
    }
    j->engine = std::move(e.value());
    static const std::filesystem::path cleanup = dir;
    std::atexit([] { std::filesystem::remove_all(cleanup); });
    return j;
  }();
  return *shared;
}

}  // namespace gridtree::testing
