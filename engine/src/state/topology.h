// Internal: what does not change between metric updates, the hierarchy and
// the spatial index (Topology), and the ways to make one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/executor.h"
#include "gridtree/index/polygon_index.h"
#include "state/metric_state.h"

namespace gridtree::internal {

// Replaced whole by Reload.
struct Topology {
  Dataset dataset;  // leaf_geometry is empty: it lives in the index
  std::unique_ptr<index::PolygonIndex> index;
  std::shared_ptr<const Executor> executor;  // the engine's, for the View's parallel queries
  uint64_t dataset_version = 1;
  Column<int32_t> names_sorted;  // node numbers in order of name, for name search
  // first_leaf[k]: the number of the first leaf at or after node k (k may be
  // node_count()); a subtree [k, subtree_end) holds leaves
  // [first_leaf[k], first_leaf[subtree_end]).
  Column<int32_t> first_leaf;
};

// Builds the parts of a Topology that derive from the dataset.
void FinishTopology(Topology& topology);

// Opens an engine image as a Topology and its initial metric state.
struct ImageTopology {
  std::shared_ptr<Topology> topology;
  std::shared_ptr<MetricState> metrics;
};
Result<ImageTopology> OpenImageTopology(const std::string& path, std::shared_ptr<const Executor> executor);

// Builds the topology of a dataset on the engine's executor: the spatial
// index (the leaf geometry moves into it) and what derives from the
// dataset. The index's own limits (a lookup grid or edge count too large)
// and running out of memory come back as errors.
Result<std::shared_ptr<Topology>> BuildTopology(Dataset dataset, const EngineOptions& options,
                                                std::shared_ptr<const Executor> executor);

}  // namespace gridtree::internal
