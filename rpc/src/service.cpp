// The capability implementations: GridTree (reads), Writer (updates,
// checkpoint, reload) and WatchHandle (subscriptions).
#include "service.h"

#include <kj/debug.h>

#include <cmath>
#include <unordered_map>

#include "convert.h"
#include "gridtree/engine/dataset.h"

namespace gridtree::rpc::internal {
namespace {

std::string Str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

class WatchHandleImpl final : public proto::WatchHandle::Server {
 public:
  WatchHandleImpl(ServerState& state, uint64_t id, std::shared_ptr<ConnState> conn)
      : state_(state), id_(id), conn_(std::move(conn)) {
    ++conn_->watches;
  }
  ~WatchHandleImpl() noexcept(false) {
    Cancel();
    --conn_->watches;
  }

  kj::Promise<void> cancel(CancelContext) override {
    Cancel();
    return kj::READY_NOW;
  }

 private:
  void Cancel() {
    if (state_.subscriptions.erase(id_))
      state_.Log("info", "unwatch", {{"subscription", std::to_string(id_)}});
  }
  ServerState& state_;
  uint64_t id_;
  std::shared_ptr<ConnState> conn_;  // a connection with a watch is never idle
};

class WriterImpl final : public proto::Writer::Server {
 public:
  WriterImpl(ServerState& state, std::shared_ptr<ConnState> conn) : state_(state), conn_(std::move(conn)) {}

  kj::Promise<void> apply(ApplyContext ctx) override {
    return state_.Call(conn_, "apply", [this, ctx]() mutable {
      auto updates = ctx.getParams().getUpdates();
      CheckLimit("updates", "updates", updates.size(), state_.options.max_updates_per_batch, "max_updates_per_batch");
      UpdateBatch batch = UpdatesFromProto(updates);
      Engine* engine = &state_.engine;
      return state_.Offload([engine, batch = std::move(batch)]() { return engine->Apply(batch); })
          .then([ctx](Result<uint64_t> r) mutable {
            if (!r.ok()) ThrowStatus(r.status());
            ctx.getResults().setVersion(r.value());
          });
    });
  }

  kj::Promise<void> checkpoint(CheckpointContext) override {
    return state_.Call(conn_, "checkpoint", [this]() {
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
      Engine* engine = &state_.engine;
      state_.Log("info", "reload_start", {{"path", path}});
      return state_
          .Offload([engine, path]() -> Status {
            LoadResult loaded = LoadDataset(path);
            if (!loaded.dataset) {
              return InvalidArgument(path + ": " + loaded.report.ErrorSummary());
            }
            return engine->Reload(std::move(*loaded.dataset));
          })
          .then([this, ctx](Status s) mutable {
            if (!s.ok()) ThrowStatus(s);
            auto view = state_.engine.Read();
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
      FillInfo(ctx.getResults().initInfo(), *state_.engine.Read(), state_.options);
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
      ++state_.points_located;
      FillLocate(ctx.getResults().initResult(), *view, r);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> locateBatch(LocateBatchContext ctx) override {
    return state_.Call(conn_, "locateBatch", [this, ctx]() mutable {
      auto p = ctx.getParams();
      const bool chains = p.getWithChains();
      return LocateBatchAsync(state_, p.getLon(), p.getLat()).then([ctx, chains](BatchAnswer a) mutable {
        auto out = ctx.getResults().initResult();
        const auto n = static_cast<unsigned>(a.leaves.size());
        auto leaves = out.initLeaves(n);
        for (unsigned i = 0; i < n; ++i) leaves.set(i, a.leaves[i]);
        out.setVersion(a.view->version());
        if (!chains) return;
        const View& view = *a.view;
        std::unordered_map<int32_t, int32_t> dict;
        std::vector<int32_t> nodes;
        auto idx = out.initChainIndex(n * kLevelCount);
        for (unsigned i = 0; i < n; ++i) {
          for (int l = 0; l < kLevelCount; ++l) idx.set(i * kLevelCount + l, -1);
          if (a.leaves[i] < 0) continue;
          const Chain c = view.ChainOf(view.dataset().leaf_nodes[a.leaves[i]]);
          for (int k = 0; k < c.size; ++k) {
            auto [it, fresh] = dict.try_emplace(c.nodes[k], static_cast<int32_t>(nodes.size()));
            if (fresh) nodes.push_back(c.nodes[k]);
            idx.set(i * kLevelCount + static_cast<int>(view.level(c.nodes[k])), it->second);
          }
        }
        auto cn = out.initChainNodes(static_cast<unsigned>(nodes.size()));
        for (size_t k = 0; k < nodes.size(); ++k) FillNodeRef(cn[static_cast<unsigned>(k)], view, nodes[k]);
      });
    });
  }

  kj::Promise<void> node(NodeContext ctx) override {
    return state_.Call(conn_, "node", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      FillNodeInfo(ctx.getResults().initNode(), *view, RequireNode(*view, ctx.getParams().getId(), "id"));
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> children(ChildrenContext ctx) override {
    return state_.Call(conn_, "children", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      const int32_t n = RequireNode(*view, ctx.getParams().getId(), "id");
      auto kids = view->Children(n);
      auto out = ctx.getResults().initChildren(static_cast<unsigned>(kids.size()));
      for (size_t i = 0; i < kids.size(); ++i) FillNodeRef(out[static_cast<unsigned>(i)], *view, kids[i]);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> path(PathContext ctx) override {
    return state_.Call(conn_, "path", [this, ctx]() mutable {
      auto view = state_.engine.Read();
      const Chain c = view->ChainOf(RequireNode(*view, ctx.getParams().getId(), "id"));
      FillChain(ctx.getResults().initChain(static_cast<unsigned>(c.size)), *view, c);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> aggregate(AggregateContext ctx) override {
    return state_.Call(conn_, "aggregate", [this, ctx]() mutable {
      auto ids = ctx.getParams().getIds();
      CheckLimit("ids", "ids", ids.size(), state_.options.max_ids_per_call, "max_ids_per_call");
      auto view = state_.engine.Read();
      std::vector<int32_t> nodes;
      for (unsigned i = 0; i < ids.size(); ++i)
        nodes.push_back(RequireNode(*view, ids[i], ("ids[" + std::to_string(i) + "]").c_str()));
      auto res = ctx.getResults();
      auto out = res.initAggregates(ids.size());
      for (unsigned i = 0; i < ids.size(); ++i) FillAggregate(out[i], *view, nodes[i]);
      res.setVersion(view->version());
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> regionAggregate(RegionAggregateContext ctx) override {
    return state_.Call(conn_, "regionAggregate", [this, ctx]() mutable {
      RegionQuery q = RegionQueryFromProto(ctx.getParams().getQuery());
      return RegionAsync(state_, std::move(q)).then([ctx](RegionAnswer a) mutable {
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
      auto metric = view->dataset().MetricIndex(std::string_view(q.getMetric().begin(), q.getMetric().size()));
      if (!metric) ThrowFailed("query.metric: unknown metric \"" + Str(q.getMetric()) + "\"");
      tq.metric = *metric;
      tq.k = q.getK();
      if (tq.k > 100000) ThrowFailed("query.k: at most 100000");
      if (q.getWithin().size() > 0) tq.within = RequireNode(*view, q.getWithin(), "query.within");
      tq.density = q.getDensity();
      return state_.Offload([view, tq]() { return view->TopK(tq); })
          .then([ctx, view](std::vector<TopEntry> entries) mutable {
            auto res = ctx.getResults();
            auto out = res.initEntries(static_cast<unsigned>(entries.size()));
            for (size_t i = 0; i < entries.size(); ++i) {
              FillNodeRef(out[static_cast<unsigned>(i)].initNode(), *view, entries[i].node);
              out[static_cast<unsigned>(i)].setValue(entries[i].value);
            }
            res.setVersion(view->version());
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
      if (second != state_.token_failure_second) {
        state_.token_failure_second = second;
        state_.token_failures_this_second = 0;
      }
      if (conn_->token_failures >= state_.options.max_token_failures_per_connection)
        ThrowFailed("token: too many failed token attempts on this connection");
      if (conn_->token_failures > 0 &&
          state_.token_failures_this_second >= state_.options.max_token_failures_per_second)
        ThrowOverloaded("token: too many failed token attempts on this server; retry in a second");
      auto t = ctx.getParams().getToken();
      if (!TokenEquals(std::string_view(t.begin(), t.size()), state_.options.writer_token)) {
        ++state_.writer_refusals;
        ++state_.token_failures_this_second;
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

  kj::Promise<void> watch(WatchContext ctx) override {
    return state_.Call(conn_, "watch", [this, ctx]() mutable {
      auto p = ctx.getParams();
      auto ids = p.getIds();
      if (ids.size() == 0) ThrowFailed("ids: empty");
      CheckLimit("ids", "ids", ids.size(), state_.options.max_ids_per_call, "max_ids_per_call");
      if (!p.hasCallback()) ThrowFailed("callback: missing");
      auto view = state_.engine.Read();
      Subscription sub{{}, p.getCallback(), false, nullptr};
      for (unsigned i = 0; i < ids.size(); ++i) {
        RequireNode(*view, ids[i], ("ids[" + std::to_string(i) + "]").c_str());
        sub.ids.push_back(Str(ids[i]));
      }
      const uint64_t id = state_.next_subscription++;
      state_.subscriptions.emplace(id, std::move(sub));
      state_.Log("info", "watch", {{"subscription", std::to_string(id)}, {"ids", std::to_string(ids.size())}});
      ctx.getResults().setHandle(kj::heap<WatchHandleImpl>(state_, id, conn_));
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

kj::Promise<BatchAnswer> LocateBatchAsync(ServerState& state, capnp::List<double>::Reader lon,
                                          capnp::List<double>::Reader lat) {
  if (lon.size() != lat.size())
    ThrowFailed("lat: " + std::to_string(lat.size()) + " values but lon has " + std::to_string(lon.size()));
  CheckLimit("lon", "points", lon.size(), state.options.max_points_per_batch, "max_points_per_batch");
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
  state.points_located += xs.size();
  Engine* engine = &state.engine;
  return state.Offload([engine, xs = std::move(xs), ys = std::move(ys)]() {
    BatchAnswer a;
    a.view = engine->Read();
    a.leaves.resize(xs.size());
    if (!xs.empty()) {
      Status s = engine->LocateColumns(xs, ys, a.leaves);
      if (!s.ok()) ThrowStatus(s);
    }
    return a;
  });
}

kj::Promise<RegionAnswer> RegionAsync(ServerState& state, RegionQuery query) {
  Engine* engine = &state.engine;
  return state.Offload([engine, query = std::move(query)]() {
    Result<RegionResult> r = engine->RegionAggregate(query);
    if (!r.ok()) ThrowStatus(r.status());
    return RegionAnswer{engine->Read(), std::move(r).value()};
  });
}

}  // namespace gridtree::rpc::internal
