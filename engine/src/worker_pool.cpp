// The one file that includes <tbb/...>.
#include "worker_pool.h"

#include <optional>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace gridtree::internal {

struct WorkerPool::Impl {
  // Raises TBB's worker cap (default_concurrency - 1 workers) so that an
  // arena larger than the machine still gets its threads; lives as long as
  // the arena. Only ever created to raise the cap: TBB applies the smallest
  // max_allowed_parallelism of all live instances, so a small pool holding
  // one would cap every other pool in the process.
  std::optional<tbb::global_control> control;
  tbb::task_arena arena;
  explicit Impl(int threads) : arena(threads, /*reserved_for_masters=*/1) {
    if (threads > tbb::info::default_concurrency())
      control.emplace(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads) + 1);
  }
};

WorkerPool::WorkerPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads_ = threads;
  impl_ = std::make_unique<Impl>(threads);
}

WorkerPool::~WorkerPool() = default;

void WorkerPool::For(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body) {
  if (n == 0) return;
  if (threads_ == 1 || n <= grain) {
    body(0, n);
    return;
  }
  impl_->arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n, grain == 0 ? 1 : grain),
                      [&](const tbb::blocked_range<size_t>& r) { body(r.begin(), r.end()); });
  });
}

void WorkerPool::Enqueue(std::function<void()> fn) { impl_->arena.enqueue(std::move(fn)); }

}  // namespace gridtree::internal
