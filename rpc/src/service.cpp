// The capability implementations: GridTree (reads), Writer (updates,
// checkpoint, reload) and WatchHandle (subscriptions).
#include "service.h"

#include "gridtree/rpc/write_log.h"

#include <kj/debug.h>

#include <cmath>
#include <span>
#include <unordered_map>

#include "convert.h"
#include "gridtree/engine/dataset.h"

namespace gridtree::rpc::internal {
namespace {

std::string Str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

// Sizes in words: a struct is its data and pointer sections, inline in a
// list of structs after the list's tag word, and so is what it points to;
// a text is its bytes and a NUL rounded up to words; a list of numbers its
// values rounded up to words.
template <typename T>
constexpr uint64_t StructWords() {
  return T::_capnpPrivate::dataWordSize + T::_capnpPrivate::pointerCount;
}
template <typename T>
constexpr uint64_t StructListWords(size_t n) {
  return 1 + n * StructWords<T>();
}
constexpr uint64_t ValueListWords(size_t n, size_t bytes_each) { return (n * bytes_each + 7) / 8; }
uint64_t TextWords(std::string_view text) { return (text.size() + 8) / 8; }

// The id and name of a NodeRef (the struct itself is counted by its holder).
uint64_t NodeRefTextWords(const View& view, NodeId node) { return TextWords(view.id(node)) + TextWords(view.name(node)); }
// A NodeRef a struct points to.
uint64_t NodeRefWords(const View& view, NodeId node) {
  return StructWords<proto::NodeRef>() + NodeRefTextWords(view, node);
}
// A list of NodeRefs (children, path).
uint64_t NodeRefListWords(const View& view, std::span<const NodeId> nodes) {
  uint64_t words = StructListWords<proto::NodeRef>(nodes.size());
  for (NodeId n : nodes) words += NodeRefTextWords(view, n);
  return words;
}
uint64_t TrackedObjectListWords(const std::vector<TrackedObject>& objects) {
  uint64_t words = StructListWords<proto::TrackedObject>(objects.size());
  for (const TrackedObject& o : objects) words += TextWords(o.id) + TextWords(o.kind) + TextWords(o.leaf_id);
  return words;
}

uint64_t InfoWords(const View& view) {
  uint64_t words = StructWords<proto::GridTree::InfoResults>() + StructWords<proto::Info>() +
                   TextWords(view.dataset().source) + 64 /* replication */ + ValueListWords(kLevelCount, 8) + StructWords<proto::Bounds>() +
                   StructWords<proto::Limits>() + 1 + view.metric_count();
  for (size_t i = 0; i < view.metric_count(); ++i) words += TextWords(view.metric_name(static_cast<int>(i)));
  return words;
}

// The node answer: its NodeRef, kind and parent texts, bounds and one value
// a metric.
uint64_t NodeInfoWords(const View& view, NodeId node) {
  const NodeId parent = view.Parent(node);
  return StructWords<proto::GridTree::NodeResults>() + StructWords<proto::NodeInfo>() + NodeRefWords(view, node) +
         TextWords(view.kind(node)) + TextWords(parent.valid() ? view.id(parent) : std::string_view()) +
         StructWords<proto::Bounds>() + ValueListWords(view.metric_count(), 8);
}

// The locate answer: the chain of a hit (an empty list on a miss).
uint64_t LocateWords(const View& view, const LocateResult& r) {
  uint64_t words = StructWords<proto::GridTree::LocateResults>() + StructWords<proto::LocateResult>();
  if (!r.hit()) return words + StructListWords<proto::NodeRef>(0);
  const Chain c = view.ChainOf(r.node);
  return words + NodeRefListWords(view, std::span<const NodeId>(c.nodes.data(), static_cast<size_t>(c.size)));
}

uint64_t KindCountsWords(const std::vector<ObjectKindCount>& kinds) {
  uint64_t words = StructWords<proto::GridTree::ObjectKindsResults>() + StructListWords<proto::KindCount>(kinds.size());
  for (const ObjectKindCount& k : kinds) words += TextWords(k.kind);
  return words;
}

uint64_t RegionWords(const View& view, const RegionResult& r) {
  uint64_t words = StructWords<proto::GridTree::RegionAggregateResults>() + StructWords<proto::RegionResult>() +
                   ValueListWords(r.total.size(), 8) + ValueListWords(r.counts.size(), 8) +
                   StructListWords<proto::RegionRow>(r.rows.size());
  for (const auto& row : r.rows)
    words += NodeRefWords(view, row.node) + ValueListWords(row.values.size(), 8) + ValueListWords(row.counts.size(), 8);
  return words;
}

uint64_t TopKWords(const View& view, const TopKResult& r) {
  uint64_t words = StructWords<proto::GridTree::TopKResults>() + StructListWords<proto::TopEntry>(r.entries.size());
  for (const TopEntry& e : r.entries) words += NodeRefWords(view, e.node);
  return words;
}

// How to ask for less, per method (the end of the refusal).
constexpr const char* kPageObjects =
    "page through them with query.offset and a smaller query.limit (gridtree call objects pages by itself)";
constexpr const char* kSmallerK = "ask for a smaller k";
constexpr const char* kRaiseLimit = "raise the server's --max-message-bytes (and the client's to match)";

// The handle of a watch or an events subscription: cancel() or dropping it
// ends the subscription (`cancel_` is ServerState::CancelWatch or
// CancelEvents) and frees its slot on the connection, once: a client whose
// library never releases handles (capnp-es) still gets its slots back.
class SubscriptionHandleImpl final : public proto::WatchHandle::Server {
 public:
  using Cancel = void (ServerState::*)(uint64_t);
  SubscriptionHandleImpl(ServerState& state, uint64_t id, std::shared_ptr<ConnState> conn, Cancel cancel)
      : state_(state), id_(id), conn_(std::move(conn)), cancel_(cancel) {
    ++conn_->watches;
  }
  ~SubscriptionHandleImpl() noexcept(false) { End(); }

  kj::Promise<void> cancel(CancelContext) override {
    End();
    return kj::READY_NOW;
  }

 private:
  void End() {
    if (ended_) return;
    ended_ = true;
    (state_.*cancel_)(id_);
    --conn_->watches;
  }

  ServerState& state_;
  uint64_t id_;
  std::shared_ptr<ConnState> conn_;  // a connection with a live subscription is never idle
  Cancel cancel_;
  bool ended_ = false;  // cancelled: the subscription and its slot are gone
};

class WriterImpl final : public proto::Writer::Server {
 public:
  WriterImpl(ServerState& state, std::shared_ptr<ConnState> conn) : state_(state), conn_(std::move(conn)) {}

  kj::Promise<void> apply(ApplyContext ctx) override {
    return state_.Call(conn_, "apply", [this, ctx]() mutable {
      auto updates = ctx.getParams().getUpdates();
      CheckLimit("updates", "updates", updates.size(), state_.options.max_updates_per_batch, "max_updates_per_batch");
      UpdateBatch batch = UpdatesFromProto(updates);
      if (auto& log = state_.options.write_log)
        return state_.ViaWriteLog([log, batch = std::move(batch)](WriteLog::Done done) mutable {
          log->Apply(std::move(batch), std::move(done));
        }).then([ctx](Result<WriteAck> r) mutable {
          if (!r.ok()) ThrowStatus(r.status());
          ctx.getResults().setVersion(r->version);
          ctx.getResults().setPosition(r->position);
        });
      Engine* engine = &state_.engine;
      return state_.Offload([engine, batch = std::move(batch)]() { return engine->Apply(batch); })
          .then([ctx](Result<uint64_t> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            ctx.getResults().setVersion(r.value());
          });
    });
  }

  kj::Promise<void> track(TrackContext ctx) override {
    return state_.Call(conn_, "track", [this, ctx]() mutable {
      auto reports = ctx.getParams().getReports();
      CheckLimit("reports", "reports", reports.size(), state_.options.max_reports_per_batch, "max_reports_per_batch");
      Engine* engine = &state_.engine;
      // Read on the worker, not on the event loop: the request message lives
      // until the call returns, which it cannot do before this task ends
      // (calls are not cancellable in Cap'n Proto 0.9.2 unless a server
      // allows it, and ~ServerState waits for `running`), and a reader of
      // an immutable message is safe on any thread. Keep it so: a call made
      // cancellable must copy the reports first.
      if (auto& log = state_.options.write_log)
        return state_.ViaWriteLog([log, reports = ReportsFromProto(reports)](WriteLog::Done done) mutable {
          log->Track(std::move(reports), std::move(done));
        }).then([ctx](Result<WriteAck> r) mutable {
          if (!r.ok()) ThrowStatus(r.status());
          auto res = ctx.getResults();
          res.setReports(r->track.reports);
          res.setOutside(r->track.outside);
          res.setMoved(r->track.moved);
          res.setObjectsVersion(r->track.objects_version);
          res.setPosition(r->position);
        });
      return state_.Offload([engine, reports]() { return engine->Track(ReportsFromProto(reports)); })
          .then([ctx](Result<TrackResult> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            auto res = ctx.getResults();
            res.setReports(r->reports);
            res.setOutside(r->outside);
            res.setMoved(r->moved);
            res.setObjectsVersion(r->objects_version);
          });
    });
  }

  kj::Promise<void> checkpoint(CheckpointContext) override {
    return state_.Call(conn_, "checkpoint", [this]() {
      if (auto& log = state_.options.write_log)
        return state_.Offload([log]() { return log->Checkpoint(); }).then([](Status s) {
          if (!s.ok()) ThrowStatus(s);
        });
      Engine* engine = &state_.engine;
      return state_.Offload([engine]() { return engine->Checkpoint(); }).then([](Status s) {
        if (!s.ok()) ThrowStatus(s);
      });
    });
  }

  kj::Promise<void> reload(ReloadContext ctx) override {
    return state_.Call(conn_, "reload", [this, ctx]() mutable {
      std::string path = Str(ctx.getParams().getPath());
      if (path.empty()) ThrowFailed("path: empty");
      if (state_.options.write_log)
        ThrowFailed("reload: refused in a cluster: every replica serves the image its stream belongs to "
                    "(docs/cluster.md, \"Changing the image\")");
      Engine* engine = &state_.engine;
      state_.Log("info", "reload_start", {{"path", path}});
      return state_
          .Offload([engine, path]() { return engine->ReloadFrom(path); })
          .then([this, ctx](Result<std::shared_ptr<const View>> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            const std::shared_ptr<const View> view = std::move(r).value();
            auto res = ctx.getResults();
            res.setDatasetVersion(view->dataset_version());
            res.setNodes(static_cast<int64_t>(view->dataset().node_count()));
            res.setLeaves(static_cast<int64_t>(view->dataset().leaf_count()));
            state_.Log("info", "dataset_reloaded",
                       {{"source", view->dataset().source},
                        {"dataset_version", std::to_string(view->dataset_version())},
                        {"nodes", std::to_string(view->dataset().node_count())},
                        {"leaves", std::to_string(view->dataset().leaf_count())}});
          });
    });
  }

 private:
  ServerState& state_;
  std::shared_ptr<ConnState> conn_;
};

class GridTreeImpl final : public proto::GridTree::Server {
 public:
  GridTreeImpl(ServerState& state, std::shared_ptr<ConnState> conn) : state_(state), conn_(std::move(conn)) {}

  kj::Promise<void> info(InfoContext ctx) override {
    return state_.Call(conn_, "info", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      CheckAnswerSize("info", InfoWords(*view), "", state_.options.max_message_bytes, kRaiseLimit);
      FillInfo(ctx.getResults().initInfo(), *view, state_.options);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> locate(LocateContext ctx) override {
    return state_.Call(conn_, "locate", [this, ctx]() mutable {
      auto p = ctx.getParams();
      const double lon = p.getLon(), lat = p.getLat(), d = p.getMaxDistanceM();
      if (!std::isfinite(lon)) ThrowFailed("lon: must be a finite number");
      if (!std::isfinite(lat)) ThrowFailed("lat: must be a finite number");
      if (!std::isfinite(d) || d < 0) ThrowFailed("maxDistanceM: must be a finite number >= 0");
      auto view = state_.engine.Read();
      LocateOptions lo;
      lo.max_distance_m = d;
      const LocateResult r = view->Locate({lon, lat}, lo);
      ++state_.calls.points_located;
      CheckAnswerSize("locate", LocateWords(*view, r), "", state_.options.max_message_bytes, kRaiseLimit);
      FillLocate(ctx.getResults().initResult(), *view, r);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> locateBatch(LocateBatchContext ctx) override {
    return state_.Call(conn_, "locateBatch", [this, ctx]() mutable {
      auto p = ctx.getParams();
      return LocateBatchAsync(state_, p.getLon(), p.getLat(), p.getWithChains()).then([ctx](BatchAnswer a) mutable {
        auto out = ctx.getResults().initResult();
        const View& view = *a.view;
        const auto n = static_cast<unsigned>(a.leaves.size());
        auto leaves = out.initLeaves(n);
        for (unsigned i = 0; i < n; ++i) leaves.set(i, a.leaves[i].value);
        out.setVersion(view.version());
        out.setDatasetVersion(view.dataset_version());
        if (a.chain_index.empty()) return;
        auto idx = out.initChainIndex(static_cast<unsigned>(a.chain_index.size()));
        for (size_t i = 0; i < a.chain_index.size(); ++i) idx.set(static_cast<unsigned>(i), a.chain_index[i]);
        auto cn = out.initChainNodes(static_cast<unsigned>(a.chain_nodes.size()));
        for (size_t k = 0; k < a.chain_nodes.size(); ++k) FillNodeRef(cn[static_cast<unsigned>(k)], view, a.chain_nodes[k]);
      });
    });
  }

  kj::Promise<void> node(NodeContext ctx) override {
    return state_.Call(conn_, "node", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      const NodeId n = RequireNode(*view, ctx.getParams().getId(), "id");
      CheckAnswerSize("node", NodeInfoWords(*view, n), "with " + std::to_string(view->metric_count()) + " metrics",
                      state_.options.max_message_bytes, kRaiseLimit);
      FillNodeInfo(ctx.getResults().initNode(), *view, n);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> children(ChildrenContext ctx) override {
    return state_.Call(conn_, "children", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      const NodeId n = RequireNode(*view, ctx.getParams().getId(), "id");
      auto kids = view->Children(n);
      CheckAnswerSize("children", StructWords<proto::GridTree::ChildrenResults>() + NodeRefListWords(*view, kids),
                      "with " + std::to_string(kids.size()) + " children", state_.options.max_message_bytes,
                      std::string(kRaiseLimit) + ", or ask regionAggregate or topK for the level below");
      auto res = ctx.getResults();
      auto out = res.initChildren(static_cast<unsigned>(kids.size()));
      for (size_t i = 0; i < kids.size(); ++i) FillNodeRef(out[static_cast<unsigned>(i)], *view, kids[i]);
      res.setDatasetVersion(view->dataset_version());
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> path(PathContext ctx) override {
    return state_.Call(conn_, "path", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      const Chain c = view->ChainOf(RequireNode(*view, ctx.getParams().getId(), "id"));
      CheckAnswerSize("path",
                      StructWords<proto::GridTree::PathResults>() +
                          NodeRefListWords(*view, std::span<const NodeId>(c.nodes.data(), static_cast<size_t>(c.size))),
                      "", state_.options.max_message_bytes, kRaiseLimit);
      auto res = ctx.getResults();
      FillChain(res.initChain(static_cast<unsigned>(c.size)), *view, c);
      res.setDatasetVersion(view->dataset_version());
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> aggregate(AggregateContext ctx) override {
    return state_.Call(conn_, "aggregate", [this, ctx]() mutable {
      auto ids = ctx.getParams().getIds();
      CheckLimit("ids", "ids", ids.size(), state_.options.max_ids_per_aggregate, "max_ids_per_aggregate");
      auto view = state_.engine.Read();
      std::vector<NodeId> nodes;
      for (unsigned i = 0; i < ids.size(); ++i)
        nodes.push_back(RequireNode(*view, ids[i], ("ids[" + std::to_string(i) + "]").c_str()));
      uint64_t words = StructWords<proto::GridTree::AggregateResults>() + StructListWords<proto::Aggregate>(nodes.size());
      for (NodeId n : nodes) words += AggregateWords(*view, n) - StructWords<proto::Aggregate>();
      CheckAnswerSize("aggregate", words, "for " + std::to_string(nodes.size()) + " ids",
                      state_.options.max_message_bytes, "send fewer ids per call");
      auto res = ctx.getResults();
      auto out = res.initAggregates(ids.size());
      for (unsigned i = 0; i < ids.size(); ++i) FillAggregate(out[i], *view, nodes[i]);
      res.setVersion(view->version());
      res.setDatasetVersion(view->dataset_version());
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> regionAggregate(RegionAggregateContext ctx) override {
    return state_.Call(conn_, "regionAggregate", [this, ctx]() mutable {
      RegionQuery q = RegionQueryFromProto(ctx.getParams().getQuery());
      return RegionAsync(state_, std::move(q)).then([ctx, max_bytes = state_.options.max_message_bytes](RegionAnswer a) mutable {
        CheckAnswerSize("regionAggregate", RegionWords(*a.view, a.result),
                        "with " + std::to_string(a.result.rows.size()) + " rows", max_bytes,
                        "use a smaller region, or groupBy a coarser level (or none)");
        FillRegionResult(ctx.getResults().initResult(), *a.view, a.result);
      });
    });
  }

  kj::Promise<void> topK(TopKContext ctx) override {
    return state_.Call(conn_, "topK", [this, ctx]() mutable {
      auto q = ctx.getParams().getQuery();
      auto view = state_.engine.Read();
      TopKQuery tq;
      tq.level = FromProto(q.getLevel());
      auto metric = view->MetricIndex(std::string_view(q.getMetric().begin(), q.getMetric().size()));
      if (!metric) ThrowFailed("query.metric: unknown metric \"" + Str(q.getMetric()) + "\"");
      tq.metric = *metric;
      tq.k = q.getK();
      CheckLimit("query.k", "entries", tq.k, state_.options.max_top_k, "max_top_k");
      if (q.getWithin().size() > 0) tq.within = RequireNode(*view, q.getWithin(), "query.within");
      tq.density = q.getDensity();
      return state_.Offload([view, tq]() { return view->TopK(tq); })
          .then([ctx, view, density = tq.density, max_bytes = state_.options.max_message_bytes](Result<TopKResult> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            CheckAnswerSize("topK", TopKWords(*view, r.value()), "with " + std::to_string(r->entries.size()) + " entries",
                            max_bytes, kSmallerK);
            auto res = ctx.getResults();
            FillTopK(res.initEntries(static_cast<unsigned>(r->entries.size())), *view, r.value(), density);
            res.setVersion(r->version);
            res.setDatasetVersion(r->dataset_version);
          });
    });
  }

  kj::Promise<void> writer(WriterContext ctx) override {
    return state_.Call(conn_, "writer", [this, ctx]() mutable -> kj::Promise<void> {
      if (state_.options.writer_token.empty()) ThrowFailed("token: the server is read-only (no writer token configured)");
      // Guessing is slowed three ways: every wrong token is answered late,
      // a connection gets a few tries, and past a server-wide rate a
      // connection that has already failed gets no more comparisons. A
      // connection that has not failed is always compared, so guessers
      // cannot lock the real writer out.
      const int64_t second = state_.Second();
      if (second != state_.connections.token_failure_second) {
        state_.connections.token_failure_second = second;
        state_.connections.token_failures_this_second = 0;
      }
      if (conn_->token_failures >= state_.options.max_token_failures_per_connection)
        ThrowFailed("token: too many failed token attempts on this connection");
      if (conn_->token_failures > 0 &&
          state_.connections.token_failures_this_second >= state_.options.max_token_failures_per_second)
        ThrowOverloaded("token: too many failed token attempts on this server; retry in a second");
      auto t = ctx.getParams().getToken();
      if (!TokenEquals(std::string_view(t.begin(), t.size()), state_.options.writer_token)) {
        ++state_.calls.writer_refusals;
        ++state_.connections.token_failures_this_second;
        const uint32_t failures = ++conn_->token_failures;
        state_.Log("warn", "writer_refused", {{"conn", std::to_string(conn_->id)}, {"peer", conn_->peer},
                                               {"token_bytes", std::to_string(t.size())}});
        const auto delay = static_cast<int64_t>(state_.options.token_failure_delay_ms * 1000) * kj::MICROSECONDS;
        return state_.timer.afterDelay(delay).then([this, failures]() {
          if (failures >= state_.options.max_token_failures_per_connection)
            state_.CloseConnection(*conn_, "more than " + std::to_string(state_.options.max_token_failures_per_connection) +
                                              " failed writer token attempts (max_token_failures_per_connection)",
                                   100 * kj::MILLISECONDS);
          ThrowFailed("token: writer token refused");
        });
      }
      state_.Log("info", "writer_granted", {{"conn", std::to_string(conn_->id)}});
      ctx.getResults().setWriter(kj::heap<WriterImpl>(state_, conn_));
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> objects(ObjectsContext ctx) override {
    return state_.Call(conn_, "objects", [this, ctx]() mutable {
      ObjectQuery q = ObjectQueryFromProto(ctx.getParams().getQuery());
      CheckLimit("query.limit", "objects", q.limit, state_.options.max_reports_per_batch, "max_reports_per_batch");
      Engine* engine = &state_.engine;
      return state_.Offload([engine, q = std::move(q)]() { return engine->Objects(q); })
          .then([ctx, max_bytes = state_.options.max_message_bytes](Result<ObjectPage> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            CheckAnswerSize("objects",
                            StructWords<proto::GridTree::ObjectsResults>() + TrackedObjectListWords(r->objects),
                            "with " + std::to_string(r->objects.size()) + " objects", max_bytes, kPageObjects);
            auto res = ctx.getResults();
            auto out = res.initObjects(static_cast<unsigned>(r->objects.size()));
            for (size_t i = 0; i < r->objects.size(); ++i) FillTrackedObject(out[static_cast<unsigned>(i)], r->objects[i]);
            res.setTotal(r->total);
            res.setObjectsVersion(r->objects_version);
          });
    });
  }

  kj::Promise<void> nearest(NearestContext ctx) override {
    return state_.Call(conn_, "nearest", [this, ctx]() mutable {
      auto p = ctx.getParams();
      const double lon = p.getLon(), lat = p.getLat();
      if (!std::isfinite(lon) || !std::isfinite(lat)) ThrowFailed("lon, lat: must be finite numbers");
      const size_t k = p.getK();
      CheckLimit("k", "objects", k, state_.options.max_top_k, "max_top_k");
      Engine* engine = &state_.engine;
      return state_.Offload([engine, lon, lat, k, kind = Str(p.getKind())]() { return engine->Nearest({lon, lat}, k, kind); })
          .then([ctx, max_bytes = state_.options.max_message_bytes](Result<std::vector<TrackedObject>> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            CheckAnswerSize("nearest", StructWords<proto::GridTree::NearestResults>() + TrackedObjectListWords(*r),
                            "with " + std::to_string(r->size()) + " objects", max_bytes, kSmallerK);
            auto out = ctx.getResults().initObjects(static_cast<unsigned>(r->size()));
            for (size_t i = 0; i < r->size(); ++i) FillTrackedObject(out[static_cast<unsigned>(i)], (*r)[i]);
          });
    });
  }

  kj::Promise<void> objectKinds(ObjectKindsContext ctx) override {
    return state_.Call(conn_, "objectKinds", [this, ctx]() mutable {
      const std::vector<ObjectKindCount> kinds = state_.engine.ObjectKinds();
      CheckAnswerSize("objectKinds", KindCountsWords(kinds), "with " + std::to_string(kinds.size()) + " kinds",
                      state_.options.max_message_bytes, kRaiseLimit);
      auto res = ctx.getResults();
      auto out = res.initKinds(static_cast<unsigned>(kinds.size()));
      for (size_t i = 0; i < kinds.size(); ++i) {
        out[static_cast<unsigned>(i)].setKind(kinds[i].kind);
        out[static_cast<unsigned>(i)].setTotal(kinds[i].total);
        out[static_cast<unsigned>(i)].setOutside(kinds[i].outside);
      }
      res.setObjectsVersion(state_.engine.Read()->objects_version());
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> atPosition(AtPositionContext ctx) override {
    return state_.Call(conn_, "atPosition", [this, ctx]() mutable {
      const uint64_t position = ctx.getParams().getPosition();
      const uint32_t timeout_ms = ctx.getParams().getTimeoutMs();
      return state_.WaitForPosition(position, timeout_ms).then([this, ctx]() mutable {
        ctx.getResults().setGridtree(kj::heap<GridTreeImpl>(state_, conn_));
      });
    });
  }

  kj::Promise<void> events(EventsContext ctx) override {
    return state_.Call(conn_, "events", [this, ctx]() mutable {
      auto p = ctx.getParams();
      if (!p.hasSink()) ThrowFailed("sink: missing");
      CheckLimit("nodes", "ids", p.getNodes().size(), state_.options.max_ids_per_watch, "max_ids_per_watch");
      CheckLimit("levels", "levels", p.getLevels().size(), kLevelCount, "the number of levels");
      CheckLimit("kinds", "kinds", p.getKinds().size(), 64, "the most kinds a server tracks");
      // Watches and event subscriptions together, per connection: each may
      // hold pushes the client has not taken yet.
      CheckLimit("events", "subscriptions on this connection", conn_->watches + 1,
                 state_.options.max_watches_per_connection, "max_watches_per_connection");
      ObjectEventFilter filter;
      for (auto id : p.getNodes()) filter.node_ids.push_back(Str(id));
      for (auto level : p.getLevels()) filter.levels.push_back(FromProto(level));
      for (auto kind : p.getKinds()) filter.kinds.push_back(Str(kind));
      const uint64_t id = state_.watches.next_subscription++;
      auto inbox = state_.event_streams.inbox;
      auto subscribed = state_.engine.SubscribeObjectEvents(std::move(filter), [inbox, id](std::span<const ObjectEvent> events) {
        inbox->Post({id, std::vector<ObjectEvent>(events.begin(), events.end())});
      });
      if (!subscribed.ok()) ThrowStatus(subscribed.status());
      state_.event_streams.subscriptions.emplace(id, EventSubscription(subscribed.value(), p.getSink()));
      state_.Log("info", "events", {{"subscription", std::to_string(id)}});
      ctx.getResults().setHandle(kj::heap<SubscriptionHandleImpl>(state_, id, conn_, &ServerState::CancelEvents));
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> watch(WatchContext ctx) override {
    return state_.Call(conn_, "watch", [this, ctx]() mutable {
      auto p = ctx.getParams();
      auto ids = p.getIds();
      if (ids.size() == 0) ThrowFailed("ids: empty");
      CheckLimit("ids", "ids", ids.size(), state_.options.max_ids_per_watch, "max_ids_per_watch");
      if (!p.hasCallback()) ThrowFailed("callback: missing");
      CheckLimit("watch", "subscriptions on this connection", conn_->watches + 1,
                 state_.options.max_watches_per_connection, "max_watches_per_connection");
      auto view = state_.engine.Read();
      Subscription sub{{}, p.getCallback(), false, nullptr};
      for (unsigned i = 0; i < ids.size(); ++i) {
        RequireNode(*view, ids[i], ("ids[" + std::to_string(i) + "]").c_str());
        sub.ids.push_back(Str(ids[i]));
      }
      // Every push carries an Aggregate per id: refused now if one would not
      // fit (a push that fails later, metrics added since, ends the watch).
      uint64_t words = StructWords<proto::Watcher::PushParams>() + StructListWords<proto::Aggregate>(0);
      for (const auto& sid : sub.ids) words += AggregateWords(*view, *view->Find(sid));
      CheckAnswerSize("watch", words, "(each push) for " + std::to_string(ids.size()) + " ids",
                      state_.options.max_message_bytes, "watch fewer ids per subscription");
      const uint64_t id = state_.watches.next_subscription++;
      state_.watches.subscriptions.emplace(id, std::move(sub));
      state_.WatchesChanged();
      state_.Log("info", "watch", {{"subscription", std::to_string(id)}, {"ids", std::to_string(ids.size())}});
      ctx.getResults().setHandle(kj::heap<SubscriptionHandleImpl>(state_, id, conn_, &ServerState::CancelWatch));
      return kj::READY_NOW;
    });
  }

 private:
  ServerState& state_;
  std::shared_ptr<ConnState> conn_;
};

}  // namespace

kj::Own<proto::GridTree::Server> NewGridTree(ServerState& state, std::shared_ptr<ConnState> conn) {
  return kj::heap<GridTreeImpl>(state, std::move(conn));
}

namespace {
// Message, Return or Call, Payload, an empty cap table and the segment
// table come to a few dozen words; 64 leaves room to spare.
constexpr uint64_t kEnvelopeWords = 64;
}  // namespace

uint64_t AnswerBudgetWords(uint64_t max_bytes) {
  const uint64_t words = max_bytes / 8;
  return words > kEnvelopeWords ? words - kEnvelopeWords : 0;
}

void CheckAnswerSize(const char* method, uint64_t words, const std::string& what, uint64_t max_bytes,
                     const std::string& how) {
  if (words <= AnswerBudgetWords(max_bytes)) return;
  // The message's size, the envelope included: the number compared with
  // the limit.
  ThrowFailed(std::string(method) + ": the answer" + (what.empty() ? "" : " " + what) + " would take " +
              std::to_string((words + kEnvelopeWords) * 8) + " bytes, over max_message_bytes " +
              std::to_string(max_bytes) + "; " + how);
}

uint64_t ObjectEventWords(const ObjectEvent& e) {
  return StructWords<proto::ObjectEvent>() + TextWords(e.object_id) + TextWords(e.kind) + TextWords(e.node_id);
}

uint64_t AggregateWords(const View& view, NodeId node) {
  return StructWords<proto::Aggregate>() + NodeRefWords(view, node) + ValueListWords(view.metric_count(), 8);
}

namespace {
void CheckBatchSize(uint64_t words, size_t points, bool with_chains, uint64_t max_bytes) {
  CheckAnswerSize("locateBatch", words, "for " + std::to_string(points) + " points", max_bytes,
                  std::string("send fewer points per call") + (with_chains ? " or set withChains = false" : ""));
}

// The answer's size in words without the chain nodes: the leaves list, and
// with chains kLevelCount indexes a point.
uint64_t AnswerWordsBeforeNodes(size_t points, bool with_chains) {
  return StructWords<proto::GridTree::LocateBatchResults>() + StructWords<proto::LocateBatchResult>() +
         ValueListWords(points, 4) + (with_chains ? ValueListWords(points * kLevelCount, 4) + 1 : 0);
}
}  // namespace

kj::Promise<BatchAnswer> LocateBatchAsync(ServerState& state, capnp::List<double>::Reader lon,
                                          capnp::List<double>::Reader lat, bool with_chains) {
  if (lon.size() != lat.size())
    ThrowFailed("lat: " + std::to_string(lat.size()) + " values but lon has " + std::to_string(lon.size()));
  CheckLimit("lon", "points", lon.size(), state.options.max_points_per_batch, "max_points_per_batch");
  const uint64_t max_bytes = state.options.max_message_bytes;
  // What the answer takes whatever the points hit: refused before any work.
  CheckBatchSize(AnswerWordsBeforeNodes(lon.size(), with_chains), lon.size(), with_chains, max_bytes);
  // Copied out of the message on the loop thread: the task owns its input.
  std::vector<double> xs(lon.size()), ys(lat.size());
  for (unsigned i = 0; i < lon.size(); ++i) {
    xs[i] = lon[i];
    ys[i] = lat[i];
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i])) ThrowFailed("lon[" + std::to_string(i) + "]: must be a finite number");
    if (!std::isfinite(ys[i])) ThrowFailed("lat[" + std::to_string(i) + "]: must be a finite number");
  }
  state.calls.points_located += xs.size();
  return state.Offload([view = state.engine.Read(), xs = std::move(xs), ys = std::move(ys), with_chains, max_bytes]() {
    // One View for the points and their chains: the leaf numbers and the
    // node names always come from the same dataset.
    BatchAnswer a;
    a.view = view;
    a.leaves.resize(xs.size());
    if (Status s = view->LocateColumns(xs, ys, a.leaves); !s.ok()) ThrowStatus(s);
    if (!with_chains) return a;
    std::unordered_map<int32_t, int32_t> dict;
    a.chain_index.assign(xs.size() * kLevelCount, -1);
    for (size_t i = 0; i < xs.size(); ++i) {
      if (!a.leaves[i].valid()) continue;
      const Chain c = view->ChainOf(view->NodeOf(a.leaves[i]));
      for (int k = 0; k < c.size; ++k) {
        auto [it, fresh] = dict.try_emplace(c.nodes[k].value, static_cast<int32_t>(a.chain_nodes.size()));
        if (fresh) a.chain_nodes.push_back(c.nodes[k]);
        a.chain_index[i * kLevelCount + static_cast<size_t>(view->level(c.nodes[k]))] = it->second;
      }
    }
    // The chain nodes, each once: a NodeRef and its two texts.
    CheckBatchSize(AnswerWordsBeforeNodes(xs.size(), true) + NodeRefListWords(*view, a.chain_nodes), xs.size(), true,
                   max_bytes);
    return a;
  });
}

kj::Promise<RegionAnswer> RegionAsync(ServerState& state, RegionQuery query) {
  return state.Offload([view = state.engine.Read(), query = std::move(query)]() {
    Result<RegionResult> r = view->RegionAggregate(query);
    if (!r.ok()) ThrowStatus(r.status());
    return RegionAnswer{view, std::move(r).value()};
  });
}

}  // namespace gridtree::rpc::internal
