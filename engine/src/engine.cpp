// Engine and View: construction, point location and metric reads.
#include "gridtree/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <new>
#include <stdexcept>

#include "engine_state.h"
#include "gridtree/engine/check.h"
#include "state/topology.h"
#include "state/view_access.h"
#include "storage/wal.h"

namespace gridtree {

using internal::MetricState;
using internal::Topology;

View::View(std::shared_ptr<const Topology> topology, std::shared_ptr<const MetricState> metrics,
           std::shared_ptr<const internal::ObjectCounts> objects)
    : topology_(std::move(topology)), metrics_(std::move(metrics)), objects_(std::move(objects)) {
  // Counts of another dataset's nodes mean nothing here.
  if (objects_ && objects_->dataset_version != topology_->dataset_version) objects_.reset();
}
View::~View() = default;

uint64_t View::objects_version() const { return objects_ ? objects_->version : 0; }

size_t View::metric_count() const {
  return topology_->dataset.metric_count() + (objects_ ? objects_->kinds.size() : 0);
}

std::string_view View::metric_name(int metric) const {
  const size_t m = topology_->dataset.metric_count();
  if (static_cast<size_t>(metric) < m) return topology_->dataset.metric_names[metric];
  return objects_->metric_names[metric - m];
}

std::optional<int> View::MetricIndex(std::string_view name) const {
  if (auto m = topology_->dataset.MetricIndex(name)) return m;
  if (objects_)
    for (size_t k = 0; k < objects_->metric_names.size(); ++k)
      if (objects_->metric_names[k] == name) return static_cast<int>(topology_->dataset.metric_count() + k);
  return std::nullopt;
}

const Dataset& View::dataset() const { return topology_->dataset; }
const index::PolygonIndex& View::spatial_index() const { return *topology_->index; }
uint64_t View::dataset_version() const { return topology_->dataset_version; }
uint64_t View::version() const { return metrics_->version; }

LocateResult View::Locate(index::Point p, const LocateOptions& options) const {
  LocateResult r;
  int32_t leaf = topology_->index->Locate(p);
  if (leaf < 0 && options.max_distance_m > 0) {
    if (auto near = topology_->index->NearestWithin(p, options.max_distance_m)) {
      leaf = near->polygon;
      r.snapped = true;
      r.distance_m = near->distance_m;
    }
  }
  if (leaf >= 0) {
    r.leaf = LeafId(leaf);
    r.node = NodeId(topology_->dataset.leaf_nodes[leaf]);
  }
  return r;
}

Chain View::ChainOf(NodeId node) const {
  Chain c;
  int32_t up[kLevelCount];
  int n = 0;
  for (int32_t v = node.value; v >= 0 && n < kLevelCount; v = topology_->dataset.parents[v]) up[n++] = v;
  for (int i = 0; i < n; ++i) c.nodes[i] = NodeId(up[n - 1 - i]);
  c.size = n;
  return c;
}

std::string_view View::id(NodeId node) const {
  GRIDTREE_DCHECK_INDEX(node.value, topology_->dataset.node_count());
  return topology_->dataset.ids[node.value];
}
std::string_view View::name(NodeId node) const {
  GRIDTREE_DCHECK_INDEX(node.value, topology_->dataset.node_count());
  return topology_->dataset.names[node.value];
}
Level View::level(NodeId node) const {
  GRIDTREE_DCHECK_INDEX(node.value, topology_->dataset.node_count());
  return topology_->dataset.levels[node.value];
}
std::optional<NodeId> View::Find(std::string_view id) const {
  if (auto n = topology_->dataset.Find(id)) return NodeId(*n);
  return std::nullopt;
}
NodeId View::NodeOf(LeafId leaf) const {
  GRIDTREE_DCHECK_INDEX(leaf.value, topology_->dataset.leaf_count());
  return NodeId(topology_->dataset.leaf_nodes[leaf.value]);
}
LeafId View::LeafOf(NodeId node) const {
  GRIDTREE_DCHECK_INDEX(node.value, topology_->dataset.node_count());
  return LeafId(topology_->dataset.leaf_of_node[node.value]);
}
int64_t View::Metric(NodeId node, int metric) const {
  GRIDTREE_DCHECK_INDEX(node.value, topology_->dataset.node_count());
  GRIDTREE_DCHECK_INDEX(metric, metric_count());
  const int m = static_cast<int>(metrics_->metric_count);
  return metric < m ? metrics_->Get(node.value, metric) : objects_->counts->Get(node.value, metric - m);
}

Engine::Engine() : state_(std::make_unique<internal::EngineState>()) {}
Engine::~Engine() = default;

namespace {

// Takes the data directory's lock, before any long work: a second process
// on the same folder is told at once.
Status LockDataDir(internal::EngineState& st) {
  if (st.options.data_dir.empty()) return Status::Ok();
  auto lock = internal::DataDirLock::Acquire(st.options.data_dir);
  if (!lock.ok()) return lock.status();
  st.writer.data_dir_lock = std::move(lock.value());
  return Status::Ok();
}

}  // namespace

// Recovery (the data directory's checkpoint, then every logged batch after
// it) and the first published View. image_metrics: the values an engine
// image holds, used as they are when recovery changes nothing.
Status Engine::Start(std::shared_ptr<Topology> topology, std::shared_ptr<MetricState> image_metrics) {
  internal::EngineState& st = *state_;
  const EngineOptions& options = st.options;
  const Dataset& ds = topology->dataset;
  std::optional<std::vector<int64_t>> recovered;  // leaf values, when recovery changed them
  uint64_t version = 0;
  std::error_code no_log;
  const bool had_log = !options.data_dir.empty() && std::filesystem::exists(options.data_dir + "/wal.log", no_log);
  if (!options.data_dir.empty()) {
    auto snap = internal::ReadCheckpoint(options.data_dir, ds.fingerprint, ds.leaf_count(), ds.metric_count());
    if (!snap.ok()) return snap.status();
    if (snap.value()) {
      recovered = std::move(snap.value()->leaf_values);
      version = snap.value()->version;
    }
    std::vector<internal::WalRecord> replay;
    auto wal = internal::WriteAheadLog::Open(options.data_dir, ds.fingerprint, version, replay, st.writer.recovery);
    if (!wal.ok()) return wal.status();
    if (!replay.empty() && !recovered) recovered.emplace(ds.leaf_metrics.begin(), ds.leaf_metrics.end());
    for (const internal::WalRecord& r : replay) {
      for (const internal::LeafValue& v : r.values) {
        if (v.leaf >= ds.leaf_count() || v.metric >= ds.metric_count() || v.value < 0)
          return FailedPrecondition(options.data_dir + "/wal.log: record of version " + std::to_string(r.version) +
                                    " names leaf " + std::to_string(v.leaf) + ", metric " +
                                    std::to_string(v.metric) + " outside this dataset");
        (*recovered)[v.leaf * ds.metric_count() + v.metric] = v.value;
      }
      version = r.version;
    }
    st.writer.wal = std::move(wal.value());
  }
  std::shared_ptr<MetricState> metrics;
  if (recovered) metrics = internal::RollUp(ds, *recovered, version);
  else if (image_metrics) metrics = std::move(image_metrics);
  else metrics = internal::RollUp(ds, ds.leaf_metrics.span(), version);
  auto view = internal::ViewAccess::Make(std::move(topology), std::move(metrics));
  st.writer.pending = view;
  st.writer.synced_version = version;
  st.publisher.Publish(std::move(view));
  return StartObjects(had_log);
}

Result<std::unique_ptr<Engine>> Engine::Create(Dataset dataset, const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine());
  internal::EngineState& st = *engine->state_;
  st.options = options;
  if (Status s = LockDataDir(st); !s.ok()) return s;
  st.executor = options.executor ? options.executor : std::make_shared<const Executor>(options.threads);
  auto built = internal::BuildTopology(std::move(dataset), options, st.executor);
  if (!built.ok()) return built.status();
  if (Status s = engine->Start(std::move(built).value(), nullptr); !s.ok()) return s;
  return engine;
}

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& path, const EngineOptions& options,
                                             ValidationReport* report) {
  EngineOptions with_executor = options;
  if (!with_executor.executor) with_executor.executor = std::make_shared<const Executor>(options.threads);
  if (internal::IsEngineImage(path)) {
    // Mapped, not parsed: the image was validated when it was written.
    std::unique_ptr<Engine> engine(new Engine());
    internal::EngineState& st = *engine->state_;
    st.options = with_executor;
    if (Status s = LockDataDir(st); !s.ok()) return s;
    st.executor = with_executor.executor;
    auto opened = internal::OpenImageTopology(path, st.executor);
    if (!opened.ok()) return opened.status();
    if (report) *report = ValidationReport{};
    if (Status s = engine->Start(std::move(opened.value().topology), std::move(opened.value().metrics)); !s.ok())
      return s;
    return engine;
  }
  LoadOptions load = options.load;
  load.executor = with_executor.executor;
  LoadResult loaded = LoadDataset(path, load);
  if (report) *report = loaded.report;
  if (!loaded.dataset) {
    return InvalidArgument(path + ": " + loaded.report.ErrorSummary());
  }
  return Create(std::move(*loaded.dataset), with_executor);
}

std::shared_ptr<const View> Engine::Read() const { return state_->publisher.Current(); }

const Executor& Engine::executor() const { return *state_->executor; }
int Engine::threads() const { return state_->executor->threads(); }

namespace {
Status CheckPoint(double lon, double lat, size_t i) {
  if (std::isfinite(lon) && std::isfinite(lat)) return Status::Ok();
  return InvalidArgument("point " + std::to_string(i) + ": coordinates must be finite numbers (got lon=" +
                         std::to_string(lon) + ", lat=" + std::to_string(lat) + ")");
}
}  // namespace

Status View::LocateBatch(std::span<const index::Point> points, std::span<LocateResult> out,
                         const LocateOptions& options) const {
  if (points.size() != out.size())
    return InvalidArgument("LocateBatch: " + std::to_string(points.size()) + " points but " +
                           std::to_string(out.size()) + " result slots");
  for (size_t i = 0; i < points.size(); ++i)
    if (Status s = CheckPoint(points[i].x, points[i].y, i); !s.ok()) return s;
  topology_->executor->For(points.size(), 4096, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] = Locate(points[i], options);
  });
  return Status::Ok();
}

Status View::LocateColumns(std::span<const double> lon, std::span<const double> lat,
                           std::span<LeafId> leaf_out) const {
  if (lon.size() != lat.size() || lon.size() != leaf_out.size())
    return InvalidArgument("LocateColumns: lon, lat and output differ in length (" + std::to_string(lon.size()) +
                           ", " + std::to_string(lat.size()) + ", " + std::to_string(leaf_out.size()) + ")");
  for (size_t i = 0; i < lon.size(); ++i)
    if (Status s = CheckPoint(lon[i], lat[i], i); !s.ok()) return s;
  const index::PolygonIndex& idx = spatial_index();
  // LeafId is one int32_t (ids.h), the index's own leaf number type: the
  // index writes the numbers in place.
  std::span<int32_t> raw(reinterpret_cast<int32_t*>(leaf_out.data()), leaf_out.size());
  topology_->executor->For(lon.size(), 8192, [&](size_t b, size_t e) {
    idx.LocateMany(lon.subspan(b, e - b), lat.subspan(b, e - b), raw.subspan(b, e - b));
  });
  return Status::Ok();
}

}  // namespace gridtree

namespace gridtree {

Result<std::string> RecoverDataDir(const std::string& data_dir, uint64_t keep_through_version) {
  auto lock = internal::DataDirLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();
  return internal::RecoverLog(data_dir, keep_through_version);
}

}  // namespace gridtree
