// Internal: the tracked objects of an engine and their subscribers.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "objects/object_store.h"
#include "state/object_counts.h"

namespace gridtree::internal {

// What the object paths share (engine_objects.cpp): the store, the newest
// counts it made, and who subscribed to enter and exit events.
//
// Locks: mu serialises tracking, expiry and object queries. delivery_mu is
// held from the end of a batch's changes until its events and listener
// calls are made, so that subscribers get batches in the order they were
// applied; it is taken while mu is still held. subscribers_mu guards the
// subscribers and is innermost. Order: mu, then delivery_mu, then the
// Publisher's locks or subscribers_mu. No lock of the MetricWriter is ever
// taken while one of these is held.
struct ObjectTracker {
  std::mutex mu;
  std::unique_ptr<ObjectStore> store;          // mu; made on first use
  std::shared_ptr<const ObjectCounts> counts;  // mu; the newest counts (also in the Publisher)
  // After a start that did not find the objects of a clean shutdown, an
  // object's first report makes no enter events until this unix time: it
  // was most likely already there, and a restart must not look like a
  // city-wide arrival. Set once, at start.
  int64_t quiet_until = 0;
  // Tracked objects now, read without mu (e.g. by the server's
  // once-a-second sweep).
  std::atomic<size_t> live{0};

  std::mutex delivery_mu;

  struct Subscriber {
    ObjectEventFilter filter;
    std::vector<int32_t> nodes;  // filter.node_ids as node numbers of dataset nodes_version
    uint64_t nodes_version = 0;
    Engine::ObjectEventCallback callback;
  };
  std::mutex subscribers_mu;
  std::map<int, Subscriber> subscribers;
  int next_subscriber = 1;
};

}  // namespace gridtree::internal
