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
  // A View pins one consistent state: every answer below comes from it, and
  // the node numbers it hands out stay valid for as long as it lives.
  auto view = engine.value()->Read();
  const gridtree::index::Point point{lon, lat};
  gridtree::LocateResult located;
  if (gridtree::Status s = view->LocateBatch({&point, 1}, {&located, 1}); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  if (!located.hit()) {
    std::printf("(%g, %g) is in no grid\n", lon, lat);
    return 3;
  }
  const gridtree::Chain chain = view->ChainOf(located.node);
  for (int i = 0; i < chain.size; ++i) {
    const gridtree::NodeId node = chain.nodes[i];
    std::printf("%-10s %-18s %s\n", std::string(gridtree::LevelName(view->level(node))).c_str(),
                std::string(view->id(node)).c_str(), std::string(view->name(node)).c_str());
  }
  const gridtree::NodeId community = chain.nodes[chain.size > 3 ? 3 : chain.size - 1];
  const auto population = view->dataset().MetricIndex("population");
  if (population)
    std::printf("population of %s: %lld (dataset version %llu)\n", std::string(view->name(community)).c_str(),
                static_cast<long long>(view->Metric(community, *population)),
                static_cast<unsigned long long>(view->dataset_version()));
  return 0;
}
