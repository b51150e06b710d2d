// Tracked objects in process (docs/objects.md): position reports per second
// including the locate, the move and the roll-up of counts, next to the
// locate alone on the same points (the baseline of the same process);
// object queries; memory per object.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "bench_data.h"

namespace gridtree::bench {
namespace {

constexpr int64_t kNow = 1'800'000'000;

// A million points inside the engine's leaves, uniform over its box and
// kept when located (drawn from the engine itself, so a mapped national
// image needs no second copy of the dataset).
const PointSet& InsidePoints(const Engine& e) {
  static PointSet points;
  static std::once_flag once;
  std::call_once(once, [&] {
    const auto view = e.Read();
    const index::Box b = view->spatial_index().extent();
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    auto uniform = [&] {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      return static_cast<double>(x >> 11) * 0x1.0p-53;
    };
    while (points.size() < kPoints) {
      const double lon = b.min_x + uniform() * (b.max_x - b.min_x), lat = b.min_y + uniform() * (b.max_y - b.min_y);
      if (view->spatial_index().Locate({lon, lat}) < 0) continue;
      points.lon.push_back(lon);
      points.lat.push_back(lat);
    }
  });
  return points;
}

// An engine with `objects` objects (ids "o<i>", two kinds) already placed
// at points of the "inside" set; built once per object count.
Engine& TrackedEngine(int64_t objects) {
  static std::mutex mu;
  static std::map<int64_t, std::unique_ptr<Engine>> engines;
  std::lock_guard lock(mu);
  auto& e = engines[objects];
  if (!e) {
    EngineOptions o;
    o.threads = 1;
    o.objects.max_reports_per_batch = 1'000'000;
    auto opened = Engine::Open(DatasetPath(), o);
    if (!opened.ok()) std::abort();
    e = std::move(opened.value());
    const PointSet& p = InsidePoints(*e);
    std::vector<ObjectReport> batch;
    for (int64_t i = 0; i < objects; ++i) {
      batch.push_back({"o" + std::to_string(i), i % 2 ? "boat" : "staff", p.lon[i % p.size()], p.lat[i % p.size()], kNow});
      if (batch.size() == 100000 || i + 1 == objects) {
        if (!e->Track(batch, kNow).ok()) std::abort();
        batch.clear();
      }
    }
  }
  return *e;
}

// Batches of reports moving random objects to random points inside the city.
std::vector<std::vector<ObjectReport>> MoveBatches(const Engine& e, int64_t objects, int64_t batch, size_t count) {
  const PointSet& p = InsidePoints(e);
  std::vector<std::vector<ObjectReport>> out(count);
  uint64_t x = 88172645463325252ULL;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (auto& b : out)
    for (int64_t i = 0; i < batch; ++i) {
      const uint64_t obj = next() % static_cast<uint64_t>(objects), pt = next() % p.size();
      b.push_back({"o" + std::to_string(obj), obj % 2 ? "boat" : "staff", p.lon[pt], p.lat[pt], kNow});
    }
  return out;
}

void BM_Track(benchmark::State& state) {
  const int64_t objects = state.range(0), batch = state.range(1);
  Engine& e = TrackedEngine(objects);
  // A million reports in all, so the points do not sit in the caches.
  const auto batches = MoveBatches(e, objects, batch, static_cast<size_t>(std::max<int64_t>(16, 1'000'000 / batch)));
  size_t i = 0;
  for (auto _ : state) {
    auto r = e.Track(batches[i++ % batches.size()], kNow);
    if (!r.ok()) state.SkipWithError(r.status().message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["bytes_per_object"] =
      static_cast<double>(e.object_memory_bytes()) / static_cast<double>(e.object_count());
}
BENCHMARK(BM_Track)
    ->ArgsProduct({{100'000, 1'000'000}, {1'000, 10'000}})
    ->ArgNames({"objects", "batch"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The baseline: locating the same kind of points, one at a time.
void BM_TrackBaselineLocate(benchmark::State& state) {
  Engine& e = TrackedEngine(100'000);
  const auto view = e.Read();
  const PointSet& p = InsidePoints(e);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(view->Locate({p.lon[i % p.size()], p.lat[i % p.size()]}));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrackBaselineLocate);

void BM_ObjectsInCounty(benchmark::State& state) {
  Engine& e = TrackedEngine(state.range(0));
  ObjectQuery q;
  q.node_id = "440703";
  q.limit = 100;
  for (auto _ : state) benchmark::DoNotOptimize(e.Objects(q));
}
BENCHMARK(BM_ObjectsInCounty)->Arg(100'000)->Arg(1'000'000)->ArgName("objects")->Unit(benchmark::kMillisecond);

void BM_Nearest(benchmark::State& state) {
  Engine& e = TrackedEngine(state.range(0));
  const PointSet& p = InsidePoints(e);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.Nearest({p.lon[i % p.size()], p.lat[i % p.size()]}, 10));
    ++i;
  }
}
BENCHMARK(BM_Nearest)->Arg(100'000)->Arg(1'000'000)->ArgName("objects")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gridtree::bench
