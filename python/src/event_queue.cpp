#include "event_queue.h"

#include <string>

#include "gridtree/engine/level.h"

namespace py = pybind11;

namespace gridtree::python {

void EventQueue::Push(std::span<const ObjectEvent> events) {
  {
    std::lock_guard lock(mutex_);
    for (const ObjectEvent& e : events) {
      if (events_.size() == capacity_) {
        events_.pop_front();
        ++dropped_;
      }
      events_.push_back(e);
    }
  }
  ready_.notify_all();
}

void EventQueue::Push(ObjectEvent event) { Push(std::span<const ObjectEvent>(&event, 1)); }

uint64_t EventQueue::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

py::list EventQueue::Take(size_t max, double timeout_s, const std::function<void(std::chrono::milliseconds)>& pump) {
  using Clock = std::chrono::steady_clock;
  const bool forever = timeout_s < 0;
  const auto deadline = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(forever ? 0 : timeout_s * 1e6));
  std::vector<ObjectEvent> taken;
  {
    py::gil_scoped_release release;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        while (!events_.empty() && taken.size() < max) {
          taken.push_back(std::move(events_.front()));
          events_.pop_front();
        }
      }
      if (!taken.empty() || (!forever && Clock::now() >= deadline)) break;
      // Waits in short slices, so that a Ctrl-C reaches Python between them.
      auto slice = std::chrono::milliseconds(100);
      if (!forever)
        slice = std::min(slice, std::max(std::chrono::milliseconds(1),
                                         std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
      if (pump) {
        pump(slice);
      } else {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, slice, [&] { return !events_.empty(); });
      }
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }
  py::list out;
  for (const ObjectEvent& e : taken) out.append(EventToDict(e));
  return out;
}

py::dict EventToDict(const ObjectEvent& e) {
  py::dict d;
  d["type"] = e.type == ObjectEvent::Type::kEnter ? "enter" : "exit";
  d["id"] = e.object_id;
  d["kind"] = e.kind;
  d["node"] = e.node_id;
  d["level"] = std::string(LevelName(e.level));
  d["expired"] = e.expired;
  d["time"] = e.time;
  d["lon"] = e.lon;
  d["lat"] = e.lat;
  return d;
}

}  // namespace gridtree::python
