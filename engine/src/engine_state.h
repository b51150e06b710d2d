// Internal state of an Engine: what a View pins (Topology, MetricState)
// and what the Engine owns (the worker arena, the current View).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "gridtree/engine/engine.h"
#include "worker_pool.h"

namespace gridtree::internal {

// What does not change between metric updates: the hierarchy and the
// spatial index. Replaced whole by Reload.
struct Topology {
  Dataset dataset;  // leaf_geometry is empty: it lives in the index
  std::unique_ptr<index::PolygonIndex> index;
  uint64_t dataset_version = 1;
};

// Aggregated metric values of every node (node * metric_count + metric) at
// one version. Immutable once published.
struct MetricState {
  uint64_t version = 0;
  size_t metric_count = 0;
  std::vector<int64_t> values;
  int64_t Get(int32_t node, int metric) const { return values[static_cast<size_t>(node) * metric_count + metric]; }
};

struct EngineState {
  EngineOptions options;
  std::unique_ptr<WorkerPool> pool;
  std::atomic<std::shared_ptr<const View>> current;
};

// Sums leaf values up the tree into a fresh MetricState.
std::shared_ptr<MetricState> RollUp(const Dataset& ds, const std::vector<int64_t>& leaf_metrics, uint64_t version);

}  // namespace gridtree::internal
