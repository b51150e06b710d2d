// Engine: the in-memory grid hierarchy with its spatial index, answering
// point-in-grid lookups and aggregates in parallel on its executor, and
// taking metric updates while it serves reads. Reads go through a View
// (Engine::Read): one pinned state that every answer comes from.
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
#include "gridtree/engine/executor.h"
#include "gridtree/engine/ids.h"
#include "gridtree/engine/level.h"
#include "gridtree/engine/objects.h"
#include "gridtree/engine/status.h"
#include "gridtree/index/polygon_index.h"

namespace gridtree {

namespace internal {
struct Topology;
struct MetricState;
struct ObjectCounts;
struct EngineState;
struct ViewAccess;
}  // namespace internal

struct EngineOptions {
  // Folder for the write-ahead log and snapshots. Empty: updates are kept in
  // memory only.
  // DEFAULT: ""
  std::string data_dir;
  // Worker threads for everything parallel (loading, the index build, batch
  // and region queries), when no executor is given.
  // DEFAULT: 0 (one per hardware thread)
  int threads = 0;
  // The executor to run on, shared with the caller (gridtree serve runs its
  // calls on the same one). DEFAULT: none (the engine makes one of `threads`)
  std::shared_ptr<const Executor> executor;
  // Spatial index tuning (its parallel_for is the executor's).
  index::PolygonIndexOptions index;
  // How Open and ReloadFrom validate a file (the executor is the engine's).
  LoadOptions load;
  // Tracked objects: snapping, expiry, batch limits (objects.h).
  ObjectOptions objects;
};

struct LocateOptions {
  // When a point is in no leaf, return the nearest leaf within this many
  // metres instead (flagged as snapped). 0 disables snapping.
  // DEFAULT: 0
  double max_distance_m = 0;
};

struct LocateResult {
  NodeId node;  // the leaf's node, invalid when the point is in no leaf
  LeafId leaf;  // the leaf's number (order of leaves in the dataset)
  bool snapped = false;
  double distance_m = 0;  // distance to the snapped leaf, 0 when inside
  bool hit() const { return node.valid(); }
};

// The chain of a node up to its root, root first. Depth is at most six
// because levels go strictly downward.
struct Chain {
  std::array<NodeId, kLevelCount> nodes{};
  int size = 0;
};

struct TopKQuery {
  Level level = Level::kCommunity;
  int metric = 0;
  // DEFAULT: 10
  size_t k = 10;
  // DEFAULT: none (the whole dataset)
  NodeId within;
  // Rank by metric per km² instead of the metric.
  // DEFAULT: false
  bool density = false;
};

struct TopEntry {
  NodeId node;
  int64_t value = 0;    // the metric, exact
  double density = 0;   // metric per km² (set when the query ranks by density)
};

struct TopKResult {
  std::vector<TopEntry> entries;  // best first; ties: lower node first
  uint64_t dataset_version = 0;   // the View the answer was computed on
  uint64_t version = 0;
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
  NodeId node;
  std::vector<double> values;   // per metric (the counts as doubles, or area-weighted shares)
  std::vector<int64_t> counts;  // per metric, exact; empty in kAreaWeighted
};

struct RegionResult {
  std::vector<double> total;    // per metric (the counts as doubles, or area-weighted sums)
  std::vector<int64_t> counts;  // per metric, exact; empty in kAreaWeighted
  std::vector<RegionRow> rows;  // by node number, when group_by is set
  int64_t leaves = 0;           // leaves that contributed
  uint64_t dataset_version = 0; // the View the answer was computed on
  uint64_t version = 0;
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
// metric version, and the one way to read the engine. Every query below
// answers from this state only, so node and leaf numbers from one answer
// stay valid for every other call on the same View, whatever Reload or
// Apply do meanwhile. Cheap to take (Engine::Read), safe to keep; the
// memory of an old dataset is freed when its last View goes. Parallel
// queries run on the engine's executor.
//
// NodeId and LeafId arguments must come from this View (or from another
// View of the same dataset_version); an invalid or out-of-range number is
// a programming error, not checked on these constant-time paths in release
// builds (GRIDTREE_DCHECK, gridtree/engine/check.h, checks them in debug and
// sanitizer builds). Use Find to turn an id from outside into a NodeId.
class View {
 public:
  ~View();

  const Dataset& dataset() const;
  const index::PolygonIndex& spatial_index() const;
  uint64_t dataset_version() const;  // 1 at open, +1 per Reload
  uint64_t version() const;  // metric version: applied update batches since the dataset was loaded
  // Object version: batches of position reports (and expiries) since the
  // engine started; the counts "objects.<kind>" belong to it.
  uint64_t objects_version() const;

  // The metrics of this state: the dataset's (dataset().metric_names), then
  // one "objects.<kind>" per kind of tracked object (objects.h) in order of
  // first report. Every metric-taking query accepts all of them.
  size_t metric_count() const;
  std::string_view metric_name(int metric) const;
  std::optional<int> MetricIndex(std::string_view name) const;

  // Point location; a non-finite point is a miss.
  LocateResult Locate(index::Point p, const LocateOptions& options = {}) const;
  // Many points, in parallel; out[i] answers points[i]. Fails (naming the
  // first bad point) before doing any work if a point is not finite or the
  // spans differ in size.
  Status LocateBatch(std::span<const index::Point> points, std::span<LocateResult> out,
                     const LocateOptions& options = {}) const;
  // Columnar bulk form: the leaf (invalid for a miss) of lon[i], lat[i].
  Status LocateColumns(std::span<const double> lon, std::span<const double> lat, std::span<LeafId> leaf_out) const;

  // Region aggregate, parallel over the border leaves.
  Result<RegionResult> RegionAggregate(const RegionQuery& query) const;
  // The k nodes of a level with the highest metric (or metric per km² when
  // density), optionally only inside one node's subtree. Ties: lower node
  // first. An unknown metric is an InvalidArgument error.
  Result<TopKResult> TopK(const TopKQuery& query) const;

  Chain ChainOf(NodeId node) const;
  std::string_view id(NodeId node) const;
  std::string_view name(NodeId node) const;
  Level level(NodeId node) const;
  std::optional<NodeId> Find(std::string_view id) const;
  NodeId NodeOf(LeafId leaf) const;
  LeafId LeafOf(NodeId node) const;  // invalid for an inner node
  // Aggregated value of a metric for any node (a leaf's own value, or the
  // sum of an inner node's leaves). Constant time.
  int64_t Metric(NodeId node, int metric) const;
  // All metrics of a node: the dataset's, then the object counts
  // (metric_name order).
  std::vector<int64_t> Aggregate(NodeId node) const;
  std::span<const NodeId> Children(NodeId node) const;
  NodeId Parent(NodeId node) const;  // invalid for a root
  std::string_view kind(NodeId node) const;
  double AreaKm2(NodeId node) const;  // ellipsoidal area of the node's leaves
  // Nodes whose name starts with prefix (UTF-8 bytes), in node order, at most limit.
  std::vector<NodeId> FindByNamePrefix(std::string_view prefix, size_t limit = 100) const;
  // Search by any part of a name or an id (UTF-8 bytes; a substring of whole
  // characters matches whole characters), at most limit, ranked: the node
  // whose id equals text, then nodes whose name starts with text, then nodes
  // whose name or id contains text. Within a rank: higher levels first
  // (city before county ...), then node order. Empty text finds nothing.
  std::vector<NodeId> FindByName(std::string_view text, size_t limit = 20) const;

 private:
  // Views are made by the Engine only (internal::ViewAccess).
  friend struct internal::ViewAccess;
  View(std::shared_ptr<const internal::Topology> topology, std::shared_ptr<const internal::MetricState> metrics,
       std::shared_ptr<const internal::ObjectCounts> objects);
  const internal::Topology& topology() const { return *topology_; }

  std::shared_ptr<const internal::Topology> topology_;
  std::shared_ptr<const internal::MetricState> metrics_;
  std::shared_ptr<const internal::ObjectCounts> objects_;  // null, or of this dataset version
};

class Engine {
 public:
  // Takes the dataset (its leaf geometry moves into the spatial index).
  static Result<std::unique_ptr<Engine>> Create(Dataset dataset, const EngineOptions& options = {});
  // Loads and validates a dataset file (GeoJSON), or maps an engine image
  // (image.h: nothing parsed or built); the report is filled when given.
  static Result<std::unique_ptr<Engine>> Open(const std::string& path, const EngineOptions& options = {},
                                              ValidationReport* report = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The current state, pinned.
  std::shared_ptr<const View> Read() const;

  // The executor every parallel piece of work runs on.
  const Executor& executor() const;
  int threads() const;

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
  // updates applied so far are not carried over; the log starts anew (a
  // batch not yet durable when the reload comes fails with
  // kFailedPrecondition). Listeners are told, with no leaves: everything.
  // Returns the first View of the new dataset. A dataset the index cannot
  // hold is an error and the engine keeps the old one.
  Result<std::shared_ptr<const View>> Reload(Dataset dataset);
  // Loads and validates a dataset file (EngineOptions::load) on the
  // engine's executor, then Reload. The report is filled when given.
  Result<std::shared_ptr<const View>> ReloadFrom(const std::string& path, ValidationReport* report = nullptr);

  // Called after every applied batch, every batch of position reports (and
  // expiry) and every reload (on the writer's thread) with the view the
  // change made and the leaves it changed, each once, as leaf numbers of
  // that view's dataset (sorted for metric updates, in no order for object
  // moves); after a reload the span is empty and everything changed. Two
  // writers' calls may arrive in either order or at once: a listener that
  // keeps the newest state compares (dataset_version, version,
  // objects_version) and ignores an older view. Keep it short.
  // Returns an id for RemoveListener.
  using Listener = std::function<void(const std::shared_ptr<const View>& view, std::span<const LeafId> leaves)>;
  int AddListener(Listener listener);
  void RemoveListener(int id);

  // ---- Tracked objects (objects.h, docs/objects.md) ----
  // Locates every report and moves its object (created on first report)
  // to its new leaf; counts per node and kind follow, as the metrics
  // "objects.<kind>". The batch is checked whole first: a bad report (empty
  // or long id or kind, coordinates not finite or out of range, a time too
  // far ahead, too many reports) refuses it, naming the first bad row, and
  // nothing of it is applied. `now`: unix seconds (0: the system clock).
  // Subscribers get the batch's enter/exit events before this returns.
  Result<TrackResult> Track(std::span<const ObjectReport> reports, int64_t now = 0);
  // Drops objects not heard from for ObjectOptions::expire_after_s, with
  // exit events marked expired. Returns how many. No-op when expiry is off.
  size_t ExpireObjects(int64_t now = 0);
  // Objects in a node's subtree, a box or a circle, by id, paged.
  Result<ObjectPage> Objects(const ObjectQuery& query) const;
  // The k objects nearest to a point (metres on the ellipsoid), of one kind
  // or any (""), nearest first.
  Result<std::vector<TrackedObject>> Nearest(index::Point p, size_t k, const std::string& kind = "") const;
  // Per kind: tracked and outside every leaf.
  std::vector<ObjectKindCount> ObjectKinds() const;
  // Tracked objects, and the bytes their store holds.
  size_t object_count() const;
  size_t object_memory_bytes() const;
  // Enter/exit events matching the filter, delivered in batches on the
  // thread that tracked them (keep the callback short). Returns an id for
  // Unsubscribe; ids of nodes unknown to the dataset are an error.
  using ObjectEventCallback = std::function<void(std::span<const ObjectEvent> events)>;
  Result<int> SubscribeObjectEvents(ObjectEventFilter filter, ObjectEventCallback callback);
  void UnsubscribeObjectEvents(int id);
  // Writes every tracked object to the data directory (a clean shutdown;
  // the next Open reads them back and removes the file). No-op without one.
  Status SaveObjects();

  // What recovery found when the engine opened its data directory (records
  // replayed, a torn tail cut off); empty without a data directory. A log
  // with a bad record in its middle is not opened at all (see
  // RecoverDataDir).
  std::string recovery_report() const;
  // Bytes in the write-ahead log (0 without a data directory).
  int64_t log_size_bytes() const;

 private:
  Engine();
  Status Start(std::shared_ptr<internal::Topology> topology, std::shared_ptr<internal::MetricState> image_metrics);
  // Reads the objects a clean shutdown saved (engine_objects.cpp).
  Status StartObjects(bool had_log);
  Result<std::shared_ptr<const View>> SwapIn(std::shared_ptr<internal::Topology> topology,
                                             std::shared_ptr<internal::MetricState> metrics);
  std::unique_ptr<internal::EngineState> state_;
};

// The explicit way out of a corrupt write-ahead log (docs/operations.md):
// keeps the logged batches up to keep_through_version, drops the rest, and
// leaves the original log beside it as wal.log.before-recover-<unix time>.
// Takes the data directory's lock, so it refuses while a server holds it.
// Returns a one-line account of what it kept and dropped.
Result<std::string> RecoverDataDir(const std::string& data_dir, uint64_t keep_through_version);

}  // namespace gridtree
