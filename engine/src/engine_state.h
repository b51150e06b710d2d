// Internal state of an Engine: what a View pins (Topology, MetricState)
// and what the Engine owns (the executor, the writer, the current View).
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "gridtree/engine/engine.h"

namespace gridtree::internal {

class WriteAheadLog;
class DataDirLock;
class ObjectStore;
struct ObjectCounts;

// What does not change between metric updates: the hierarchy and the
// spatial index. Replaced whole by Reload.
struct Topology {
  Dataset dataset;  // leaf_geometry is empty: it lives in the index
  std::unique_ptr<index::PolygonIndex> index;
  std::shared_ptr<const Executor> executor;  // the engine's, for the View's parallel queries
  uint64_t dataset_version = 1;
  Column<int32_t> names_sorted;  // node numbers in order of name, for prefix search
  // first_leaf[k]: the number of the first leaf at or after node k (k may be
  // node_count()); a subtree [k, subtree_end) holds leaves
  // [first_leaf[k], first_leaf[subtree_end]).
  Column<int32_t> first_leaf;
};

// Aggregated metric values of every node at one version, in a two-level
// copy-on-write tree: pages of kChunksPerPage chunks of kChunkNodes nodes.
// An update copies the list of pages (one pointer per 4,096 nodes), then
// only the pages (64 pointers) and chunks (64 nodes) that hold the leaves it
// changes and their ancestors, so its cost follows the batch, not the size
// of the tree (with one level of 512-node chunks, a batch of 100 on the
// province copied ~8 MB). Immutable once published.
// A chunk is one allocation of kChunkNodes * metric_count values, indexed
// (node % kChunkNodes) * metric_count + metric: no vector in between, so a
// read costs no more loads than with one level.
using MetricChunk = std::shared_ptr<int64_t[]>;

struct MetricPage {
  static constexpr int kShift = 6;
  std::array<MetricChunk, 1 << kShift> chunks;  // null past the last node
};

struct MetricState {
  static constexpr int kChunkShift = 6;
  static constexpr int32_t kChunkNodes = 1 << kChunkShift;
  static constexpr int kPageShift = kChunkShift + MetricPage::kShift;  // nodes per page: 1 << kPageShift

  uint64_t version = 0;
  size_t metric_count = 0;
  std::vector<std::shared_ptr<const MetricPage>> pages;

  int64_t Get(int32_t node, int metric) const {
    const MetricPage& page = *pages[static_cast<size_t>(node) >> kPageShift];
    const int64_t* chunk = page.chunks[(static_cast<size_t>(node) >> kChunkShift) & ((1 << MetricPage::kShift) - 1)].get();
    return chunk[static_cast<size_t>(node & (kChunkNodes - 1)) * metric_count + metric];
  }
};

struct EngineState {
  EngineOptions options;
  std::shared_ptr<const Executor> executor;
  // The published state. A mutex, not std::atomic<std::shared_ptr>: GCC 12's
  // atomic shared_ptr unlocks with relaxed order after reading the pointer,
  // which ThreadSanitizer rightly reports; this lock is held only for a
  // pointer copy or swap, so a reader never waits behind a writer's work.
  mutable std::mutex current_mu;
  std::shared_ptr<const View> current;
  std::shared_ptr<const View> Current() const {
    std::lock_guard lock(current_mu);
    return current;
  }
  void Publish(std::shared_ptr<const View> view) {
    std::lock_guard lock(current_mu);
    view = WithObjectsLocked(std::move(view));
    current.swap(view);
  }  // the old view, if this held the last reference, is freed after the unlock
  // The view with the newest object counts attached (what Publish makes of it).
  std::shared_ptr<const View> WithObjects(std::shared_ptr<const View> view) {
    std::lock_guard lock(current_mu);
    return WithObjectsLocked(std::move(view));
  }
  std::shared_ptr<const View> WithObjectsLocked(std::shared_ptr<const View> view) const {
    if (!object_counts || view->objects_version() == ObjectCountsVersion()) return view;
    return std::make_shared<const View>(view->topology_ptr(), view->metrics_ptr(), object_counts);
  }
  uint64_t ObjectCountsVersion() const;  // object_counts' version (engine_objects.cpp)

  // Tracked objects (engine_objects.cpp). objects_mu serialises tracking,
  // expiry and object queries; object_counts, the newest counts, is
  // guarded by current_mu and attached to every View published.
  mutable std::mutex objects_mu;
  std::unique_ptr<ObjectStore> objects;
  std::shared_ptr<const ObjectCounts> object_counts;
  // After a start that did not find the objects of a clean shutdown, an
  // object's first report makes no enter events until this unix time: it
  // was most likely already there, and a restart must not look like a
  // city-wide arrival.
  int64_t quiet_until = 0;
  struct ObjectSubscriber {
    ObjectEventFilter filter;
    std::vector<int32_t> nodes;     // filter.node_ids as node numbers of dataset nodes_version
    uint64_t nodes_version = 0;
    Engine::ObjectEventCallback callback;
  };
  // Tracked objects now (read without objects_mu, e.g. by the server's
  // once-a-second sweep).
  std::atomic<size_t> objects_live{0};
  // Held from the end of a batch's changes until its events and listener
  // calls are made, so that subscribers get batches in the order they
  // were applied (taken while objects_mu is still held).
  std::mutex delivery_mu;
  std::mutex subscribers_mu;
  std::map<int, ObjectSubscriber> subscribers;
  int next_subscriber = 1;
  ~EngineState();

  // Writers: write_mu serialises validation and log appends; sync_mu lets
  // one writer at a time fsync for everyone appended so far (group commit).
  // Lock order: sync_mu before write_mu.
  std::mutex sync_mu;
  std::mutex write_mu;
  std::shared_ptr<const View> pending;  // newest state built (maybe not yet durable)
  uint64_t synced_version = 0;
  // Reloads so far, and the last durable version of the log each one reset
  // (by the count of reloads before it): a writer whose record was appended
  // before a reload learns whether it had been made durable.
  uint64_t reloads = 0;
  std::map<uint64_t, uint64_t> durable_before_reload;
  std::unique_ptr<DataDirLock> data_dir_lock;  // held while the engine may write data_dir
  std::unique_ptr<WriteAheadLog> wal;
  std::string recovery;

  std::mutex listeners_mu;
  std::map<int, Engine::Listener> listeners;
  int next_listener = 1;
};

// Places every tracked object again in the current dataset, after a reload
// (engine_objects.cpp), with no events.
void RelocateObjects(EngineState& st);

// Tells every listener about a new state. The leaves are numbers of that
// state's own dataset: a listener always gets the view they belong to,
// never a newer one a reload may have published meanwhile.
void NotifyListeners(EngineState& st, const std::shared_ptr<const View>& view, std::span<const LeafId> leaves);

// The number of nodes rounded up to whole metric chunks: node values are
// held padded to it (in memory and in an engine image).
size_t PaddedNodeCount(size_t node_count);

// A metric state whose chunks point into node_values (node * metric_count
// + metric, padded to PaddedNodeCount), kept alive by owner: nothing is
// copied until an update copies the chunks it changes.
std::shared_ptr<MetricState> MetricsOver(std::span<const int64_t> node_values, size_t node_count,
                                         size_t metric_count, uint64_t version, std::shared_ptr<const void> owner);

// Sums leaf values up the tree into a fresh MetricState.
std::shared_ptr<MetricState> RollUp(const Dataset& ds, std::span<const int64_t> leaf_metrics, uint64_t version);

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
