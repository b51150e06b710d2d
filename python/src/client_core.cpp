#include "client_core.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "arrays.h"
#include "columns.h"
#include "errors.h"
#include "event_queue.h"
#include "hierarchy.h"
#include "gridtree/engine/level.h"
#include "gridtree/rpc/client.h"

namespace py = pybind11;

namespace gridtree::python {

namespace {

proto::Level ToProto(Level level) { return static_cast<proto::Level>(static_cast<uint16_t>(level)); }
Level FromProto(proto::Level level) { return static_cast<Level>(static_cast<uint16_t>(level)); }

// The server's errors (docs/rpc.md "Errors"): OVERLOADED, DISCONNECTED, or
// FAILED with a message that starts with the kind.
PythonError Translate(const kj::Exception& e, const std::string& address) {
  std::string message(e.getDescription().cStr());
  for (std::string_view prefix : {"remote exception: ", "std::exception: "})
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  switch (e.getType()) {
    case kj::Exception::Type::OVERLOADED: return PythonError(ErrorKind::kOverloaded, message);
    case kj::Exception::Type::DISCONNECTED:
      return PythonError(ErrorKind::kDisconnected, "the connection to " + address + " was lost: " + message);
    default: break;
  }
  for (auto [prefix, kind] : {std::pair{std::string_view("not found: "), ErrorKind::kNotFound},
                              std::pair{std::string_view("invalid argument: "), ErrorKind::kBadInput}})
    if (message.rfind(prefix, 0) == 0) return PythonError(kind, message.substr(prefix.size()));
  return PythonError(ErrorKind::kError, message);
}

ObjectEvent FromProto(proto::ObjectEvent::Reader e) {
  ObjectEvent out;
  out.type = e.getType() == proto::ObjectEvent::Type::ENTER ? ObjectEvent::Type::kEnter : ObjectEvent::Type::kExit;
  out.object_id = e.getObjectId().cStr();
  out.kind = e.getKind().cStr();
  out.node_id = e.getNode().cStr();
  out.level = FromProto(e.getLevel());
  out.expired = e.getExpired();
  out.time = e.getTime();
  out.lon = e.getLon();
  out.lat = e.getLat();
  return out;
}

// Pushes what the server sends into the subscription's queue.
class QueueSink final : public proto::EventSink::Server {
 public:
  explicit QueueSink(std::shared_ptr<EventQueue> queue) : queue_(std::move(queue)) {}
  kj::Promise<void> push(PushContext ctx) override {
    for (auto e : ctx.getParams().getEvents()) queue_->Push(FromProto(e));
    return kj::READY_NOW;
  }

 private:
  std::shared_ptr<EventQueue> queue_;
};

}  // namespace

// The hierarchy as the server holds it, read once per dataset version by
// walking it from its roots (ids() and names() need it).
struct ClientTree {
  uint64_t dataset_version = 0;
  std::vector<int32_t> parents;
  std::vector<Level> levels;
  std::vector<int32_t> leaf_nodes;
  std::vector<std::string> ids, names;
  HierarchyColumns columns() const { return {parents, levels, leaf_nodes}; }
};

class ClientCore {
 public:
  ClientCore(const std::string& address, const std::string& token)
      : owner_(std::this_thread::get_id()), address_(address), token_(token) {
    Guard([&] { client_ = std::make_unique<rpc::Client>(address); });
  }
  ~ClientCore() {
    // Capabilities must go before the event loop that holds them.
    writer_.reset();
    client_.reset();
  }

  void CheckThread() const {
    if (std::this_thread::get_id() != owner_)
      throw PythonError(ErrorKind::kError,
                        "this connection to " + address_ +
                            " belongs to the thread that opened it; open one gridtree.connect() per thread");
  }

  // Runs f with the GIL released, turning the client's exceptions into the
  // module's.
  template <typename F>
  auto Guard(F&& f) -> decltype(f()) {
    CheckThread();
    py::gil_scoped_release release;
    return Translating(std::forward<F>(f));
  }

  // The same, for code that already runs without the GIL.
  template <typename F>
  auto Translating(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const kj::Exception& e) {
      throw Translate(e, address_);
    } catch (const std::invalid_argument& e) {
      throw PythonError(ErrorKind::kBadInput, e.what());
    }
  }

  // Sends the request `make` builds and waits for its answer.
  template <typename F>
  auto Wait(F&& make) {
    return Guard([&] { return make().wait(client_->wait_scope()); });
  }

  py::dict Info() {
    auto info = FetchInfo();
    auto i = info.getInfo();
    py::dict d;
    d["source"] = std::string(i.getSource().cStr());
    d["fingerprint"] = i.getFingerprint();
    d["nodes"] = i.getNodes();
    d["leaves"] = i.getLeaves();
    py::dict levels;
    auto counts = i.getCountsPerLevel();
    for (unsigned l = 0; l < counts.size() && l < kLevelCount; ++l)
      levels[py::str(std::string(LevelName(static_cast<Level>(l))))] = counts[l];
    d["levels"] = levels;
    d["metrics"] = Metrics(i);
    d["version"] = i.getVersion();
    d["dataset_version"] = i.getDatasetVersion();
    d["objects_version"] = i.getObjectsVersion();
    d["position"] = i.getPosition();
    d["address"] = client_->address();
    return d;
  }

  py::array_t<int32_t> Locate(const py::array& lon, const py::array& lat) {
    const auto x = ColumnOf<double>(lon, "lon");
    const auto y = ColumnOf<double>(lat, "lat");
    if (x.size() != y.size())
      ThrowBadInput("lon and lat differ in length (" + std::to_string(x.size()) + " and " + std::to_string(y.size()) +
                    ")");
    std::vector<int32_t> leaves = Guard([&] { return client_->LocateColumnsSync(x, y); });
    auto [out, view] = NewColumn<int32_t>(leaves.size());
    std::copy(leaves.begin(), leaves.end(), view.begin());
    return out;
  }

  py::array_t<int32_t> LevelNodesOf(const py::array& leaves, const std::string& level) {
    const auto in = ColumnOf<int32_t>(leaves, "leaves");
    const std::optional<Level> l = ParseLevelOrLeaf(level);
    const ClientTree& tree = Tree();
    auto [out, nodes] = NewColumn<int32_t>(in.size());
    LevelNodes(tree.columns(), in, l, nodes);
    return out;
  }

  py::list Labels(const py::array& nodes, const std::string& what) {
    const auto in = ColumnOf<int32_t>(nodes, "nodes");
    if (what != "id" && what != "name") ThrowBadInput("labels: \"id\" or \"name\", not \"" + what + "\"");
    const ClientTree& tree = Tree();
    const auto& column = what == "id" ? tree.ids : tree.names;
    py::list out;
    for (int32_t n : in) {
      if (n < 0) out.append(py::none());
      else if (static_cast<size_t>(n) >= column.size()) ThrowBadInput("nodes: " + std::to_string(n) + " is not a node number");
      else out.append(py::str(column[static_cast<size_t>(n)]));
    }
    return out;
  }

  py::dict Node(const std::string& id) {
    auto metrics = MetricNames();
    auto r = Wait([&] {
      auto req = client_->gridtree().nodeRequest();
      req.setId(id);
      return req.send();
    });
    auto n = r.getNode();
    py::dict d;
    d["id"] = std::string(n.getNode().getId().cStr());
    d["name"] = std::string(n.getNode().getName().cStr());
    d["level"] = std::string(LevelName(FromProto(n.getNode().getLevel())));
    d["kind"] = std::string(n.getKind().cStr());
    d["parent"] = n.getParent().size() ? py::object(py::str(n.getParent().cStr())) : py::object(py::none());
    d["children"] = n.getChildCount();
    d["leaf"] = n.getLeaf();
    d["area_km2"] = n.getAreaKm2();
    auto b = n.getBounds();
    d["bounds"] = py::make_tuple(b.getWest(), b.getSouth(), b.getEast(), b.getNorth());
    py::dict values;
    auto v = n.getMetrics();
    for (unsigned m = 0; m < v.size() && m < metrics.size(); ++m) values[py::str(metrics[m])] = v[m];
    d["metrics"] = values;
    d["version"] = n.getVersion();
    return d;
  }

  py::dict Children(const std::string& id) {
    auto metrics = MetricNames();
    auto kids = Wait([&] {
      auto req = client_->gridtree().childrenRequest();
      req.setId(id);
      return req.send();
    });
    // Each child's values and area, asked for all at once.
    std::vector<capnp::Response<proto::GridTree::NodeResults>> infos;
    Guard([&] {
      kj::Vector<kj::Promise<capnp::Response<proto::GridTree::NodeResults>>> calls;
      for (auto child : kids.getChildren()) {
        auto req = client_->gridtree().nodeRequest();
        req.setId(child.getId());
        calls.add(req.send());
      }
      for (auto& r : kj::joinPromises(calls.releaseAsArray()).wait(client_->wait_scope())) infos.push_back(kj::mv(r));
    });
    std::vector<std::string> names = {"id", "name", "level", "area_km2"};
    names.insert(names.end(), metrics.begin(), metrics.end());
    Columns out(names);
    for (auto& r : infos) {
      auto n = r.getNode();
      out.Add(0, std::string(n.getNode().getId().cStr()));
      out.Add(1, std::string(n.getNode().getName().cStr()));
      out.Add(2, std::string(LevelName(FromProto(n.getNode().getLevel()))));
      out.Add(3, n.getAreaKm2());
      auto v = n.getMetrics();
      for (size_t m = 0; m < metrics.size(); ++m) out.Add(4 + m, v[static_cast<unsigned>(m)]);
    }
    return out.Finish();
  }

  py::dict Top(const std::string& level, const std::string& metric, size_t k, bool density,
               const std::string& within) {
    const Level l = ParseLevelOrThrow(level);
    auto r = Wait([&] {
      auto req = client_->gridtree().topKRequest();
      auto q = req.initQuery();
      q.setLevel(ToProto(l));
      q.setMetric(metric);
      q.setK(static_cast<uint32_t>(std::min<size_t>(k, UINT32_MAX)));
      q.setWithin(within);
      q.setDensity(density);
      return req.send();
    });
    std::vector<std::string> names = {"id", "name", "level", metric};
    if (density) names.push_back("density");
    Columns out(names);
    for (auto e : r.getEntries()) {
      out.Add(0, std::string(e.getNode().getId().cStr()));
      out.Add(1, std::string(e.getNode().getName().cStr()));
      out.Add(2, std::string(LevelName(FromProto(e.getNode().getLevel()))));
      out.Add(3, e.getCount());
      if (density) out.Add(4, e.getValue());
    }
    return out.Finish();
  }

  py::dict Aggregate(const std::string& kind, const py::object& spec, const std::string& mode,
                     const std::optional<std::string>& group_by) {
    auto metrics = MetricNames();
    proto::RegionMode m;
    if (mode == "intersecting") m = proto::RegionMode::INTERSECTING;
    else if (mode == "contained") m = proto::RegionMode::CONTAINED;
    else if (mode == "area_weighted") m = proto::RegionMode::AREA_WEIGHTED;
    else ThrowBadInput("mode: \"" + mode + "\" is not intersecting, contained or area_weighted");
    std::optional<Level> group;
    if (group_by) group = ParseLevelOrThrow(*group_by);
    std::vector<double> numbers;
    std::string text;
    if (kind == "box" || kind == "circle") numbers = spec.cast<std::vector<double>>();
    else if (kind == "geojson") text = spec.cast<std::string>();
    else ThrowBadInput("region: unknown kind \"" + kind + "\"");
    if ((kind == "box" && numbers.size() != 4) || (kind == "circle" && numbers.size() != 3))
      ThrowBadInput(kind == "box" ? "region: a box is (west, south, east, north)" : "region: a circle is (lon, lat, metres)");
    auto r = Wait([&] {
      auto req = client_->gridtree().regionAggregateRequest();
      auto q = req.initQuery();
      q.setMode(m);
      if (group) q.getGroupBy().setLevel(ToProto(*group));
      auto region = q.initRegion();
      if (kind == "box") {
        auto b = region.initBox();
        b.setWest(numbers[0]);
        b.setSouth(numbers[1]);
        b.setEast(numbers[2]);
        b.setNorth(numbers[3]);
      } else if (kind == "circle") {
        auto c = region.initCircle();
        c.setLon(numbers[0]);
        c.setLat(numbers[1]);
        c.setRadiusM(numbers[2]);
      } else {
        region.setGeoJson(text);
      }
      return req.send();
    });
    auto result = r.getResult();
    const bool exact = m != proto::RegionMode::AREA_WEIGHTED;
    std::vector<std::string> names = {"id", "name", "level", "leaves"};
    names.insert(names.end(), metrics.begin(), metrics.end());
    Columns out(names);
    auto add_values = [&](auto values, auto counts) {
      for (size_t i = 0; i < metrics.size(); ++i) {
        if (exact) out.Add(4 + i, counts[static_cast<unsigned>(i)]);
        else out.Add(4 + i, values[static_cast<unsigned>(i)]);
      }
    };
    if (!group) {
      out.AddNone(0);
      out.AddNone(1);
      out.AddNone(2);
      out.Add(3, result.getLeaves());
      add_values(result.getTotal(), result.getCounts());
    }
    for (auto row : result.getRows()) {
      out.Add(0, std::string(row.getNode().getId().cStr()));
      out.Add(1, std::string(row.getNode().getName().cStr()));
      out.Add(2, std::string(LevelName(FromProto(row.getNode().getLevel()))));
      out.AddNone(3);
      add_values(row.getValues(), row.getCounts());
    }
    return out.Finish();
  }

  // The nodes of one level with their metrics; the server does not send
  // outlines, so geometry must be False.
  py::dict LevelTable(const std::string& level, bool geometry) {
    if (geometry)
      throw PythonError(ErrorKind::kError,
                        "level(): outlines are not served over RPC; open the dataset with gridtree.open for a "
                        "GeoDataFrame, or ask for the table without geometry");
    const std::optional<Level> l = ParseLevelOrLeaf(level);
    auto metrics = MetricNames();
    const ClientTree& tree = Tree();
    std::vector<int32_t> nodes;
    for (size_t k = 0; k < tree.ids.size(); ++k) {
      const bool is_leaf = std::binary_search(tree.leaf_nodes.begin(), tree.leaf_nodes.end(), static_cast<int32_t>(k));
      if (l ? tree.levels[k] == *l : is_leaf) nodes.push_back(static_cast<int32_t>(k));
    }
    std::vector<std::string> names = {"id", "name", "parent"};
    names.insert(names.end(), metrics.begin(), metrics.end());
    Columns out(names);
    const size_t chunk = std::max<uint32_t>(1, limits_max_aggregate_ids_);
    for (size_t first = 0; first < nodes.size(); first += chunk) {
      const size_t n = std::min(chunk, nodes.size() - first);
      auto r = Wait([&] {
        auto req = client_->gridtree().aggregateRequest();
        auto ids = req.initIds(static_cast<unsigned>(n));
        for (size_t i = 0; i < n; ++i) ids.set(static_cast<unsigned>(i), tree.ids[nodes[first + i]]);
        return req.send();
      });
      auto aggregates = r.getAggregates();
      for (size_t i = 0; i < n; ++i) {
        const int32_t k = nodes[first + i];
        out.Add(0, tree.ids[k]);
        out.Add(1, tree.names[k]);
        if (tree.parents[k] < 0) out.AddNone(2);
        else out.Add(2, tree.ids[tree.parents[k]]);
        auto values = aggregates[static_cast<unsigned>(i)].getValues();
        for (size_t m = 0; m < metrics.size(); ++m) out.Add(3 + m, values[static_cast<unsigned>(m)]);
      }
    }
    return out.Finish();
  }

  uint64_t Update(const std::vector<std::string>& leaves, const std::vector<std::string>& metrics,
                  const std::vector<std::string>& ops, const std::vector<int64_t>& values) {
    if (metrics.size() != leaves.size() || ops.size() != leaves.size() || values.size() != leaves.size())
      ThrowBadInput("update: leaf, metric, op and value differ in length");
    for (size_t i = 0; i < ops.size(); ++i)
      if (ops[i] != "set" && ops[i] != "add")
        ThrowBadInput("update row " + std::to_string(i) + ": op \"" + ops[i] + "\" is not set or add");
    auto& writer = Writer();
    auto r = Wait([&] {
      auto req = writer.applyRequest();
      auto list = req.initUpdates(static_cast<unsigned>(leaves.size()));
      for (size_t i = 0; i < leaves.size(); ++i) {
        auto u = list[static_cast<unsigned>(i)];
        u.setLeaf(leaves[i]);
        u.setMetric(metrics[i]);
        u.setOp(ops[i] == "set" ? proto::MetricUpdate::Op::SET : proto::MetricUpdate::Op::ADD);
        u.setValue(values[i]);
      }
      return req.send();
    });
    return r.getVersion();
  }

  // Position reports in batches of the server's limit (each batch is
  // applied on its own, as `gridtree call track` does).
  py::dict Track(const std::vector<std::string>& ids, const std::vector<std::string>& kinds, const py::array& lon,
                 const py::array& lat, const py::array& time) {
    const auto x = ColumnOf<double>(lon, "lon");
    const auto y = ColumnOf<double>(lat, "lat");
    const auto t = ColumnOf<int64_t>(time, "time");
    if (kinds.size() != ids.size() || x.size() != ids.size() || y.size() != ids.size() || t.size() != ids.size())
      ThrowBadInput("track: id, kind, lon, lat and time differ in length");
    auto& writer = Writer();
    uint64_t reports = 0, outside = 0, moved = 0, version = 0;
    const size_t chunk = std::max<uint32_t>(1, limits_max_reports_);
    for (size_t first = 0; first < ids.size(); first += chunk) {
      const size_t n = std::min(chunk, ids.size() - first);
      auto r = Wait([&] {
        auto req = writer.trackRequest();
        auto list = req.initReports(static_cast<unsigned>(n));
        for (size_t i = 0; i < n; ++i) {
          auto o = list[static_cast<unsigned>(i)];
          o.setId(ids[first + i]);
          o.setKind(kinds[first + i]);
          o.setLon(x[first + i]);
          o.setLat(y[first + i]);
          o.setTime(t[first + i]);
        }
        return req.send();
      });
      reports += r.getReports();
      outside += r.getOutside();
      moved += r.getMoved();
      version = r.getObjectsVersion();
    }
    py::dict d;
    d["reports"] = reports;
    d["outside"] = outside;
    d["moved"] = moved;
    d["objects_version"] = version;
    return d;
  }

  py::dict Objects(const std::optional<std::string>& node, const std::optional<std::vector<double>>& box,
                   const std::string& kind, size_t limit) {
    if (box && box->size() != 4) ThrowBadInput("box: (west, south, east, north)");
    capnp::MallocMessageBuilder message;
    auto q = message.initRoot<proto::ObjectQuery>();
    if (node) q.getWhere().setNode(*node);
    else if (box) {
      auto b = q.getWhere().initBox();
      b.setWest((*box)[0]);
      b.setSouth((*box)[1]);
      b.setEast((*box)[2]);
      b.setNorth((*box)[3]);
    }
    q.setKind(kind);
    rpc::ObjectPages pages =
        Guard([&] { return rpc::ObjectsPaged(client_->gridtree(), q.asReader(), 0, limit).wait(client_->wait_scope()); });
    Columns out({"id", "kind", "lon", "lat", "time", "leaf"});
    for (auto& page : pages.pages)
      for (auto o : page.getObjects()) {
        out.Add(0, std::string(o.getId().cStr()));
        out.Add(1, std::string(o.getKind().cStr()));
        out.Add(2, o.getLon());
        out.Add(3, o.getLat());
        out.Add(4, o.getTime());
        if (o.getLeaf().size() == 0) out.AddNone(5);
        else out.Add(5, std::string(o.getLeaf().cStr()));
      }
    return out.Finish();
  }

  // One subscription: the server pushes into the queue while take() runs
  // this connection's event loop.
  struct Events {
    ClientCore* core = nullptr;  // kept alive by pybind11 keep_alive
    std::shared_ptr<EventQueue> queue = std::make_shared<EventQueue>();
    std::optional<proto::WatchHandle::Client> handle;
    py::list Take(size_t max, double timeout) {
      core->CheckThread();
      if (!handle) throw PythonError(ErrorKind::kError, "events: the subscription is closed");
      return queue->Take(max, timeout, [this](std::chrono::milliseconds slice) {
        core->Translating([&] { core->client_->RunFor(static_cast<uint32_t>(slice.count())); });
      });
    }
    void Close() {
      if (!handle) return;
      core->CheckThread();
      try {
        handle->cancelRequest().send().wait(core->client_->wait_scope());
      } catch (const kj::Exception&) {
        // The server is gone: nothing left to cancel.
      }
      handle.reset();
    }
  };

  std::shared_ptr<Events> Subscribe(const std::vector<std::string>& nodes, const std::vector<std::string>& levels,
                                    const std::vector<std::string>& kinds) {
    std::vector<Level> parsed;
    for (const std::string& l : levels) parsed.push_back(ParseLevelOrThrow(l));
    auto events = std::make_shared<Events>();
    events->core = this;
    auto r = Wait([&] {
      auto req = client_->gridtree().eventsRequest();
      auto n = req.initNodes(static_cast<unsigned>(nodes.size()));
      for (size_t i = 0; i < nodes.size(); ++i) n.set(static_cast<unsigned>(i), nodes[i]);
      auto l = req.initLevels(static_cast<unsigned>(parsed.size()));
      for (size_t i = 0; i < parsed.size(); ++i) l.set(static_cast<unsigned>(i), ToProto(parsed[i]));
      auto k = req.initKinds(static_cast<unsigned>(kinds.size()));
      for (size_t i = 0; i < kinds.size(); ++i) k.set(static_cast<unsigned>(i), kinds[i]);
      req.setSink(kj::heap<QueueSink>(events->queue));
      return req.send();
    });
    events->handle = r.getHandle();
    return events;
  }

 std::vector<std::string> MetricNames() { return Metrics(FetchInfo().getInfo()); }

 private:
  capnp::Response<proto::GridTree::InfoResults> FetchInfo() {
    auto r = Wait([&] { return client_->gridtree().infoRequest().send(); });
    auto limits = r.getInfo().getLimits();
    limits_max_aggregate_ids_ = limits.getMaxAggregateIds();
    limits_max_reports_ = limits.getMaxReportsPerBatch();
    limits_max_top_k_ = limits.getMaxTopK();
    return r;
  }
  static std::vector<std::string> Metrics(proto::Info::Reader info) {
    std::vector<std::string> out;
    for (auto m : info.getMetricNames()) out.emplace_back(m.cStr());
    return out;
  }

  proto::Writer::Client& Writer() {
    if (!writer_) {
      auto r = Wait([&] {
        auto req = client_->gridtree().writerRequest();
        req.setToken(token_);
        return req.send();
      });
      writer_ = r.getWriter();
    }
    return *writer_;
  }

  const ClientTree& Tree();

  std::thread::id owner_;
  std::string address_, token_;
  std::unique_ptr<rpc::Client> client_;
  std::optional<proto::Writer::Client> writer_;
  std::optional<ClientTree> tree_;
  uint32_t limits_max_aggregate_ids_ = 1000, limits_max_reports_ = 10000, limits_max_top_k_ = 1000;
};

// Walks the server's tree from the nodes of its top level (topK lists them
// all), one level of children calls at a time, all in flight at once.
const ClientTree& ClientCore::Tree() {
  auto info_response = FetchInfo();
  auto info = info_response.getInfo();
  if (tree_ && tree_->dataset_version == info.getDatasetVersion()) return *tree_;
  const auto metrics = Metrics(info);
  if (metrics.empty()) throw PythonError(ErrorKind::kError, "ids(): the server's dataset has no metrics to list nodes by");
  auto counts = info.getCountsPerLevel();
  unsigned top = 0;
  while (top < counts.size() && counts[top] == 0) ++top;
  if (top == counts.size()) throw PythonError(ErrorKind::kError, "ids(): the server's dataset is empty");
  if (counts[top] > limits_max_top_k_)
    throw PythonError(ErrorKind::kError, "ids(): the server's top level has " + std::to_string(counts[top]) +
                                             " nodes, more than its --max-topk " + std::to_string(limits_max_top_k_));
  ClientTree tree;
  tree.dataset_version = info.getDatasetVersion();
  const size_t nodes = static_cast<size_t>(info.getNodes());
  tree.parents.assign(nodes, -1);
  tree.levels.assign(nodes, Level::kCity);
  tree.ids.assign(nodes, "");
  tree.names.assign(nodes, "");
  std::vector<bool> seen(nodes, false), inner(nodes, false);
  auto record = [&](proto::NodeRef::Reader ref, int32_t parent) {
    const int32_t n = ref.getNumber();
    if (n < 0 || static_cast<size_t>(n) >= nodes) throw PythonError(ErrorKind::kError, "ids(): the server changed its dataset during the walk; try again");
    seen[n] = true;
    tree.parents[n] = parent;
    tree.levels[n] = FromProto(ref.getLevel());
    tree.ids[n] = ref.getId().cStr();
    tree.names[n] = ref.getName().cStr();
    return n;
  };
  std::vector<int32_t> frontier;
  {
    auto r = Wait([&] {
      auto req = client_->gridtree().topKRequest();
      auto q = req.initQuery();
      q.setLevel(static_cast<proto::Level>(top));
      q.setMetric(metrics[0]);
      q.setK(static_cast<uint32_t>(counts[top]));
      return req.send();
    });
    for (auto e : r.getEntries()) frontier.push_back(record(e.getNode(), -1));
  }
  while (!frontier.empty()) {
    std::vector<int32_t> next;
    // At most 64 calls in flight: under the server's per-connection limit.
    for (size_t first = 0; first < frontier.size(); first += 64) {
      const size_t n = std::min<size_t>(64, frontier.size() - first);
      Guard([&] {
        kj::Vector<kj::Promise<capnp::Response<proto::GridTree::ChildrenResults>>> calls;
        for (size_t i = 0; i < n; ++i) {
          auto req = client_->gridtree().childrenRequest();
          req.setId(tree.ids[frontier[first + i]]);
          calls.add(req.send());
        }
        auto answers = kj::joinPromises(calls.releaseAsArray()).wait(client_->wait_scope());
        for (size_t i = 0; i < n; ++i) {
          const int32_t parent = frontier[first + i];
          for (auto child : answers[i].getChildren()) {
            inner[parent] = true;
            next.push_back(record(child, parent));
          }
        }
      });
    }
    frontier = std::move(next);
  }
  // Leaves are numbered in node (pre-)order.
  for (size_t k = 0; k < nodes; ++k)
    if (seen[k] && !inner[k]) tree.leaf_nodes.push_back(static_cast<int32_t>(k));
  if (std::count(seen.begin(), seen.end(), true) != static_cast<ptrdiff_t>(nodes) ||
      tree.leaf_nodes.size() != static_cast<size_t>(info.getLeaves()))
    throw PythonError(ErrorKind::kError,
                      "ids(): the walk from the server's top level reached " +
                          std::to_string(std::count(seen.begin(), seen.end(), true)) + " of its " +
                          std::to_string(nodes) + " nodes (roots below the top level, or a reload during the walk)");
  tree_ = std::move(tree);
  return *tree_;
}

void RegisterClient(py::module_& m) {
  using Events = ClientCore::Events;
  py::class_<Events, std::shared_ptr<Events>>(m, "ClientEvents")
      .def("take", &Events::Take, py::arg("max") = 1024, py::arg("timeout") = -1.0)
      .def_property_readonly("dropped", [](const Events& e) { return e.queue->dropped(); })
      .def("close", &Events::Close);
  py::class_<ClientCore>(m, "Client")
      .def(py::init<const std::string&, const std::string&>(), py::arg("address"), py::arg("token") = "")
      .def("info", &ClientCore::Info)
      .def("metrics", &ClientCore::MetricNames)
      .def("locate", &ClientCore::Locate)
      .def("level_nodes", &ClientCore::LevelNodesOf)
      .def("labels", &ClientCore::Labels)
      .def("node", &ClientCore::Node)
      .def("children", &ClientCore::Children)
      .def("top", &ClientCore::Top)
      .def("aggregate", &ClientCore::Aggregate)
      .def("level_table", &ClientCore::LevelTable)
      .def("update", &ClientCore::Update)
      .def("track", &ClientCore::Track)
      .def("objects", &ClientCore::Objects)
      .def("events", &ClientCore::Subscribe, py::keep_alive<0, 1>());
}

}  // namespace gridtree::python
