// Updates: metric updates per second in memory and with the durable log
// (batches of 1, 100 and 10,000; several writer threads share fsyncs), and
// read throughput while a writer runs, next to the same reads without one.
#include <cstdio>
#include <benchmark/benchmark.h>

#include <atomic>
#include <map>
#include <mutex>
#include <unistd.h>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_data.h"

namespace gridtree::bench {
namespace {

std::vector<UpdateBatch> MakeBatches(const Dataset& ds, size_t batch_size, size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<UpdateBatch> out(count);
  for (auto& b : out)
    for (size_t i = 0; i < batch_size; ++i)
      b.updates.push_back({std::string(ds.ids[ds.leaf_nodes[rng() % ds.leaf_count()]]), ds.metric_names[rng() % 2],
                           MetricUpdate::Op::kAdd, 1});
  return out;
}

struct Fixture {
  std::unique_ptr<Engine> engine;
  std::string dir;
};

// One engine per (durable, batch size) shared by the writer threads; the
// benchmark's threads all ask at once, so the map and the build are locked.
Fixture& EngineFor(bool durable, int64_t batch) {
  static std::mutex mu;
  static std::map<std::pair<bool, int64_t>, Fixture> engines;
  std::lock_guard lock(mu);
  Fixture& f = engines[{durable, batch}];
  if (!f.engine) {
    EngineOptions o;
    o.threads = 1;
    if (durable) {
      f.dir = (std::filesystem::temp_directory_path() / ("gridtree-bench-wal-" + std::to_string(::getpid()) + "-" +
                                                          std::to_string(batch)))
                  .string();
      std::filesystem::remove_all(f.dir);
      o.data_dir = f.dir;
    }
    // Opened from the file: an engine image is mapped as a server maps it.
    auto opened = Engine::Open(DatasetPath(), o);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.status().message().c_str());
      std::abort();
    }
    f.engine = std::move(opened.value());
  }
  return f;
}

void BM_Apply(benchmark::State& state) {
  const bool durable = state.range(0) != 0;
  const int64_t batch = state.range(1);
  Fixture& f = EngineFor(durable, batch);
  const auto batches = MakeBatches(f.engine->Read()->dataset(), static_cast<size_t>(batch), 64,
                                   static_cast<uint32_t>(state.thread_index()));
  size_t i = 0;
  for (auto _ : state) {
    auto r = f.engine->Apply(batches[i++ % batches.size()]);
    if (!r.ok()) state.SkipWithError(r.status().message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(durable ? "durable (fdatasync per group)" : "in memory");
}
BENCHMARK(BM_Apply)
    ->ArgsProduct({{0, 1}, {1, 100, 10000}})
    ->ArgNames({"durable", "batch"})
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime();

// Readers locate a point and read its parent's metrics; arg 1 runs a
// writer thread applying 100-update batches all the while. The engine and
// the writer are set up before the reader threads start.
std::unique_ptr<Engine> g_read_engine;
std::atomic<bool> g_stop{false};
std::thread g_writer;

void StartReadFixture(const benchmark::State& state) {
  g_read_engine = MakeEngine(1);
  g_stop = false;
  if (state.range(0))
    g_writer = std::thread([] {
      const auto batches = MakeBatches(g_read_engine->Read()->dataset(), 100, 64, 9);
      for (size_t i = 0; !g_stop; ++i) (void)g_read_engine->Apply(batches[i % batches.size()]);
    });
}

void StopReadFixture(const benchmark::State&) {
  g_stop = true;
  if (g_writer.joinable()) g_writer.join();
  g_read_engine.reset();
}

void BM_ReadsWhileWriting(benchmark::State& state) {
  const PointSet& pts = Points(Distribution::kInside);
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  int64_t sink = 0;
  const uint64_t v0 = g_read_engine->Read()->version();
  for (auto _ : state) {
    auto view = g_read_engine->Read();
    const LocateResult r = view->Locate({pts.lon[i % pts.size()], pts.lat[i % pts.size()]});
    ++i;
    if (r.hit()) sink += view->Metric(view->Parent(r.node), 0);
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0)
    state.counters["batches_during_run"] = static_cast<double>(g_read_engine->Read()->version() - v0);
}
// Engine::Read() alone: a mutex held for one shared_ptr copy. On 1 and 2
// threads, to show what two readers taking a View at once cost each other.
void BM_EngineRead(benchmark::State& state) {
  static std::unique_ptr<Engine> engine = MakeEngine(1);
  uint64_t sink = 0;
  for (auto _ : state) sink += engine->Read()->version();
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EngineRead)->Threads(1)->Threads(2)->UseRealTime();

BENCHMARK(BM_ReadsWhileWriting)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("writer")
    ->Threads(1)
    ->UseRealTime()
    ->Setup(StartReadFixture)
    ->Teardown(StopReadFixture);

}  // namespace
}  // namespace gridtree::bench
