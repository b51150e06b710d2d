// Loading the default Jiangmen dataset: GeoJSON parse + validation
// (LoadDataset, file read included) and Engine::Create (index build and
// rollup) from an already loaded Dataset.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "bench_data.h"

namespace gridtree::bench {
namespace {

void BM_LoadDataset(benchmark::State& state) {
  const std::string& path = DatasetPath();
  double parse = 0, check = 0;
  int64_t features = 0;
  for (auto _ : state) {
    LoadResult r = LoadDataset(path);
    if (!r.dataset) state.SkipWithError("load failed");
    parse += r.report.parse_seconds;
    check += r.report.check_seconds;
    features = r.report.features;
    state.PauseTiming();
    r = LoadResult();  // freeing the dataset is not timed
    state.ResumeTiming();
  }
  const double n = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * std::filesystem::file_size(path)));
  state.counters["parse_s"] = parse / n;
  state.counters["check_s"] = check / n;
  state.counters["features"] = static_cast<double>(features);
}
BENCHMARK(BM_LoadDataset)->Unit(benchmark::kMillisecond);

void BM_EngineCreate(benchmark::State& state) {
  EngineOptions options;
  options.threads = 1;
  for (auto _ : state) {
    state.PauseTiming();
    Dataset copy = LoadedDataset();
    state.ResumeTiming();
    auto engine = Engine::Create(std::move(copy), options);
    state.PauseTiming();
    if (!engine.ok()) state.SkipWithError("create failed");
    engine = Result<std::unique_ptr<Engine>>(std::unique_ptr<Engine>());  // destruction is not timed
    state.ResumeTiming();
  }
}
BENCHMARK(BM_EngineCreate)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gridtree::bench
