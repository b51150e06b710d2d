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
#include <functional>
#include <memory>
#include <optional>
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
  // Folder for the write-ahead log and snapshots. Empty: updates are kept in
  // memory only.
  // DEFAULT: ""
  std::string data_dir;
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

struct TopKQuery {
  Level level = Level::kCommunity;
  int metric = 0;
  // DEFAULT: 10
  size_t k = 10;
  // DEFAULT: -1 (the whole dataset)
  int32_t within = -1;
  // Rank by metric per km² instead of the metric.
  // DEFAULT: false
  bool density = false;
};

struct TopEntry {
  int32_t node = -1;
  double value = 0;  // the metric, or metric per km²
};

// A region for aggregate queries. Build with Box/Circle/Polygon or parse
// with ParseRegionWkt / ParseRegionGeoJson (gridtree/engine/region.h).
struct Region {
  enum class Kind { kBox, kPolygon, kCircle };
  Kind kind = Kind::kBox;
  index::Box box;                   // kBox: lon/lat bounds
  index::MultiPolygon polygon;      // kPolygon: rings as in index::Ring (holes allowed)
  index::Point center;              // kCircle: centre
  double radius_m = 0;              // kCircle: radius in metres on the ellipsoid
};

enum class RegionMode {
  kContained,     // leaves wholly inside the region count whole
  kIntersecting,  // leaves sharing any point with the region count whole
  kAreaWeighted,  // each leaf counts by the fraction of its area inside
};

struct RegionQuery {
  Region region;
  // DEFAULT: kIntersecting
  RegionMode mode = RegionMode::kIntersecting;
  // One row per node of this level touched by the region. DEFAULT: none
  std::optional<Level> group_by;
};

struct RegionRow {
  int32_t node = -1;
  std::vector<double> values;  // per metric; exact integers except in kAreaWeighted
};

struct RegionResult {
  std::vector<double> total;   // per metric
  std::vector<RegionRow> rows;  // by node number, when group_by is set
  int64_t leaves = 0;           // leaves that contributed
  uint64_t version = 0;         // metric version the answer was computed on
};

// One change to one metric of one leaf.
struct MetricUpdate {
  enum class Op { kSet, kAdd };
  std::string leaf_id;
  std::string metric;
  Op op = Op::kSet;
  int64_t value = 0;  // kSet: the new value (>= 0); kAdd: a delta (may be negative)
};

struct UpdateBatch {
  std::vector<MetricUpdate> updates;
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
  // All metrics of a node, in dataset().metric_names order.
  std::vector<int64_t> Aggregate(int32_t node) const;
  std::span<const int32_t> Children(int32_t node) const;
  int32_t Parent(int32_t node) const;  // -1 for a root
  std::string_view kind(int32_t node) const;
  double AreaKm2(int32_t node) const;  // ellipsoidal area of the node's leaves
  // Nodes whose name starts with prefix (UTF-8 bytes), in node order, at most limit.
  std::vector<int32_t> FindByNamePrefix(std::string_view prefix, size_t limit = 100) const;

  // The k nodes of a level with the highest metric (or metric per km² when
  // density), optionally only inside one node's subtree. Ties: lower node first.
  std::vector<TopEntry> TopK(const TopKQuery& query) const;

  const internal::Topology& topology() const { return *topology_; }
  const std::shared_ptr<const internal::Topology>& topology_ptr() const { return topology_; }
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

  // Region aggregate, parallel over the subtrees the region touches.
  Result<RegionResult> RegionAggregate(const RegionQuery& query) const;

  // Applies a batch atomically: readers see all of it or none of it. With a
  // data directory the batch is in the write-ahead log (fsync'ed, grouped
  // with concurrent writers) before it becomes visible. Returns the new
  // version. A bad update (unknown id, inner node, unknown metric, a value
  // that would go negative or overflow) rejects the whole batch.
  Result<uint64_t> Apply(const UpdateBatch& batch);
  // Writes the current values to a snapshot in the data directory and trims
  // the log. No-op without a data directory.
  Status Checkpoint();
  // Swaps to a new dataset; in-flight readers finish on the old one. Metric
  // updates applied so far are not carried over; the log starts anew.
  Status Reload(Dataset dataset);

  // Called after every applied batch (on the writer's thread) with the new
  // view and the leaves it changed. Keep it short. Returns an id for
  // RemoveListener.
  using Listener = std::function<void(const std::shared_ptr<const View>& view, std::span<const int32_t> leaves)>;
  int AddListener(Listener listener);
  void RemoveListener(int id);

  // What recovery found when the engine opened its data directory (records
  // replayed, a torn tail cut off); empty without a data directory. A log
  // with a bad record in its middle is not opened at all (see
  // RecoverDataDir).
  std::string recovery_report() const;
  // Bytes in the write-ahead log (0 without a data directory).
  int64_t log_size_bytes() const;

 private:
  Engine();
  std::unique_ptr<internal::EngineState> state_;
};

// The explicit way out of a corrupt write-ahead log (docs/operations.md):
// keeps the logged batches up to keep_through_version, drops the rest, and
// leaves the original log beside it as wal.log.before-recover-<unix time>.
// Takes the data directory's lock, so it refuses while a server holds it.
// Returns a one-line account of what it kept and dropped.
Result<std::string> RecoverDataDir(const std::string& data_dir, uint64_t keep_through_version);

}  // namespace gridtree
