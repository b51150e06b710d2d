// Enter/exit events on their way to Python: the engine's callback (or the
// client's event sink) pushes them, Python takes them in batches.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "gridtree/engine/objects.h"

namespace gridtree::python {

// Thread safety: Push from any thread; Take from one Python thread at a
// time (it releases the GIL while it waits).
class EventQueue {
 public:
  // Events beyond `capacity` not yet taken are dropped, oldest first, and
  // counted: a subscriber that stops reading cannot grow memory without end.
  explicit EventQueue(size_t capacity = size_t{1} << 20) : capacity_(capacity) {}

  void Push(std::span<const ObjectEvent> events);
  void Push(ObjectEvent event);

  // Up to `max` events as dicts, waiting at most timeout_s (negative:
  // without end) for the first. `pump`, when given, runs the caller's event
  // loop for at most the time it is given (the client's events arrive only
  // while its loop runs); otherwise Take sleeps until a Push.
  pybind11::list Take(size_t max, double timeout_s,
                      const std::function<void(std::chrono::milliseconds)>& pump = nullptr);
  uint64_t dropped() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<ObjectEvent> events_;
  uint64_t dropped_ = 0;
};

pybind11::dict EventToDict(const ObjectEvent& event);

}  // namespace gridtree::python
