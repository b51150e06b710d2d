// Internal: the counts of tracked objects that a View carries beside its
// metric state (what it reads as the metrics "objects.<kind>").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "state/metric_state.h"

namespace gridtree::internal {

// Counts of tracked objects per node and kind at one state: a metric state
// of one column per kind, rolled up like the dataset's metrics. Immutable
// once published; a View pins it beside its MetricState.
struct ObjectCounts {
  uint64_t dataset_version = 0;               // the dataset the node numbers belong to
  uint64_t version = 0;                       // object batches (and expiries) applied since the engine started
  std::vector<std::string> kinds;             // in order of first report
  std::vector<std::string> metric_names;      // "objects.<kind>", same order
  std::shared_ptr<const MetricState> counts;  // one column per kind; null while no kind exists
  std::vector<int64_t> total;                 // per kind: tracked objects
  std::vector<int64_t> outside;               // per kind: of them, in no leaf
};

}  // namespace gridtree::internal
