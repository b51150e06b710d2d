// The one file that includes <tbb/...>.
#include "gridtree/engine/executor.h"

#include <algorithm>
#include <optional>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace gridtree {

struct Executor::Impl {
  // Raises TBB's worker cap (default_concurrency - 1 workers in the whole
  // process) so that the arena gets all its threads; lives as long as the
  // arena. Only ever created to raise the cap: TBB applies the smallest
  // max_allowed_parallelism of all live instances, so a small executor
  // holding one would cap every other executor in the process.
  std::optional<tbb::global_control> control;
  // No slot reserved for a calling thread: tasks enqueued from a thread that
  // never joins (the server's network loop) get all `threads` slots, and a
  // thread calling For waits while the arena's threads do the work, so no
  // more than `threads` threads ever run gridtree's work.
  tbb::task_arena arena;
  explicit Impl(int threads) : arena(threads, /*reserved_for_masters=*/0) {
    if (threads > tbb::info::default_concurrency() - 1)
      control.emplace(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads) + 1);
  }
};

Executor::Executor(int threads) {
  // TBB's count honours the process's CPU affinity (a container limited to
  // 2 of 64 CPUs gets 2), which hardware_concurrency does not.
  if (threads <= 0) threads = std::max(1, tbb::info::default_concurrency());
  threads_ = threads;
  impl_ = std::make_unique<Impl>(threads);
}

Executor::~Executor() = default;

void Executor::For(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body) const {
  if (n == 0) return;
  // One thread, or too little work to split: no hand-off at all (and no TBB
  // on the path, which keeps single-threaded engines clean under TSan).
  if (threads_ == 1 || n <= grain) {
    body(0, n);
    return;
  }
  // Isolated: a thread waiting for this loop only takes this loop's chunks,
  // never another caller's task, so one call's latency does not depend on
  // what else is queued.
  impl_->arena.execute([&] {
    tbb::this_task_arena::isolate([&] {
      tbb::parallel_for(tbb::blocked_range<size_t>(0, n, grain == 0 ? 1 : grain),
                        [&](const tbb::blocked_range<size_t>& r) { body(r.begin(), r.end()); });
    });
  });
}

void Executor::Enqueue(std::function<void()> fn) const { impl_->arena.enqueue(std::move(fn)); }

}  // namespace gridtree
