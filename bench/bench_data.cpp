#include "bench_data.h"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>

#include "gridtree/generate/generate.h"

namespace gridtree::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "gridtree_bench: " << what << "\n";
  std::abort();
}

}  // namespace

const std::string& DatasetPath() {
  static const std::string path = [] {
    if (const char* env = std::getenv("GRIDTREE_DATASET"); env && *env) return std::string(env);
    const auto dir = std::filesystem::temp_directory_path() / ("gridtree-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    GenerateOptions g;  // the default dataset: Jiangmen, seed 1
    g.data_root = GRIDTREE_DATA_ROOT;
    g.out_path = (dir / "jiangmen.geojson").string();
    if (auto r = Generate(g); !r.ok()) Die("generate failed: " + r.status().ToString());
    static const std::filesystem::path cleanup = dir;
    std::atexit([] { std::filesystem::remove_all(cleanup); });
    return g.out_path;
  }();
  return path;
}

const Dataset& LoadedDataset() {
  static const Dataset dataset = [] {
    LoadResult r = LoadDataset(DatasetPath());
    if (!r.dataset) Die(DatasetPath() + ": " + std::to_string(r.report.errors()) + " load error(s)");
    return std::move(*r.dataset);
  }();
  return dataset;
}

std::unique_ptr<Engine> MakeEngine(int threads, const index::PolygonIndexOptions& index_options) {
  EngineOptions options;
  options.threads = threads;
  options.index = index_options;
  auto e = Engine::Create(Dataset(LoadedDataset()), options);
  if (!e.ok()) Die("engine: " + e.status().ToString());
  return std::move(e.value());
}

const Engine& SharedEngine() {
  static const std::unique_ptr<Engine> engine = MakeEngine(1);
  return *engine;
}

const char* DistributionName(Distribution d) {
  switch (d) {
    case Distribution::kUniformBox: return "uniform_box";
    case Distribution::kInside: return "uniform_inside";
    case Distribution::kClustered: return "clustered_centre";
  }
  return "?";
}

const PointSet& Points(Distribution d) {
  static std::array<PointSet, 3> sets;
  static std::array<std::once_flag, 3> once;
  const int k = static_cast<int>(d);
  std::call_once(once[k], [&] {
    PointSet& s = sets[k];
    s.lon.reserve(kPoints);
    s.lat.reserve(kPoints);
    const index::Box b = SharedEngine().Read()->spatial_index().extent();
    std::mt19937_64 rng(1000 + k);  // fixed seed per distribution
    std::uniform_real_distribution<double> ux(b.min_x, b.max_x), uy(b.min_y, b.max_y);
    std::normal_distribution<double> cx(113.08, 0.03), cy(22.58, 0.03);
    const index::PolygonIndex& idx = SharedEngine().Read()->spatial_index();
    while (s.size() < kPoints) {
      double x, y;
      if (d == Distribution::kClustered) {
        x = cx(rng), y = cy(rng);
      } else {
        x = ux(rng), y = uy(rng);
        // Inside only: rejection against the index (the tests check it
        // against Boost.Geometry covered_by).
        if (d == Distribution::kInside && idx.Locate({x, y}) < 0) continue;
      }
      s.lon.push_back(x);
      s.lat.push_back(y);
    }
  });
  return sets[k];
}

int64_t LocateAll(const index::PolygonIndex& idx, const PointSet& points) {
  int64_t hits = 0;
  for (size_t i = 0; i < points.size(); ++i) hits += idx.Locate({points.lon[i], points.lat[i]}) >= 0;
  return hits;
}

void SetPointCounters(benchmark::State& state, size_t points, int64_t hits) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * points));
  state.counters["hit_fraction"] = static_cast<double>(hits) / static_cast<double>(points);
}

}  // namespace gridtree::bench
