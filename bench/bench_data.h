// Inputs shared by the benchmark suites: the default Jiangmen dataset
// (generated once per process into a temporary file, or read from the file
// named by the environment variable GRIDTREE_DATASET), loaded once, and the
// fixed-seed point sets. Everything here is built outside the timed loops.
#pragma once

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"

namespace gridtree::bench {

// Path of the dataset file (generated on first call unless GRIDTREE_DATASET
// is set). Aborts the process on failure.
const std::string& DatasetPath();

// The dataset, loaded and validated once. Copy it to build an Engine.
const Dataset& LoadedDataset();

// An engine over a copy of LoadedDataset() with the given worker count.
std::unique_ptr<Engine> MakeEngine(int threads, const index::PolygonIndexOptions& index_options = {});

// A shared single-thread engine, built once.
const Engine& SharedEngine();

enum class Distribution { kUniformBox, kInside, kClustered };
const char* DistributionName(Distribution d);

// One million points of a distribution, as columns; built once per process.
struct PointSet {
  std::vector<double> lon, lat;
  size_t size() const { return lon.size(); }
};
constexpr size_t kPoints = 1'000'000;
const PointSet& Points(Distribution d);

// How many of the points the index finds in a polygon (the timed loop of
// the point-location benchmarks).
int64_t LocateAll(const index::PolygonIndex& idx, const PointSet& points);
// items/s over the points and the fraction that hit, for those benchmarks.
void SetPointCounters(benchmark::State& state, size_t points, int64_t hits);

}  // namespace gridtree::bench

// Registers a benchmark taking a Distribution once per point distribution
// (in files that include <benchmark/benchmark.h>).
#define GRIDTREE_PER_DISTRIBUTION(fn)                                 \
  BENCHMARK_CAPTURE(fn, uniform_box, Distribution::kUniformBox)       \
      ->Unit(benchmark::kMillisecond);                                \
  BENCHMARK_CAPTURE(fn, uniform_inside, Distribution::kInside)        \
      ->Unit(benchmark::kMillisecond);                                \
  BENCHMARK_CAPTURE(fn, clustered_centre, Distribution::kClustered)   \
      ->Unit(benchmark::kMillisecond)
