// WorkerPool: the engine's own oneTBB arena behind a plain interface, so
// that only worker_pool.cpp includes TBB. Nothing in gridtree relies on
// TBB's implicit global arena.
//
// Thread safety: For may be called from several threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace gridtree::internal {

class WorkerPool {
 public:
  // threads <= 0: one per hardware thread.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return threads_; }

  // Runs body(begin, end) over [0, n) split in chunks of at least grain,
  // on the arena's threads; returns when all are done.
  void For(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body);

  // Runs fn in the arena without waiting (fire and forget).
  void Enqueue(std::function<void()> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int threads_;
};

}  // namespace gridtree::internal
