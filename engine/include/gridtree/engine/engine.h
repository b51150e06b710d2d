// Engine: the in-memory grid hierarchy with its spatial index, answering
// point-in-grid lookups and aggregates in parallel on its own worker arena,
// and taking metric updates while it serves reads.
//
// Thread safety: const methods may be called concurrently from any number
// of threads; Apply, Checkpoint and Reload may also be called concurrently
// with reads and with each other (they serialise internally). A View is
// immutable: everything read through one View is one consistent state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/level.h"
#include "gridtree/engine/status.h"
#include "gridtree/index/polygon_index.h"

namespace gridtree {

namespace internal {
struct Topology;
struct MetricState;
class WorkerPool;
struct EngineState;
}  // namespace internal

struct EngineOptions {
  // Worker threads for batch and region queries.
  // DEFAULT: 0 (one per hardware thread)
  int threads = 0;
  // Spatial index tuning.
  index::PolygonIndexOptions index;
};

struct LocateOptions {
  // When a point is in no leaf, return the nearest leaf within this many
  // metres instead (flagged as snapped). 0 disables snapping.
  // DEFAULT: 0
  double max_distance_m = 0;
};

struct LocateResult {
  int32_t node = -1;  // the leaf's node number, -1 when the point is in no leaf
  int32_t leaf = -1;  // the leaf's number (order of leaves in the dataset)
  bool snapped = false;
  double distance_m = 0;  // distance to the snapped leaf, 0 when inside
  bool hit() const { return node >= 0; }
};

// The chain of a node up to its root, root first. Depth is at most six
// because levels go strictly downward.
struct Chain {
  std::array<int32_t, kLevelCount> nodes{};
  int size = 0;
};

// A pinned, consistent state of the engine: one dataset version and one
// metric version. Cheap to take (Engine::Read), safe to keep; the memory of
// an old dataset is freed when its last View goes.
class View {
 public:
  View(std::shared_ptr<const internal::Topology> topology, std::shared_ptr<const internal::MetricState> metrics);
  ~View();

  const Dataset& dataset() const;
  const index::PolygonIndex& spatial_index() const;
  uint64_t dataset_version() const;
  uint64_t version() const;  // metric version: number of applied update batches

  // Point location; a non-finite point is a miss.
  LocateResult Locate(index::Point p, const LocateOptions& options = {}) const;

  Chain ChainOf(int32_t node) const;
  std::string_view id(int32_t node) const;
  std::string_view name(int32_t node) const;
  Level level(int32_t node) const;
  std::optional<int32_t> Find(std::string_view id) const;
  // Aggregated value of a metric for any node (a leaf's own value, or the
  // sum of an inner node's leaves). Constant time.
  int64_t Metric(int32_t node, int metric) const;

  const internal::Topology& topology() const { return *topology_; }
  const internal::MetricState& metrics() const { return *metrics_; }

 private:
  std::shared_ptr<const internal::Topology> topology_;
  std::shared_ptr<const internal::MetricState> metrics_;
};

class Engine {
 public:
  // Takes the dataset (its leaf geometry moves into the spatial index).
  static Result<std::unique_ptr<Engine>> Create(Dataset dataset, const EngineOptions& options = {});
  // Loads and validates a dataset file; the report is filled when given.
  static Result<std::unique_ptr<Engine>> Open(const std::string& path, const EngineOptions& options = {},
                                              ValidationReport* report = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The current state, pinned.
  std::shared_ptr<const View> Read() const;

  // One point. Non-finite coordinates are an InvalidArgument error.
  Result<LocateResult> Locate(double lon, double lat, const LocateOptions& options = {}) const;
  // Many points, in parallel on the engine's arena; out[i] answers points[i].
  // Fails (naming the first bad point) before doing any work if a point is
  // not finite or the spans differ in size.
  Status LocateBatch(std::span<const index::Point> points, std::span<LocateResult> out,
                     const LocateOptions& options = {}) const;
  // Columnar bulk form: leaf numbers (-1 for a miss) for lon[i], lat[i].
  Status LocateColumns(std::span<const double> lon, std::span<const double> lat, std::span<int32_t> leaf_out) const;

  int threads() const;

 private:
  Engine();
  std::unique_ptr<internal::EngineState> state_;
};

}  // namespace gridtree
