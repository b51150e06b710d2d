// Internal: the one way in to a View's parts. View keeps its topology and
// metric state private; the engine's own code makes Views and reads their
// parts through here.
#pragma once

#include <memory>

#include "gridtree/engine/engine.h"

namespace gridtree::internal {

struct Topology;
struct MetricState;
struct ObjectCounts;

struct ViewAccess {
  static std::shared_ptr<const View> Make(std::shared_ptr<const Topology> topology,
                                          std::shared_ptr<const MetricState> metrics,
                                          std::shared_ptr<const ObjectCounts> objects = nullptr) {
    return std::shared_ptr<const View>(new View(std::move(topology), std::move(metrics), std::move(objects)));
  }
  static const std::shared_ptr<const Topology>& topology(const View& view) { return view.topology_; }
  static const std::shared_ptr<const MetricState>& metrics(const View& view) { return view.metrics_; }
};

}  // namespace gridtree::internal
