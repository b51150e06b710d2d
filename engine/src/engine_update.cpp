// Engine writes: atomic update batches with copy-on-write metric chunks,
// the write-ahead log with grouped fsync (the MetricWriter's jobs), checkpoints, reloads, listeners.
#include <unordered_map>

#include "engine_state.h"
#include "state/topology.h"
#include "state/view_access.h"
#include "storage/engine_image.h"
#include "storage/wal.h"

namespace gridtree {

using internal::MetricEditor;
using internal::ViewAccess;

namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string MetricList(const Dataset& ds) {
  std::string s;
  for (const auto& n : ds.metric_names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

Result<uint64_t> Engine::Apply(const UpdateBatch& batch) {
  internal::EngineState& st = *state_;
  internal::MetricWriter& w = st.writer;
  if (batch.updates.empty()) return InvalidArgument("update batch is empty");
  std::vector<LeafId> changed;
  uint64_t version = 0;
  uint64_t reloads = 0;              // how many reloads preceded this batch's log record
  std::shared_ptr<const View> made;  // the state this batch made (what listeners get)
  {
    std::lock_guard lock(w.write_mu);
    reloads = w.reloads;
    const View& base = *w.pending;
    const Dataset& ds = base.dataset();
    const size_t m = ds.metric_count();
    // 1. Resolve and check every update against the newest state; the batch
    //    is rejected whole at the first bad one.
    std::unordered_map<uint64_t, int64_t> next;  // leaf * m + metric -> new value
    std::vector<uint64_t> order;
    for (size_t i = 0; i < batch.updates.size(); ++i) {
      const MetricUpdate& u = batch.updates[i];
      // Built only for an error message: no allocation per good update.
      auto where = [&] {
        return "update " + std::to_string(i) + " (leaf " + Quote(u.leaf_id) + ", metric " + Quote(u.metric) + "): ";
      };
      const std::optional<int32_t> node = ds.Find(u.leaf_id);
      if (!node) return NotFound(where() + "unknown id");
      const int32_t leaf = ds.leaf_of_node[*node];
      if (leaf < 0)
        return InvalidArgument(where() + "is an inner node (" + std::string(LevelName(ds.levels[*node])) +
                               "); only leaves carry metrics, inner values are sums");
      const std::optional<int> metric = ds.MetricIndex(u.metric);
      if (!metric) return InvalidArgument(where() + "unknown metric; the dataset has " + MetricList(ds));
      const uint64_t key = static_cast<uint64_t>(leaf) * m + static_cast<uint64_t>(*metric);
      auto it = next.find(key);
      const int64_t old = it != next.end() ? it->second : base.Metric(NodeId(*node), *metric);
      int64_t value = u.value;
      if (u.op == MetricUpdate::Op::kAdd && __builtin_add_overflow(old, u.value, &value))
        return InvalidArgument(where() + "adding " + std::to_string(u.value) + " to " + std::to_string(old) +
                               " overflows");
      if (value < 0)
        return InvalidArgument(where() + (u.op == MetricUpdate::Op::kSet
                                            ? "value " + std::to_string(value) + " is negative"
                                            : "adding " + std::to_string(u.value) + " to " + std::to_string(old) +
                                                  " would go negative"));
      if (it == next.end()) order.push_back(key);
      next[key] = value;
    }
    // 2. Copy the touched chunks, apply the deltas to each leaf and its
    //    ancestors; an ancestor overflowing rejects the batch.
    MetricEditor edit(*ViewAccess::metrics(base), base.version() + 1);
    internal::WalRecord record;
    record.version = base.version() + 1;
    for (uint64_t key : order) {
      const int32_t leaf = static_cast<int32_t>(key / m);
      const size_t metric = key % m;
      const int32_t node = ds.leaf_nodes[leaf];
      const int64_t delta = next[key] - base.Metric(NodeId(node), static_cast<int>(metric));
      if (const int32_t v = edit.AddUp(ds.parents.span(), node, metric, delta); v >= 0)
        return InvalidArgument("update batch: the sum of " + ds.metric_names[metric] + " at " + Quote(ds.ids[v]) +
                               " would overflow");
      record.values.push_back({static_cast<uint32_t>(leaf), static_cast<uint32_t>(metric), next[key]});
      if (changed.empty() || changed.back() != LeafId(leaf)) changed.push_back(LeafId(leaf));
    }
    // 3. Log it (durable below), then it becomes the newest state.
    if (w.wal)
      if (Status s = w.wal->Append(record); !s.ok()) return s;
    version = record.version;
    auto view = ViewAccess::Make(ViewAccess::topology(base), std::move(edit).Finish());
    made = view;
    w.pending = view;
    if (!w.wal) st.publisher.Publish(std::move(view));
  }
  if (w.wal) {
    // Group commit: the first writer in fsyncs for every record appended so
    // far; the others find their version already durable.
    std::lock_guard sync(w.sync_mu);
    // A reload between this batch's append and now reset the log: the batch
    // is lost unless a sync before the reload had already made it durable
    // (and visible). Never acknowledge a lost batch.
    if (w.reloads != reloads) {
      if (version > w.durable_before_reload.at(reloads))
        return FailedPrecondition("update batch: the dataset was reloaded before the batch was written durably; "
                                  "it was not applied (apply it again to the new dataset if it still holds)");
      return version;  // durable and published before the reload dropped it, as every applied batch
    }
    if (w.synced_version < version) {
      std::shared_ptr<const View> target;
      {
        std::lock_guard lock(w.write_mu);
        target = w.pending;
      }
      if (Status s = w.wal->Sync(); !s.ok()) {
        // Not durable: nothing newer than the published state may become
        // visible; the log refuses further writes until reopened.
        std::lock_guard lock(w.write_mu);
        w.pending = st.publisher.Current();
        return s;
      }
      w.synced_version = target->version();
      st.publisher.Publish(std::move(target));
    }
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  // With the newest object counts: a watcher comparing versions never sees them go back.
  st.publisher.Notify(st.publisher.WithObjects(made), changed);
  return version;
}

Status Engine::Checkpoint() {
  internal::EngineState& st = *state_;
  internal::MetricWriter& w = st.writer;
  std::lock_guard sync(w.sync_mu);
  std::lock_guard lock(w.write_mu);
  if (!w.wal) return Status::Ok();
  if (Status s = w.wal->Sync(); !s.ok()) return s;
  const View& v = *w.pending;
  const Dataset& ds = v.dataset();
  const size_t m = ds.metric_count();
  std::vector<int64_t> values(ds.leaf_count() * m);
  for (size_t l = 0; l < ds.leaf_count(); ++l)
    for (size_t j = 0; j < m; ++j) values[l * m + j] = v.Metric(NodeId(ds.leaf_nodes[l]), static_cast<int>(j));
  if (Status s =
          internal::WriteCheckpoint(st.options.data_dir, ds.fingerprint, v.version(), ds.leaf_count(), m, values);
      !s.ok())
    return s;
  if (Status s = w.wal->Rotate(v.version()); !s.ok()) return s;
  w.synced_version = v.version();
  st.publisher.Publish(w.pending);
  return Status::Ok();
}

Result<std::shared_ptr<const View>> Engine::Reload(Dataset dataset) {
  internal::EngineState& st = *state_;
  auto built = internal::BuildTopology(std::move(dataset), st.options, st.executor);
  if (!built.ok()) return built.status();
  std::shared_ptr<internal::Topology> topology = std::move(built).value();
  auto metrics = internal::RollUp(topology->dataset, topology->dataset.leaf_metrics.span(), 0);
  return SwapIn(std::move(topology), std::move(metrics));
}

Result<std::shared_ptr<const View>> Engine::SwapIn(std::shared_ptr<internal::Topology> topology,
                                                   std::shared_ptr<internal::MetricState> metrics) {
  internal::EngineState& st = *state_;
  internal::MetricWriter& w = st.writer;
  std::shared_ptr<const View> view;
  {
    std::lock_guard sync(w.sync_mu);
    std::lock_guard lock(w.write_mu);
    topology->dataset_version = w.pending->dataset_version() + 1;
    if (w.wal)
      if (Status s = w.wal->Reset(topology->dataset.fingerprint); !s.ok()) return s;
    w.durable_before_reload[w.reloads] = w.synced_version;
    ++w.reloads;
    view = ViewAccess::Make(std::move(topology), std::move(metrics));
    w.pending = view;
    w.synced_version = 0;
    st.publisher.Publish(view);
  }
  // The tracked objects, placed in the new dataset before anyone is told.
  internal::RelocateObjects(st);
  // No leaves: everything is new, a watcher re-reads whatever it watches.
  view = st.publisher.WithObjects(view);
  st.publisher.Notify(view, {});
  return view;
}

Result<std::shared_ptr<const View>> Engine::ReloadFrom(const std::string& path, ValidationReport* report) {
  if (internal::IsEngineImage(path)) {
    // Mapped while readers go on with the old View; the swap is one pointer.
    auto opened = internal::OpenImageTopology(path, state_->executor);
    if (!opened.ok()) return opened.status();
    if (report) *report = ValidationReport{};
    return SwapIn(std::move(opened.value().topology), std::move(opened.value().metrics));
  }
  LoadOptions load = state_->options.load;
  load.executor = state_->executor;
  LoadResult loaded = LoadDataset(path, load);
  if (report) *report = loaded.report;
  if (!loaded.dataset) return InvalidArgument(path + ": " + loaded.report.ErrorSummary());
  return Reload(std::move(*loaded.dataset));
}

int Engine::AddListener(Listener listener) { return state_->publisher.AddListener(std::move(listener)); }

void Engine::RemoveListener(int id) { state_->publisher.RemoveListener(id); }

std::string Engine::recovery_report() const { return state_->writer.recovery; }

int64_t Engine::log_size_bytes() const {
  std::lock_guard lock(state_->writer.write_mu);
  return state_->writer.wal ? state_->writer.wal->size_bytes() : 0;
}

}  // namespace gridtree
