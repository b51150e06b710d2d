// In-process replay: per-thread tallies (no shared writes but the work
// counter), merged after the threads end.
#include "replay/run_local.h"

#include <cmath>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "replay/checksum.h"
#include "replay/progress.h"

namespace gridtree::replay {
namespace {

using Clock = std::chrono::steady_clock;

// Indices are handed out in chunks so threads do not fight over the
// counter's cache line on every cheap locate.
constexpr uint64_t kChunk = 16;

class Worker {
 public:
  Worker(const Engine& engine, const Workload& w) : engine_(engine), w_(w) {
    lon_.resize(w.batch_size);
    lat_.resize(w.batch_size);
    leaves_.resize(w.batch_size);
  }

  void Run(std::atomic<uint64_t>& next, std::atomic<uint64_t>& done, int threads) {
    tally_.Reserve(w_, w_.requests / static_cast<uint64_t>(threads) + kChunk);
    for (;;) {
      const uint64_t begin = next.fetch_add(kChunk, std::memory_order_relaxed);
      if (begin >= w_.requests) return;
      const uint64_t end = std::min(w_.requests, begin + kChunk);
      for (uint64_t i = begin; i < end; ++i) One(i);
      done.fetch_add(end - begin, std::memory_order_relaxed);
    }
  }

  Tally& tally() { return tally_; }

 private:
  void One(uint64_t i) {
    const Request r = RequestAt(w_, i);
    KindTally& t = tally_.kinds[static_cast<int>(r.kind)];
    ++t.requests;
    const auto t0 = Clock::now();
    bool ok = false;
    uint64_t hash = 0;
    switch (r.kind) {
      case Kind::kLocate: {
        const double x = w_.lon[r.item], y = w_.lat[r.item];
        ++t.points;
        if ((ok = std::isfinite(x) && std::isfinite(y))) hash = LocateHash(i, engine_.Read()->Locate({x, y}).leaf.value);
        break;
      }
      case Kind::kLocateBatch: {
        // Copy out with wrap-around; the columns must be contiguous.
        const size_t n = w_.point_count();
        size_t p = r.item;
        for (size_t k = 0; k < w_.batch_size; ++k, p = p + 1 == n ? 0 : p + 1) lon_[k] = w_.lon[p], lat_[k] = w_.lat[p];
        t.points += w_.batch_size;
        if ((ok = engine_.Read()->LocateColumns(lon_, lat_, leaves_).ok()))
          hash = BatchHash(i, std::span<const int32_t>(&leaves_.data()->value, leaves_.size()));
        break;
      }
      case Kind::kAggregate: {
        auto res = engine_.Read()->RegionAggregate(w_.regions[r.item].query);
        if ((ok = res.ok())) hash = AggregateHash(i, res.value());
        break;
      }
    }
    if (ok) {
      t.latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    } else {
      ++t.errors;
      hash = ErrorHash(r.kind, i);
    }
    t.checksum += hash;
  }

  const Engine& engine_;
  const Workload& w_;
  std::vector<double> lon_, lat_;
  std::vector<LeafId> leaves_;
  Tally tally_;
};

}  // namespace

ReplayResult ReplayInProcess(const Engine& engine, const Workload& w, const LocalOptions& options) {
  const int threads = std::max(1, options.threads);
  std::vector<Worker> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) workers.emplace_back(engine, w);

  std::atomic<uint64_t> next{0}, done{0};
  const auto t0 = Clock::now();
  {
    Progress progress("replay", w.requests, done, options.progress);
    std::vector<std::thread> pool;
    for (auto& worker : workers) pool.emplace_back([&worker, &next, &done, threads] { worker.Run(next, done, threads); });
    for (auto& t : pool) t.join();
  }
  ReplayResult result;
  result.run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& worker : workers) result.tally.Merge(std::move(worker.tally()));

  auto view = engine.Read();
  result.run.tool = "gridtree_replay";
  result.run.target = "in_process";
  result.run.dataset = view->dataset().source;
  result.run.fingerprint = view->dataset().fingerprint;
  result.run.metric_version = view->version();
  result.run.threads = threads;
  result.run.depth = 1;
  return result;
}

}  // namespace gridtree::replay
