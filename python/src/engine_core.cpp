// gridtree._core.Engine: the embedded engine, answering in plain Python
// values (numpy arrays, dicts, column dicts) that gridtree/__init__.py turns
// into frames. Every answer of one call comes from one View.
#include "engine_core.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "arrays.h"
#include "columns.h"
#include "errors.h"
#include "event_queue.h"
#include "hierarchy.h"
#include "wkb.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/region.h"

namespace py = pybind11;

namespace gridtree::python {

namespace {

HierarchyColumns ColumnsOf(const Dataset& ds) {
  return {ds.parents.span(), ds.levels.span(), ds.leaf_nodes.span()};
}

NodeId FindOrThrow(const View& view, const std::string& id) {
  if (auto node = view.Find(id)) return *node;
  throw PythonError(ErrorKind::kNotFound, "node \"" + id + "\": no such id in " + view.dataset().source);
}

// The metric columns after the fixed ones.
std::vector<std::string> WithMetrics(std::vector<std::string> fixed, const View& view) {
  for (size_t m = 0; m < view.metric_count(); ++m) fixed.emplace_back(view.metric_name(static_cast<int>(m)));
  return fixed;
}

Region RegionOf(const std::string& kind, const py::object& spec) {
  if (kind == "box") {
    const auto b = spec.cast<std::vector<double>>();
    if (b.size() != 4) ThrowBadInput("region: a box is (west, south, east, north)");
    return BoxRegion(b[0], b[1], b[2], b[3]);
  }
  if (kind == "circle") {
    const auto c = spec.cast<std::vector<double>>();
    if (c.size() != 3) ThrowBadInput("region: a circle is (lon, lat, metres)");
    return CircleRegion(c[0], c[1], c[2]);
  }
  if (kind == "geojson") return ValueOrThrow(ParseRegionGeoJson(spec.cast<std::string>()));
  ThrowBadInput("region: unknown kind \"" + kind + "\"");
}

}  // namespace

EngineCore::EngineCore(const std::string& path, int threads, const std::optional<std::string>& data_dir) {
  EngineOptions options;
  options.threads = threads;
  options.load.threads = threads;
  if (data_dir) options.data_dir = *data_dir;
  ValidationReport report;
  Result<std::unique_ptr<Engine>> engine = [&] {
    py::gil_scoped_release release;
    return Engine::Open(path, options, &report);
  }();
  if (!engine.ok()) {
    // A dataset with errors: the report says which features.
    const std::string summary = report.ErrorSummary();
    throw PythonError(engine.status().code() == StatusCode::kNotFound ? ErrorKind::kNotFound : ErrorKind::kBadInput,
                      summary.empty() ? engine.status().message() : path + ": " + summary);
  }
  engine_ = std::move(engine.value());
}

EngineCore::~EngineCore() {
  py::gil_scoped_release release;  // the engine's threads may need the GIL-free exit
  engine_.reset();
}

py::dict EngineCore::Info() const {
  auto view = engine_->Read();
  const Dataset& ds = view->dataset();
  py::dict d;
  d["source"] = ds.source;
  d["fingerprint"] = ds.fingerprint;
  d["nodes"] = ds.node_count();
  d["leaves"] = ds.leaf_count();
  std::vector<int64_t> per_level(kLevelCount, 0);
  for (size_t k = 0; k < ds.node_count(); ++k) ++per_level[static_cast<int>(ds.levels[k])];
  py::dict levels;
  for (int l = 0; l < kLevelCount; ++l) levels[py::str(std::string(LevelName(static_cast<Level>(l))))] = per_level[l];
  d["levels"] = levels;
  d["metrics"] = Metrics();
  d["version"] = view->version();
  d["dataset_version"] = view->dataset_version();
  d["objects_version"] = view->objects_version();
  d["objects"] = engine_->object_count();
  d["threads"] = engine_->threads();
  return d;
}

std::vector<std::string> EngineCore::Metrics() const {
  auto view = engine_->Read();
  std::vector<std::string> names;
  for (size_t m = 0; m < view->metric_count(); ++m) names.emplace_back(view->metric_name(static_cast<int>(m)));
  return names;
}

py::array_t<int32_t> EngineCore::Locate(const py::array& lon, const py::array& lat) const {
  const auto x = ColumnOf<double>(lon, "lon");
  const auto y = ColumnOf<double>(lat, "lat");
  if (x.size() != y.size())
    ThrowBadInput("lon and lat differ in length (" + std::to_string(x.size()) + " and " + std::to_string(y.size()) +
                  ")");
  auto [out, leaves] = NewColumn<int32_t>(x.size());
  static_assert(sizeof(LeafId) == sizeof(int32_t));
  Status status;
  {
    py::gil_scoped_release release;
    status = engine_->Read()->LocateColumns(x, y, {reinterpret_cast<LeafId*>(leaves.data()), leaves.size()});
  }
  CheckOk(status);
  return out;
}

py::array_t<int32_t> EngineCore::LevelNodesOf(const py::array& leaves, const std::string& level) const {
  const auto in = ColumnOf<int32_t>(leaves, "leaves");
  const std::optional<Level> l = ParseLevelOrLeaf(level);
  auto view = engine_->Read();
  auto [out, nodes] = NewColumn<int32_t>(in.size());
  LevelNodes(ColumnsOf(view->dataset()), in, l, nodes);
  return out;
}

py::list EngineCore::Labels(const py::array& nodes, const std::string& what) const {
  const auto in = ColumnOf<int32_t>(nodes, "nodes");
  if (what != "id" && what != "name") ThrowBadInput("labels: \"id\" or \"name\", not \"" + what + "\"");
  auto view = engine_->Read();
  const int32_t count = static_cast<int32_t>(view->dataset().node_count());
  py::list out;
  for (int32_t n : in) {
    if (n < 0) {
      out.append(py::none());
      continue;
    }
    if (n >= count) ThrowBadInput("nodes: " + std::to_string(n) + " is not a node number");
    const NodeId node(n);
    out.append(py::str(std::string(what == "id" ? view->id(node) : view->name(node))));
  }
  return out;
}

py::dict EngineCore::Node(const std::string& id) const {
  auto view = engine_->Read();
  const NodeId node = FindOrThrow(*view, id);
  const NodeId parent = view->Parent(node);
  const index::Box& b = view->dataset().node_bounds[node.value];
  py::dict d;
  d["id"] = std::string(view->id(node));
  d["name"] = std::string(view->name(node));
  d["level"] = std::string(LevelName(view->level(node)));
  d["kind"] = std::string(view->kind(node));
  d["parent"] = parent.valid() ? py::object(py::str(std::string(view->id(parent)))) : py::object(py::none());
  d["children"] = view->Children(node).size();
  d["leaf"] = view->LeafOf(node).value;
  d["area_km2"] = view->AreaKm2(node);
  d["bounds"] = py::make_tuple(b.min_x, b.min_y, b.max_x, b.max_y);
  py::dict metrics;
  const std::vector<int64_t> values = view->Aggregate(node);
  for (size_t m = 0; m < values.size(); ++m) metrics[py::str(std::string(view->metric_name(static_cast<int>(m))))] = values[m];
  d["metrics"] = metrics;
  d["version"] = view->version();
  return d;
}

py::dict EngineCore::Children(const std::string& id) const {
  auto view = engine_->Read();
  const NodeId node = FindOrThrow(*view, id);
  Columns out(WithMetrics({"id", "name", "level", "area_km2"}, *view));
  for (NodeId child : view->Children(node)) {
    out.Add(0, std::string(view->id(child)));
    out.Add(1, std::string(view->name(child)));
    out.Add(2, std::string(LevelName(view->level(child))));
    out.Add(3, view->AreaKm2(child));
    for (size_t m = 0; m < view->metric_count(); ++m) out.Add(4 + m, view->Metric(child, static_cast<int>(m)));
  }
  return out.Finish();
}

py::dict EngineCore::Top(const std::string& level, const std::string& metric, size_t k, bool density,
                         const std::string& within) const {
  auto view = engine_->Read();
  TopKQuery q;
  q.level = ParseLevelOrThrow(level);
  const auto m = view->MetricIndex(metric);
  if (!m) throw PythonError(ErrorKind::kNotFound, "metric \"" + metric + "\": no such metric");
  q.metric = *m;
  q.k = k;
  q.density = density;
  if (!within.empty()) q.within = FindOrThrow(*view, within);
  const TopKResult r = ValueOrThrow(view->TopK(q));
  std::vector<std::string> names = {"id", "name", "level", metric};
  if (density) names.push_back("density");
  Columns out(names);
  for (const TopEntry& e : r.entries) {
    out.Add(0, std::string(view->id(e.node)));
    out.Add(1, std::string(view->name(e.node)));
    out.Add(2, std::string(LevelName(view->level(e.node))));
    out.Add(3, e.value);
    if (density) out.Add(4, e.density);
  }
  return out.Finish();
}

py::dict EngineCore::Aggregate(const std::string& kind, const py::object& spec, const std::string& mode,
                               const std::optional<std::string>& group_by) const {
  RegionQuery q;
  q.region = RegionOf(kind, spec);
  const auto m = ParseRegionMode(mode);
  if (!m) ThrowBadInput("mode: \"" + mode + "\" is not intersecting, contained or area_weighted");
  q.mode = *m;
  if (group_by) q.group_by = ParseLevelOrThrow(*group_by);
  auto view = engine_->Read();
  RegionResult r;
  {
    py::gil_scoped_release release;
    r = ValueOrThrow(view->RegionAggregate(q));
  }
  const bool exact = q.mode != RegionMode::kAreaWeighted;
  const size_t metrics = view->metric_count();
  auto add_values = [&](Columns& out, size_t first, const std::vector<double>& values,
                        const std::vector<int64_t>& counts) {
    for (size_t i = 0; i < metrics; ++i) {
      if (exact) out.Add(first + i, counts[i]);
      else out.Add(first + i, values[i]);
    }
  };
  Columns out(WithMetrics({"id", "name", "level", "leaves"}, *view));
  if (!group_by) {
    out.AddNone(0);
    out.AddNone(1);
    out.AddNone(2);
    out.Add(3, r.leaves);
    add_values(out, 4, r.total, r.counts);
  }
  for (const RegionRow& row : r.rows) {
    out.Add(0, std::string(view->id(row.node)));
    out.Add(1, std::string(view->name(row.node)));
    out.Add(2, std::string(LevelName(view->level(row.node))));
    out.AddNone(3);
    add_values(out, 4, row.values, row.counts);
  }
  return out.Finish();
}

py::dict EngineCore::LevelTable(const std::string& level, bool geometry) const {
  const std::optional<Level> l = ParseLevelOrLeaf(level);
  auto view = engine_->Read();
  const Dataset& ds = view->dataset();
  Columns out(WithMetrics({"id", "name", "parent", "kind", "area_km2", "wkb"}, *view));
  for (size_t k = 0; k < ds.node_count(); ++k) {
    const int32_t leaf = ds.leaf_of_node[k];
    if (l ? ds.levels[k] != *l : leaf < 0) continue;
    const NodeId node(static_cast<int32_t>(k));
    out.Add(0, std::string(ds.ids[k]));
    out.Add(1, std::string(ds.names[k]));
    if (ds.parents[k] < 0) out.AddNone(2);
    else out.Add(2, std::string(ds.ids[ds.parents[k]]));
    out.Add(3, std::string(ds.kinds[k]));
    out.Add(4, view->AreaKm2(node));
    // An inner node without an outline of its own: None (the Python side
    // dissolves its leaves).
    if (!geometry) out.AddNone(5);
    else if (leaf >= 0) out.Add(5, py::bytes(MultiPolygonWkb(view->spatial_index().polygon(leaf))));
    else if (!ds.inner_geometry.empty(k)) out.Add(5, py::bytes(MultiPolygonWkb(ds.inner_geometry.Get(k))));
    else out.AddNone(5);
    for (size_t m = 0; m < view->metric_count(); ++m) out.Add(6 + m, view->Metric(node, static_cast<int>(m)));
  }
  return out.Finish();
}

uint64_t EngineCore::Update(const std::vector<std::string>& leaves, const std::vector<std::string>& metrics,
                            const std::vector<std::string>& ops, const std::vector<int64_t>& values) {
  if (metrics.size() != leaves.size() || ops.size() != leaves.size() || values.size() != leaves.size())
    ThrowBadInput("update: leaf, metric, op and value differ in length");
  UpdateBatch batch;
  batch.updates.reserve(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    MetricUpdate u;
    u.leaf_id = leaves[i];
    u.metric = metrics[i];
    if (ops[i] == "set") u.op = MetricUpdate::Op::kSet;
    else if (ops[i] == "add") u.op = MetricUpdate::Op::kAdd;
    else ThrowBadInput("update row " + std::to_string(i) + ": op \"" + ops[i] + "\" is not set or add");
    u.value = values[i];
    batch.updates.push_back(std::move(u));
  }
  py::gil_scoped_release release;
  return ValueOrThrow(engine_->Apply(batch));
}

py::dict EngineCore::Track(const std::vector<std::string>& ids, const std::vector<std::string>& kinds,
                           const py::array& lon, const py::array& lat, const py::array& time) {
  const auto x = ColumnOf<double>(lon, "lon");
  const auto y = ColumnOf<double>(lat, "lat");
  const auto t = ColumnOf<int64_t>(time, "time");
  if (kinds.size() != ids.size() || x.size() != ids.size() || y.size() != ids.size() || t.size() != ids.size())
    ThrowBadInput("track: id, kind, lon, lat and time differ in length");
  std::vector<ObjectReport> reports(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) reports[i] = {ids[i], kinds[i], x[i], y[i], t[i]};
  TrackResult r;
  {
    py::gil_scoped_release release;
    r = ValueOrThrow(engine_->Track(reports));
  }
  py::dict d;
  d["reports"] = r.reports;
  d["outside"] = r.outside;
  d["moved"] = r.moved;
  d["objects_version"] = r.objects_version;
  return d;
}

py::dict EngineCore::Objects(const std::optional<std::string>& node, const std::optional<std::vector<double>>& box,
                             const std::string& kind, size_t limit) const {
  ObjectQuery q;
  q.node_id = node;
  if (box) {
    if (box->size() != 4) ThrowBadInput("box: (west, south, east, north)");
    q.box = index::Box{(*box)[0], (*box)[1], (*box)[2], (*box)[3]};
  }
  q.kind = kind;
  q.limit = limit;
  const ObjectPage page = ValueOrThrow(engine_->Objects(q));
  Columns out({"id", "kind", "lon", "lat", "time", "leaf"});
  for (const TrackedObject& o : page.objects) {
    out.Add(0, o.id);
    out.Add(1, o.kind);
    out.Add(2, o.lon);
    out.Add(3, o.lat);
    out.Add(4, o.time);
    if (o.leaf_id.empty()) out.AddNone(5);
    else out.Add(5, o.leaf_id);
  }
  return out.Finish();
}

std::shared_ptr<EngineEvents> EngineCore::Events(const std::vector<std::string>& nodes,
                                                 const std::vector<std::string>& levels,
                                                 const std::vector<std::string>& kinds) {
  ObjectEventFilter filter;
  filter.node_ids = nodes;
  for (const std::string& l : levels) filter.levels.push_back(ParseLevelOrThrow(l));
  filter.kinds = kinds;
  auto events = std::make_shared<EngineEvents>();
  events->engine = engine_.get();
  events->queue = std::make_shared<EventQueue>();
  std::weak_ptr<EventQueue> queue = events->queue;
  events->id = ValueOrThrow(engine_->SubscribeObjectEvents(filter, [queue](std::span<const ObjectEvent> batch) {
    if (auto q = queue.lock()) q->Push(batch);
  }));
  return events;
}

EngineEvents::~EngineEvents() { Close(); }

void EngineEvents::Close() {
  if (engine && id >= 0) engine->UnsubscribeObjectEvents(id);
  id = -1;
}

void RegisterEngine(py::module_& m) {
  py::class_<EngineEvents, std::shared_ptr<EngineEvents>>(m, "EngineEvents")
      .def("take", [](EngineEvents& e, size_t max, double timeout) { return e.queue->Take(max, timeout); },
           py::arg("max") = 1024, py::arg("timeout") = -1.0)
      .def_property_readonly("dropped", [](const EngineEvents& e) { return e.queue->dropped(); })
      .def("close", &EngineEvents::Close);
  py::class_<EngineCore>(m, "Engine")
      .def(py::init<const std::string&, int, const std::optional<std::string>&>(), py::arg("path"),
           py::arg("threads") = 0, py::arg("data_dir") = py::none())
      .def("info", &EngineCore::Info)
      .def("metrics", &EngineCore::Metrics)
      .def("locate", &EngineCore::Locate)
      .def("level_nodes", &EngineCore::LevelNodesOf)
      .def("labels", &EngineCore::Labels)
      .def("node", &EngineCore::Node)
      .def("children", &EngineCore::Children)
      .def("top", &EngineCore::Top)
      .def("aggregate", &EngineCore::Aggregate)
      .def("level_table", &EngineCore::LevelTable)
      .def("update", &EngineCore::Update)
      .def("track", &EngineCore::Track)
      .def("objects", &EngineCore::Objects)
      .def("events", &EngineCore::Events, py::keep_alive<0, 1>());
}

}  // namespace gridtree::python
