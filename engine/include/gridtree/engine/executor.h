// Executor: the one pool of worker threads that runs every parallel piece
// of work of an engine: loading and validating a dataset, building the
// spatial index, batch and region queries, and (in gridtree serve) every
// call moved off the network thread. Create one and pass it down
// (EngineOptions::executor, LoadOptions::executor), or let the Engine make
// one of EngineOptions::threads threads; either way `threads` bounds all of
// that work together.
//
// It is a oneTBB task arena behind a plain interface, so that no header of
// gridtree includes TBB. Thread safety: every method may be called from any
// number of threads, including from inside a task of the same executor.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace gridtree {

class Executor {
 public:
  // threads <= 0: one per CPU this process may run on.
  explicit Executor(int threads = 0);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  int threads() const { return threads_; }

  // Runs body(begin, end) over [0, n) in chunks of at least `grain`
  // elements on the executor's threads, and returns when all are done. The
  // first exception a chunk throws is rethrown here.
  void For(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body) const;

  // Runs fn on an executor thread later; returns at once. fn must not throw.
  // Every enqueued task must have finished before the Executor is destroyed
  // (gridtree serve waits for its own before it lets the engine go).
  void Enqueue(std::function<void()> fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int threads_;
};

}  // namespace gridtree
