// Embedding gridtree: load a dataset, locate a point, read an aggregate.
//   embed DATASET [LON LAT]
#include <cstdio>
#include <cstdlib>

#include <gridtree/engine/engine.h>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: %s DATASET [LON LAT]\n", argv[0]);
    return 2;
  }
  const double lon = argc == 4 ? std::atof(argv[2]) : 113.0760;
  const double lat = argc == 4 ? std::atof(argv[3]) : 22.5850;

  gridtree::EngineOptions options;  // all hardware threads, no data directory
  auto engine = gridtree::Engine::Open(argv[1], options);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto located = engine.value()->Locate(lon, lat);
  if (!located.ok()) {
    std::fprintf(stderr, "%s\n", located.status().ToString().c_str());
    return 1;
  }
  if (!located.value().hit()) {
    std::printf("(%g, %g) is in no grid\n", lon, lat);
    return 3;
  }
  // A View pins one consistent state; ids and names stay valid while it lives.
  auto view = engine.value()->Read();
  const gridtree::Chain chain = view->ChainOf(located.value().node);
  for (int i = 0; i < chain.size; ++i) {
    const int32_t node = chain.nodes[i];
    std::printf("%-10s %-18s %s\n", std::string(gridtree::LevelName(view->level(node))).c_str(),
                std::string(view->id(node)).c_str(), std::string(view->name(node)).c_str());
  }
  const int32_t community = chain.nodes[chain.size > 3 ? 3 : chain.size - 1];
  const auto population = view->dataset().MetricIndex("population");
  if (population)
    std::printf("population of %s: %lld\n", std::string(view->name(community)).c_str(),
                static_cast<long long>(view->Metric(community, *population)));
  return 0;
}
