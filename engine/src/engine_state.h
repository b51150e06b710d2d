// Internal state of an Engine, in parts by job, each with its own locks:
//
//   MetricWriter (state/metric_writer.h)   metric writes and the log
//   ObjectTracker (objects/object_tracker.h) tracked objects and their events
//   Publisher (state/publisher.h)           the current View and its listeners
//
// Lock order, outermost first:
//   writer.sync_mu > writer.write_mu > publisher's locks
//   objects.mu > objects.delivery_mu > publisher's locks, objects.subscribers_mu
// A metric write and an object batch never hold each other's locks, so the
// two paths run side by side; both publish through the Publisher.
#pragma once

#include <memory>

#include "gridtree/engine/engine.h"
#include "objects/object_tracker.h"
#include "state/metric_writer.h"
#include "state/publisher.h"

namespace gridtree::internal {

struct EngineState {
  EngineOptions options;
  std::shared_ptr<const Executor> executor;
  Publisher publisher;
  MetricWriter writer;
  ObjectTracker objects;
};

// Places every tracked object again in the current dataset, after a reload
// (engine_objects.cpp), with no events.
void RelocateObjects(EngineState& st);

}  // namespace gridtree::internal
