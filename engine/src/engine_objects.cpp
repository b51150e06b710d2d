// Engine: tracked objects (objects.h, docs/objects.md): position reports,
// their counts per node as the metrics "objects.<kind>", enter/exit events,
// expiry, object queries, and keeping positions over a clean restart.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <iterator>
#include <queue>

#include "gridtree/engine/json_text.h"
#include "gridtree/engine/utf8.h"
#include "engine_state.h"
#include "objects/object_store.h"
#include "state/topology.h"
#include "state/view_access.h"
#include "storage/wal.h"

namespace gridtree {

using internal::MetricEditor;
using internal::MetricState;
using internal::ObjectCounts;
using internal::ObjectStore;

namespace {

constexpr char kObjectsFile[] = "objects.bin";
constexpr char kObjectsMagic[8] = {'G', 'T', 'O', 'B', 'J', '0', '0', '1'};

int64_t NowOr(int64_t now) { return now ? now : static_cast<int64_t>(std::time(nullptr)); }

// "report 12 of 40000 (id "boat-9"): ", 1-based, so that a caller can map
// it back to its input (gridtree call track: FILE:LINE).
std::string Row(size_t i, size_t n, const ObjectReport& r) {
  std::string id = "report " + std::to_string(i + 1) + " of " + std::to_string(n) + " (id ";
  AppendJsonString(id, r.id.substr(0, 64));
  return id + "): ";
}

// The shortest text that reads back as v ("1e+308", not 309 digits).
std::string Shortest(double v) {
  std::string out;
  AppendJsonNumber(out, v);
  return out == "null" ? std::to_string(v) : out;
}

std::string NotUtf8(const char* field, std::string_view s) {
  const size_t at = FindInvalidUtf8(s);
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(s[at]));
  return std::string("the ") + field + " is not valid UTF-8 (byte " + byte + " at offset " + std::to_string(at) + ")";
}

// Which texts a batch may hold: new reports must be UTF-8; objects a clean
// shutdown saved before that was checked are placed again as they were
// (every JSON output makes them valid: json_text.h).
enum class Text { kUtf8, kAsSaved };

Status CheckReport(const ObjectReport& r, const ObjectOptions& o, int64_t now, Text text);

// The whole batch is checked before anything changes.
Status CheckReports(std::span<const ObjectReport> reports, const ObjectOptions& o, int64_t now, Text text) {
  if (reports.empty()) return InvalidArgument("track: the batch has no reports");
  if (reports.size() > o.max_reports_per_batch)
    return InvalidArgument("track: " + std::to_string(reports.size()) + " reports exceed the limit of " +
                           std::to_string(o.max_reports_per_batch) + " per batch");
  for (size_t i = 0; i < reports.size(); ++i)
    if (Status s = CheckReport(reports[i], o, now, text); !s.ok())
      return InvalidArgument(Row(i, reports.size(), reports[i]) + s.message());
  return Status::Ok();
}

Status CheckReport(const ObjectReport& r, const ObjectOptions& o, int64_t now, Text text) {
  if (r.id.empty()) return InvalidArgument("the id is empty");
  if (r.id.size() > o.max_id_bytes)
    return InvalidArgument("the id has " + std::to_string(r.id.size()) + " bytes, more than " +
                           std::to_string(o.max_id_bytes));
  if (text == Text::kUtf8 && !IsValidUtf8(r.id)) return InvalidArgument(NotUtf8("id", r.id));
  if (r.kind.empty()) return InvalidArgument("the kind is empty");
  if (r.kind.size() > o.max_kind_bytes)
    return InvalidArgument("the kind has " + std::to_string(r.kind.size()) + " bytes, more than " +
                           std::to_string(o.max_kind_bytes));
  if (text == Text::kUtf8 && !IsValidUtf8(r.kind)) return InvalidArgument(NotUtf8("kind", r.kind));
  const bool lon_ok = std::isfinite(r.lon) && r.lon >= -180 && r.lon <= 180;
  const bool lat_ok = std::isfinite(r.lat) && r.lat >= -90 && r.lat <= 90;
  const std::string position = "the position (" + Shortest(r.lon) + ", " + Shortest(r.lat) + ")";
  if (!lon_ok && !lat_ok)
    return InvalidArgument(position + " is not a longitude in [-180, 180] and a latitude in [-90, 90]");
  if (!lon_ok) return InvalidArgument(position + ": lon " + Shortest(r.lon) + " is not in [-180, 180]");
  if (!lat_ok) return InvalidArgument(position + ": lat " + Shortest(r.lat) + " is not in [-90, 90]");
  if (r.time < 0) return InvalidArgument("the time " + std::to_string(r.time) + " is negative");
  if (r.time > now && r.time - now > o.max_future_s)
    return InvalidArgument("the time " + std::to_string(r.time) + " is more than " + std::to_string(o.max_future_s) +
                           " s after the server's clock (" + std::to_string(now) + ")");
  return Status::Ok();
}

}  // namespace

Status CheckObjectReport(const ObjectReport& report, const ObjectOptions& options, int64_t now) {
  return CheckReport(report, options, now, Text::kUtf8);
}

namespace {

// The net change of one kind's count at one leaf (its node number).
struct CountDelta {
  int32_t node;
  uint16_t kind;
  int32_t delta;
};

// The counts after `deltas`: `base` widened to `kinds` columns when new
// kinds came, each delta added to its leaf and every ancestor, copying only
// the chunks touched (as Engine::Apply does for the dataset's metrics).
std::shared_ptr<const MetricState> AddCounts(const MetricState* base, const Dataset& ds, size_t kinds,
                                             const std::vector<CountDelta>& deltas) {
  MetricEditor edit = base && base->metric_count == kinds
                          ? MetricEditor(*base, 0)
                          : MetricEditor::Widened(base, ds.node_count(), kinds, 0);  // a new kind: rare
  // Each (leaf, kind) comes once, with its net change (ObjectStore::DrainNet);
  // counts stay far below overflow.
  for (const CountDelta& d : deltas) edit.AddUp(ds.parents.span(), d.node, d.kind, d.delta);
  return std::move(edit).Finish();
}

// Enter and exit events for an object moving from one leaf to another
// (nodes, -1 for outside every leaf): the chains part where they first
// differ; exits deepest first, then enters from the top.
void MoveEvents(const View& view, int32_t from, int32_t to, const ObjectEvent& base, std::vector<ObjectEvent>& out) {
  const Chain a = from >= 0 ? view.ChainOf(NodeId(from)) : Chain{};
  const Chain b = to >= 0 ? view.ChainOf(NodeId(to)) : Chain{};
  int common = 0;
  while (common < a.size && common < b.size && a.nodes[common] == b.nodes[common]) ++common;
  for (int i = a.size - 1; i >= common; --i) {
    ObjectEvent e = base;
    e.type = ObjectEvent::Type::kExit;
    e.node_id = std::string(view.id(a.nodes[i]));
    e.level = view.level(a.nodes[i]);
    out.push_back(std::move(e));
  }
  for (int i = common; i < b.size; ++i) {
    ObjectEvent e = base;
    e.type = ObjectEvent::Type::kEnter;
    e.node_id = std::string(view.id(b.nodes[i]));
    e.level = view.level(b.nodes[i]);
    out.push_back(std::move(e));
  }
}

// A chosen node matches its own events and those of every node inside it.
// `nodes`: the chosen nodes as numbers of `ds`.
bool Matches(const ObjectEventFilter& f, const std::vector<int32_t>& nodes, const ObjectEvent& e, const Dataset& ds,
             int32_t node) {
  if (!f.kinds.empty() && std::find(f.kinds.begin(), f.kinds.end(), e.kind) == f.kinds.end()) return false;
  if (!f.levels.empty() && std::find(f.levels.begin(), f.levels.end(), e.level) == f.levels.end()) return false;
  if (f.node_ids.empty()) return true;
  if (node < 0) return false;
  for (int32_t c : nodes)
    if (c <= node && node < ds.subtree_end[c]) return true;
  return false;
}

// The filter's nodes as numbers of the view's dataset.
std::vector<int32_t> ResolveNodes(const ObjectEventFilter& f, const View& view) {
  std::vector<int32_t> out;
  for (const std::string& id : f.node_ids)
    if (auto n = view.Find(id)) out.push_back(n->value);
  return out;
}

}  // namespace

// ---- state shared by the object paths --------------------------------------------------

namespace {

// Everything one batch (or expiry) changes, applied under objects_mu.
struct ObjectChange {
  std::vector<CountDelta> deltas;
  std::vector<std::string> kinds;       // the counts' kinds after the change (new ones appended)
  std::vector<int64_t> total, outside;  // per kind
  std::vector<ObjectEvent> events;
  std::vector<LeafId> leaves;           // leaves whose counts changed
};

// The store's net changes since the last drain, as count deltas at leaf
// nodes of `ds`, and the leaves they touched.
void DrainChanges(ObjectStore& store, const Dataset& ds, std::vector<CountDelta>& deltas, std::vector<LeafId>& leaves) {
  std::vector<ObjectStore::Net> nets;
  std::vector<int32_t> touched;
  store.DrainNet(nets, touched);
  deltas.reserve(deltas.size() + nets.size());
  for (const ObjectStore::Net& n : nets) deltas.push_back({ds.leaf_nodes[n.leaf], n.kind, n.delta});
  leaves.reserve(leaves.size() + touched.size());
  for (int32_t l : touched) leaves.push_back(LeafId(l));
}

// Makes `counts` the newest object counts, attached to the current view;
// returns the view of `view`'s dataset they are in.
std::shared_ptr<const View> PublishCounts(internal::EngineState& st, const View& view,
                                          std::shared_ptr<const ObjectCounts> counts) {
  st.objects.live = st.objects.store->size();
  st.objects.counts = counts;
  // After a reload meanwhile, the view returned is of the old dataset (the
  // change's leaves are numbers of it), and RelocateObjects moves it over next.
  return st.publisher.PublishObjectCounts(view, std::move(counts));
}

// An object as queries return it.
TrackedObject TrackedObjectAt(const ObjectStore& store, int32_t slot, const ObjectCounts& counts, const View& view) {
  const ObjectStore::Record& r = store.at(slot);
  TrackedObject o;
  o.id = std::string(store.id(slot));
  o.kind = counts.kinds[r.kind];
  o.lon = r.lon;
  o.lat = r.lat;
  o.time = r.time;
  if (r.leaf >= 0) o.leaf_id = std::string(view.id(view.NodeOf(LeafId(r.leaf))));
  return o;
}

// The store for the view's dataset: made on first use, and every object
// placed again (no events) after a reload.
ObjectStore& StoreFor(internal::EngineState& st, const View& view) {
  const Dataset& ds = view.dataset();
  const bool new_dataset = st.objects.counts && st.objects.counts->dataset_version != view.dataset_version();
  if (!st.objects.store) st.objects.store = std::make_unique<ObjectStore>(ds.leaf_count());
  if (!new_dataset) return *st.objects.store;
  ObjectStore& store = *st.objects.store;
  store.Reset(ds.leaf_count());
  const LocateOptions locate{st.options.objects.snap_m};
  std::vector<CountDelta> deltas;
  auto counts = std::make_shared<ObjectCounts>(*st.objects.counts);
  std::fill(counts->outside.begin(), counts->outside.end(), 0);
  counts->version = st.objects.counts->version + 1;
  for (int32_t s = 0; s < static_cast<int32_t>(store.slot_count()); ++s) {
    ObjectStore::Record& r = store.at(s);
    if (!r.live) continue;
    const LocateResult loc = view.Locate({r.lon, r.lat}, locate);
    store.Move(s, loc.hit() ? loc.leaf.value : ObjectStore::kOutside);
    if (loc.hit()) {
      store.AddNet(loc.leaf.value, r.kind, 1);
    } else {
      ++counts->outside[r.kind];
    }
  }
  counts->dataset_version = view.dataset_version();
  std::vector<LeafId> leaves;
  DrainChanges(store, ds, deltas, leaves);
  counts->counts = AddCounts(nullptr, ds, counts->kinds.size(), deltas);
  PublishCounts(st, view, std::move(counts));
  return store;
}

// Publishes the counts the change makes (the store's net changes, drained
// into change.deltas and change.leaves); returns the view they are in.
std::shared_ptr<const View> PublishChange(internal::EngineState& st, const View& view, ObjectChange& change) {
  DrainChanges(*st.objects.store, view.dataset(), change.deltas, change.leaves);
  auto counts = std::make_shared<ObjectCounts>();
  const ObjectCounts* old = st.objects.counts.get();
  counts->dataset_version = view.dataset_version();
  counts->version = (old ? old->version : 0) + 1;
  counts->kinds = change.kinds;
  for (const std::string& k : counts->kinds) counts->metric_names.push_back("objects." + k);
  counts->total = change.total;
  counts->outside = change.outside;
  counts->counts =
      AddCounts(old ? old->counts.get() : nullptr, view.dataset(), counts->kinds.size(), change.deltas);
  return PublishCounts(st, view, std::move(counts));
}

// Hands each subscriber the events it asked for.
void Deliver(internal::EngineState& st, const View& view, const std::vector<ObjectEvent>& events) {
  if (events.empty()) return;
  std::vector<std::pair<Engine::ObjectEventCallback, std::vector<ObjectEvent>>> out;
  {
    std::lock_guard lock(st.objects.subscribers_mu);
    for (auto& [id, sub] : st.objects.subscribers) {
      if (!sub.filter.node_ids.empty() && sub.nodes_version != view.dataset_version()) {
        sub.nodes = ResolveNodes(sub.filter, view);  // a reload renumbered the nodes
        sub.nodes_version = view.dataset_version();
      }
      std::vector<ObjectEvent> mine;
      for (const ObjectEvent& e : events) {
        const std::optional<NodeId> node = sub.filter.node_ids.empty() ? std::nullopt : view.Find(e.node_id);
        if (Matches(sub.filter, sub.nodes, e, view.dataset(), node ? node->value : -1)) mine.push_back(e);
      }
      if (!mine.empty()) out.emplace_back(sub.callback, std::move(mine));
    }
  }
  for (auto& [callback, mine] : out) callback(mine);
}

bool HasSubscribers(internal::EngineState& st) {
  std::lock_guard lock(st.objects.subscribers_mu);
  return !st.objects.subscribers.empty();
}

ObjectChange StartChange(const internal::EngineState& st) {
  ObjectChange c;
  if (st.objects.counts) {
    c.kinds = st.objects.counts->kinds;
    c.total = st.objects.counts->total;
    c.outside = st.objects.counts->outside;
  }
  return c;
}

// Engine::Track, with the batch limits to check given (the objects a clean
// shutdown saved are placed again without them: StartObjects).
Result<TrackResult> TrackReports(internal::EngineState& st, std::span<const ObjectReport> reports, int64_t now,
                                 const ObjectOptions& limits, Text text = Text::kUtf8) {
  if (Status s = CheckReports(reports, limits, now, text); !s.ok()) return s;
  const bool events_wanted = HasSubscribers(st);
  TrackResult result;
  result.reports = reports.size();
  std::shared_ptr<const View> view, made;
  ObjectChange change;
  size_t kinds_before = 0;
  std::unique_lock delivery(st.objects.delivery_mu, std::defer_lock);
  {
    std::lock_guard lock(st.objects.mu);
    view = st.publisher.Current();
    ObjectStore& store = StoreFor(st, *view);
    // Room for the batch, checked before anything changes.
    size_t id_bytes = 0;
    for (const ObjectReport& r : reports) id_bytes += r.id.size();
    if (store.size() + reports.size() > ObjectStore::kMaxObjects || !store.HasRoomForIds(id_bytes))
      return FailedPrecondition("track: " + std::to_string(store.size()) + " objects tracked; this batch could pass the " +
                               std::to_string(ObjectStore::kMaxObjects) + " objects or 4 GiB of ids the engine holds");
    change = StartChange(st);
    {
      std::vector<std::string_view> kinds(change.kinds.begin(), change.kinds.end());
      for (size_t i = 0; i < reports.size(); ++i)
        if (std::find(kinds.begin(), kinds.end(), reports[i].kind) == kinds.end()) {
          if (kinds.size() == limits.max_kinds)
            return InvalidArgument(Row(i, reports.size(), reports[i]) + "the kind \"" + reports[i].kind + "\" would be kind " +
                                   std::to_string(kinds.size() + 1) + ", more than the " +
                                   std::to_string(limits.max_kinds) + " allowed");
          kinds.push_back(reports[i].kind);
        }
    }
    kinds_before = change.kinds.size();
    const Dataset& ds = view->dataset();
    const LocateOptions locate{st.options.objects.snap_m};
    // Every point located first, together (the index overlaps their memory
    // loads); a report in no leaf snaps on its own when snapping is on.
    const size_t n = reports.size();
    std::vector<double> xs(n), ys(n);
    std::vector<int32_t> leaves(n);
    std::vector<uint64_t> hashes(n);
    for (size_t i = 0; i < n; ++i) {
      xs[i] = reports[i].lon;
      ys[i] = reports[i].lat;
      hashes[i] = ObjectStore::Hash(reports[i].id);
    }
    view->spatial_index().LocateMany(xs, ys, leaves);
    if (locate.max_distance_m > 0)
      for (size_t i = 0; i < n; ++i)
        if (leaves[i] < 0) {
          const LocateResult loc = view->Locate({xs[i], ys[i]}, locate);
          leaves[i] = loc.hit() ? loc.leaf.value : ObjectStore::kOutside;
        }
    // Prefetch distances, in reports: the id table's slot first, then the
    // record it names, then the id text and the list neighbours.
    constexpr size_t kSlotAhead = 24, kRecordAhead = 16, kRestAhead = 8;
    for (size_t i = 0; i < n; ++i) {
      if (i + kSlotAhead < n) store.PrefetchSlot(hashes[i + kSlotAhead]);
      if (i + kRecordAhead < n) store.PrefetchRecord(hashes[i + kRecordAhead]);
      if (i + kRestAhead < n) store.PrefetchRest(hashes[i + kRestAhead], leaves[i + kRestAhead]);
      const ObjectReport& r = reports[i];
      uint16_t kind = 0;
      while (kind < change.kinds.size() && change.kinds[kind] != r.kind) ++kind;
      if (kind == change.kinds.size()) {
        change.kinds.push_back(r.kind);
        change.total.push_back(0);
        change.outside.push_back(0);
      }
      const int64_t time = r.time ? r.time : now;
      int32_t slot = store.Find(r.id, hashes[i]);
      const bool is_new = slot < 0;
      if (!is_new && time < store.at(slot).time) continue;  // older than what we know: stale, ignored
      const int32_t leaf = leaves[i] >= 0 ? leaves[i] : ObjectStore::kOutside;
      if (leaf == ObjectStore::kOutside) ++result.outside;
      int32_t old_leaf = ObjectStore::kOutside;
      uint16_t old_kind = kind;
      if (is_new) {
        slot = store.Insert(r.id, kind);
      } else {
        old_leaf = store.at(slot).leaf;
        old_kind = store.at(slot).kind;
      }
      ObjectStore::Record& rec = store.at(slot);
      rec.lon = r.lon;
      rec.lat = r.lat;
      rec.time = time;
      rec.kind = kind;
      if (!is_new && old_leaf == leaf && old_kind == kind) continue;
      ++result.moved;
      const int32_t from = old_leaf >= 0 ? ds.leaf_nodes[old_leaf] : -1;
      const int32_t to = leaf >= 0 ? ds.leaf_nodes[leaf] : -1;
      if (!is_new) {
        --change.total[old_kind];
        if (from < 0) --change.outside[old_kind];
        if (from >= 0) store.AddNet(old_leaf, old_kind, -1);
      }
      ++change.total[kind];
      if (to < 0) ++change.outside[kind];
      if (to >= 0) store.AddNet(leaf, kind, 1);
      store.Move(slot, leaf);
      if (events_wanted) {
        ObjectEvent base;
        base.object_id = r.id;
        base.kind = r.kind;
        base.time = time;
        base.lon = r.lon;
        base.lat = r.lat;
        // After an unclean restart a first report is most likely an
        // object that was there all along: no enter events for it.
        const bool quiet = is_new && now < st.objects.quiet_until;
        if (old_kind != kind) {
          base.kind = change.kinds[old_kind];
          MoveEvents(*view, from, -1, base, change.events);
          base.kind = r.kind;
          MoveEvents(*view, -1, to, base, change.events);
        } else if (!quiet) {
          MoveEvents(*view, is_new ? -1 : from, to, base, change.events);
        }
      }
    }
    made = PublishChange(st, *view, change);
    result.objects_version = made->objects_version();
    delivery.lock();  // before objects_mu goes: batches reach subscribers in order
  }
  // An empty leaf list would mean "everything changed": only a new kind
  // (a new metric everywhere) says so.
  if (!change.leaves.empty() || change.kinds.size() != kinds_before) st.publisher.Notify(made, change.leaves);
  Deliver(st, *made, change.events);
  return result;
}

}  // namespace

Result<TrackResult> Engine::Track(std::span<const ObjectReport> reports, int64_t now) {
  return TrackReports(*state_, reports, NowOr(now), state_->options.objects);
}

size_t Engine::ExpireObjects(int64_t now_in) {
  internal::EngineState& st = *state_;
  const int64_t after = st.options.objects.expire_after_s;
  if (after <= 0) return 0;
  const int64_t now = NowOr(now_in);
  const bool events_wanted = HasSubscribers(st);
  std::shared_ptr<const View> view, made;
  ObjectChange change;
  size_t expired = 0;
  std::unique_lock delivery(st.objects.delivery_mu, std::defer_lock);
  {
    std::lock_guard lock(st.objects.mu);
    if (!st.objects.store || st.objects.store->size() == 0) return 0;
    view = st.publisher.Current();
    ObjectStore& store = StoreFor(st, *view);
    change = StartChange(st);
    const Dataset& ds = view->dataset();
    for (int32_t s = 0; s < static_cast<int32_t>(store.slot_count()); ++s) {
      const ObjectStore::Record rec = store.at(s);
      if (!rec.live || rec.time + after >= now) continue;
      const int32_t from = rec.leaf >= 0 ? ds.leaf_nodes[rec.leaf] : -1;
      --change.total[rec.kind];
      if (from < 0) --change.outside[rec.kind];
      if (from >= 0) store.AddNet(rec.leaf, rec.kind, -1);
      if (events_wanted) {
        ObjectEvent base;
        base.object_id = std::string(store.id(s));
        base.kind = change.kinds[rec.kind];
        base.expired = true;
        base.time = now;
        base.lon = rec.lon;
        base.lat = rec.lat;
        MoveEvents(*view, from, -1, base, change.events);
      }
      store.Remove(s);
      ++expired;
    }
    if (expired == 0) return 0;
    made = PublishChange(st, *view, change);
    delivery.lock();
  }
  if (!change.leaves.empty()) st.publisher.Notify(made, change.leaves);
  Deliver(st, *made, change.events);
  return expired;
}

Result<ObjectPage> Engine::Objects(const ObjectQuery& q) const {
  internal::EngineState& st = *state_;
  const int choices = q.node_id.has_value() + q.box.has_value() + q.center.has_value();
  if (choices > 1) return InvalidArgument("objects: give one of a node, a box or a circle, not several");
  if (q.center && !(q.radius_m > 0 && std::isfinite(q.radius_m)))
    return InvalidArgument("objects: the circle's radius must be a positive number of metres");
  if (q.center && !(std::isfinite(q.center->x) && std::isfinite(q.center->y) && q.center->y >= -90 && q.center->y <= 90))
    return InvalidArgument("objects: the circle's centre is not a finite longitude and latitude");
  ObjectPage page;
  std::vector<int32_t> slots;
  std::lock_guard lock(st.objects.mu);
  std::shared_ptr<const View> view = st.publisher.Current();
  if (!st.objects.store) return page;
  ObjectStore& store = StoreFor(st, *view);
  const Dataset& ds = view->dataset();
  auto kind_ok = [&](const ObjectStore::Record& r) {
    return q.kind.empty() || st.objects.counts->kinds[r.kind] == q.kind;
  };
  if (q.node_id) {
    const std::optional<int32_t> node = ds.Find(*q.node_id);
    if (!node) return NotFound("objects: unknown node id \"" + *q.node_id + "\"");
    const auto& first_leaf = internal::ViewAccess::topology(*view)->first_leaf;
    for (int32_t leaf = first_leaf[*node]; leaf < first_leaf[ds.subtree_end[*node]]; ++leaf)
      for (int32_t s = store.first_in(leaf); s >= 0; s = store.at(s).next)
        if (kind_ok(store.at(s))) slots.push_back(s);
  } else {
    // A scan of every object: a few ms per million (docs/objects.md).
    const index::MetresPerDegree scale = index::MetresPerDegreeAt(q.center ? q.center->y : 0);
    for (int32_t s = 0; s < static_cast<int32_t>(store.slot_count()); ++s) {
      const ObjectStore::Record& r = store.at(s);
      if (!r.live || !kind_ok(r)) continue;
      if (q.box && !q.box->Contains({r.lon, r.lat})) continue;
      if (q.center) {
        // A cheap bound first, for circles up to 50 km (where the local
        // scale is within a few percent of the ellipsoid), then the ellipsoid.
        const double dx = (r.lon - q.center->x) * scale.lon, dy = (r.lat - q.center->y) * scale.lat;
        if (q.radius_m <= 50'000 && dx * dx + dy * dy > 1.2 * 1.2 * q.radius_m * q.radius_m) continue;
        if (index::GeodesicDistanceM(*q.center, {r.lon, r.lat}) > q.radius_m) continue;
      }
      slots.push_back(s);
    }
  }
  // Only the page needs ordering: the first offset + limit by id.
  const size_t wanted = std::min(slots.size(), q.offset + q.limit);
  std::partial_sort(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(wanted), slots.end(),
                    [&](int32_t a, int32_t b) { return store.id(a) < store.id(b); });
  page.total = slots.size();
  page.objects_version = (st.objects.counts ? st.objects.counts->version : 0);
  for (size_t i = q.offset; i < slots.size() && page.objects.size() < q.limit; ++i) {
    page.objects.push_back(TrackedObjectAt(store, slots[i], *st.objects.counts, *view));
  }
  return page;
}

Result<std::vector<TrackedObject>> Engine::Nearest(index::Point p, size_t k, const std::string& kind) const {
  internal::EngineState& st = *state_;
  if (!std::isfinite(p.x) || !std::isfinite(p.y) || p.y < -90 || p.y > 90)
    return InvalidArgument("nearest: the point is not a finite longitude and latitude");
  std::vector<TrackedObject> out;
  std::lock_guard lock(st.objects.mu);
  std::shared_ptr<const View> view = st.publisher.Current();
  if (!st.objects.store || k == 0) return out;
  ObjectStore& store = StoreFor(st, *view);
  // Candidates by the local scale (a max-heap of the best 2k + 16), then
  // the ellipsoid distance for those: exact order within the candidates.
  const index::MetresPerDegree scale = index::MetresPerDegreeAt(p.y);
  const size_t keep = 2 * k + 16;
  std::priority_queue<std::pair<double, int32_t>> heap;
  for (int32_t s = 0; s < static_cast<int32_t>(store.slot_count()); ++s) {
    const ObjectStore::Record& r = store.at(s);
    if (!r.live || (!kind.empty() && st.objects.counts->kinds[r.kind] != kind)) continue;
    const double dx = (r.lon - p.x) * scale.lon, dy = (r.lat - p.y) * scale.lat;
    const double d2 = dx * dx + dy * dy;
    if (heap.size() < keep) {
      heap.push({d2, s});
    } else if (d2 < heap.top().first) {
      heap.pop();
      heap.push({d2, s});
    }
  }
  while (!heap.empty()) {
    TrackedObject o = TrackedObjectAt(store, heap.top().second, *st.objects.counts, *view);
    heap.pop();
    o.distance_m = index::GeodesicDistanceM(p, {o.lon, o.lat});
    out.push_back(std::move(o));
  }
  std::sort(out.begin(), out.end(), [](const TrackedObject& a, const TrackedObject& b) {
    return a.distance_m != b.distance_m ? a.distance_m < b.distance_m : a.id < b.id;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<ObjectKindCount> Engine::ObjectKinds() const {
  std::vector<ObjectKindCount> out;
  const std::shared_ptr<const ObjectCounts> counts = state_->publisher.object_counts();
  if (const ObjectCounts* c = counts.get())
    for (size_t k = 0; k < c->kinds.size(); ++k) out.push_back({c->kinds[k], c->total[k], c->outside[k]});
  return out;
}

size_t Engine::object_count() const { return state_->objects.live.load(); }

size_t Engine::object_memory_bytes() const {
  std::lock_guard lock(state_->objects.mu);
  return state_->objects.store ? state_->objects.store->MemoryBytes() : 0;
}

Result<int> Engine::SubscribeObjectEvents(ObjectEventFilter filter, ObjectEventCallback callback) {
  internal::EngineState& st = *state_;
  std::shared_ptr<const View> view = st.publisher.Current();
  internal::ObjectTracker::Subscriber sub;
  for (const std::string& id : filter.node_ids) {
    const std::optional<NodeId> node = view->Find(id);
    if (!node) return NotFound("events: unknown node id \"" + id + "\"");
    sub.nodes.push_back(node->value);
  }
  sub.nodes_version = view->dataset_version();
  sub.filter = std::move(filter);
  sub.callback = std::move(callback);
  std::lock_guard lock(st.objects.subscribers_mu);
  const int id = st.objects.next_subscriber++;
  st.objects.subscribers.emplace(id, std::move(sub));
  return id;
}

void Engine::UnsubscribeObjectEvents(int id) {
  std::lock_guard lock(state_->objects.subscribers_mu);
  state_->objects.subscribers.erase(id);
}

void internal::RelocateObjects(internal::EngineState& st) {
  std::lock_guard lock(st.objects.mu);
  if (!st.objects.store) return;
  StoreFor(st, *st.publisher.Current());
}

// objects.bin: magic, count (u64), then per object: id length, kind length
// (u32 each), lon, lat (f64), time (i64), id, kind; then the CRC32C of all
// that. Written to a temporary file, fsync'ed, renamed (WriteFileAtomically).
Status Engine::SaveObjects() {
  internal::EngineState& st = *state_;
  if (st.options.data_dir.empty()) return Status::Ok();
  std::string bytes(kObjectsMagic, sizeof kObjectsMagic);
  auto put = [&bytes](const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); };
  std::lock_guard lock(st.objects.mu);
  const uint64_t count = st.objects.store ? st.objects.store->size() : 0;
  put(&count, sizeof count);
  if (st.objects.store) {
    const ObjectStore& store = *st.objects.store;
    for (int32_t s = 0; s < static_cast<int32_t>(store.slot_count()); ++s) {
      const ObjectStore::Record& r = store.at(s);
      if (!r.live) continue;
      const std::string_view id = store.id(s);
      const std::string& kind = st.objects.counts->kinds[r.kind];
      const uint32_t lens[2] = {static_cast<uint32_t>(id.size()), static_cast<uint32_t>(kind.size())};
      put(lens, sizeof lens);
      put(&r.lon, sizeof r.lon);
      put(&r.lat, sizeof r.lat);
      put(&r.time, sizeof r.time);
      put(id.data(), id.size());
      put(kind.data(), kind.size());
    }
  }
  const uint32_t crc = internal::Crc32c(bytes.data(), bytes.size());
  put(&crc, sizeof crc);
  return internal::WriteFileAtomically(st.options.data_dir, kObjectsFile, bytes);
}

namespace {

// The objects of objects.bin, or why the file cannot be read.
Result<std::vector<ObjectReport>> ReadSavedObjects(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof kObjectsMagic + 12 || !std::equal(kObjectsMagic, kObjectsMagic + 8, bytes.data()))
    return FailedPrecondition("not a gridtree objects file (bad header)");
  uint32_t crc = 0;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  if (internal::Crc32c(bytes.data(), bytes.size() - 4) != crc) return FailedPrecondition("checksum mismatch");
  size_t at = sizeof kObjectsMagic;
  const size_t end = bytes.size() - 4;
  auto get = [&](void* p, size_t n) {
    if (at + n > end) return false;
    std::memcpy(p, bytes.data() + at, n);
    at += n;
    return true;
  };
  uint64_t count = 0;
  get(&count, sizeof count);
  std::vector<ObjectReport> out;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t lens[2];
    ObjectReport r;
    if (!get(lens, sizeof lens) || !get(&r.lon, 8) || !get(&r.lat, 8) || !get(&r.time, 8) ||
        at + lens[0] + lens[1] > end)
      return FailedPrecondition("object " + std::to_string(i) + " is cut short");
    r.id.assign(bytes.data() + at, lens[0]);
    r.kind.assign(bytes.data() + at + lens[0], lens[1]);
    at += lens[0] + lens[1];
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Status Engine::StartObjects(bool had_log) {
  internal::EngineState& st = *state_;
  if (st.options.data_dir.empty() || !st.options.objects.restore_saved) return Status::Ok();
  const std::string path = st.options.data_dir + "/" + kObjectsFile;
  const int64_t quiet = NowOr(0) + std::max<int64_t>(st.options.objects.expire_after_s, 300);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // No objects from a clean shutdown: if this data directory served
    // before, the last run ended without saving them (a crash).
    if (had_log) st.objects.quiet_until = quiet;
    return Status::Ok();
  }
  auto saved = ReadSavedObjects(path);
  if (!saved.ok()) {
    // Positions are soft state: a damaged file is set aside, not fatal.
    std::filesystem::rename(path, path + ".bad", ec);
    st.writer.recovery += (st.writer.recovery.empty() ? "" : "; ") + path + ": " + saved.status().message() +
                   "; set aside as objects.bin.bad, starting without tracked objects";
    st.objects.quiet_until = quiet;
    return Status::Ok();
  }
  // Placed again without events (nobody has subscribed yet) and without
  // the per-batch limits, which may have changed since they were saved.
  ObjectOptions no_limits = st.options.objects;
  no_limits.max_reports_per_batch = SIZE_MAX;
  no_limits.max_id_bytes = SIZE_MAX;
  no_limits.max_kind_bytes = SIZE_MAX;
  no_limits.max_kinds = SIZE_MAX;
  no_limits.max_future_s = INT64_MAX / 2;
  if (!saved->empty())
    if (auto placed = TrackReports(st, *saved, NowOr(0), no_limits, Text::kAsSaved); !placed.ok()) return placed.status();
  // Read once: a crash later must not bring back these positions.
  std::filesystem::remove(path, ec);
  return Status::Ok();
}

}  // namespace gridtree
