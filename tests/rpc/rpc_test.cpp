// RPC server tests: every method against the engine's own answers (in-process
// pipe), concurrency, limits, bad bytes, writer tokens, subscriptions and the
// HTTP port (loopback TCP). The crash test lives in rpc_durability_test.cpp.
#include <arpa/inet.h>
#include <capnp/rpc-twoparty.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <kj/compat/http.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "../small_dataset.h"
#include "batch_json.h"
#include "command_output.h"
#include "gridtree/engine/region.h"
#include "gridtree/engine/tiles.h"
#include "gridtree/rpc/client.h"
#include "gridtree/rpc/server.h"
#include "json_doc.h"
#include "objects_json.h"
#include "rpc_test_util.h"

namespace gridtree::testing {
namespace {

std::unique_ptr<Engine> NewEngine(int threads = 2) {
  EngineOptions eo;
  eo.threads = threads;
  auto e = Engine::Create(SmallDataset(10), eo);
  if (!e.ok()) std::abort();
  return std::move(e).value();
}

rpc::ServerOptions QuietOptions(LogCapture* logs = nullptr) {
  rpc::ServerOptions o;
  o.log = [logs](std::string_view l) {
    if (logs) logs->Add(l);
  };
  return o;
}

std::string Str(capnp::Text::Reader t) { return std::string(t.cStr()); }

// Client and server on one event loop, over an in-process pipe.
struct PipeHarness {
  explicit PipeHarness(Engine& engine, rpc::ServerOptions options = QuietOptions())
      : io(kj::setupAsyncIo()), server(engine, options, io.provider->getTimer()) {
    auto pipe = io.provider->newTwoWayPipe();
    server.Accept(kj::mv(pipe.ends[0]));
    client_end = kj::mv(pipe.ends[1]);
    client = kj::heap<capnp::TwoPartyClient>(*client_end);
    gt = client->bootstrap().castAs<proto::GridTree>();
  }
  kj::AsyncIoContext io;
  rpc::Server server;
  kj::Own<kj::AsyncIoStream> client_end;
  kj::Own<capnp::TwoPartyClient> client;
  proto::GridTree::Client gt = nullptr;
  kj::WaitScope& ws() { return io.waitScope; }
};

template <typename P>
kj::Exception ExpectThrows(P&& promise, kj::WaitScope& ws) {
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] { promise.wait(ws); })) { return kj::mv(*e); }
  ADD_FAILURE() << "call succeeded but should have failed";
  return KJ_EXCEPTION(FAILED, "no error");
}

// One test per method, each on a fresh server over an in-process pipe,
// comparing the answer with the engine's own View.
class RpcMethods : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> engine = NewEngine();
  // Held by pointer: kj's members may throw from their destructors, which
  // a gtest fixture's destructor may not declare.
  std::unique_ptr<PipeHarness> harness = std::make_unique<PipeHarness>(*engine);
  PipeHarness& h = *harness;
  std::shared_ptr<const View> view = engine->Read();
  const Dataset& ds = view->dataset();
  kj::WaitScope& ws = h.ws();
};

TEST_F(RpcMethods, Info) {
  // info
  auto info_resp = h.gt.infoRequest().send().wait(ws);
  auto info = info_resp.getInfo();
  EXPECT_EQ(info.getNodes(), static_cast<int64_t>(ds.node_count()));
  EXPECT_EQ(info.getLeaves(), static_cast<int64_t>(ds.leaf_count()));
  EXPECT_EQ(info.getVersion(), view->version());
  EXPECT_EQ(info.getDatasetVersion(), view->dataset_version());
  ASSERT_EQ(info.getMetricNames().size(), ds.metric_count());
  EXPECT_EQ(Str(info.getMetricNames()[0]), ds.metric_names[0]);
  EXPECT_EQ(info.getCountsPerLevel().size(), static_cast<unsigned>(kLevelCount));
  EXPECT_FALSE(info.getWritable());
  // Every limit, each under its own name, as configured.
  const rpc::ServerOptions o = QuietOptions();
  auto lim = info.getLimits();
  EXPECT_EQ(lim.getMaxMessageBytes(), o.max_message_bytes);
  EXPECT_EQ(lim.getMaxPointsPerBatch(), o.max_points_per_batch);
  EXPECT_EQ(lim.getMaxUpdatesPerBatch(), o.max_updates_per_batch);
  EXPECT_EQ(lim.getMaxAggregateIds(), o.max_ids_per_aggregate);
  EXPECT_EQ(lim.getMaxWatchIds(), o.max_ids_per_watch);
  EXPECT_EQ(lim.getMaxTopK(), o.max_top_k);
  EXPECT_EQ(lim.getMaxCallsInFlightPerConnection(), o.max_calls_in_flight_per_connection);
  EXPECT_EQ(lim.getMaxQueuedWork(), o.max_queued_work);
  EXPECT_EQ(lim.getMaxConnections(), o.max_connections);
}

TEST_F(RpcMethods, Locate) {
  // locate: a hit with its chain, a miss, a snapped miss, a bad coordinate
  {
    auto req = h.gt.locateRequest();
    req.setLon(112.055);
    req.setLat(22.035);
    auto r_resp = req.send().wait(ws);
    auto r = r_resp.getResult();
    const LocateResult want = view->Locate({112.055, 22.035});
    ASSERT_TRUE(r.getFound());
    EXPECT_EQ(r.getLeaf(), want.leaf.value);
    EXPECT_EQ(r.getDatasetVersion(), view->dataset_version());
    const Chain c = view->ChainOf(want.node);
    ASSERT_EQ(r.getChain().size(), static_cast<unsigned>(c.size));
    for (int i = 0; i < c.size; ++i) EXPECT_EQ(Str(r.getChain()[i].getId()), view->id(c.nodes[i]));
  }
  {
    auto req = h.gt.locateRequest();
    req.setLon(111.9995);
    req.setLat(22.005);
    auto r_resp = req.send().wait(ws);
    auto r = r_resp.getResult();
    EXPECT_FALSE(r.getFound());
    EXPECT_EQ(r.getLeaf(), -1);
    auto req2 = h.gt.locateRequest();
    req2.setLon(111.9995);
    req2.setLat(22.005);
    req2.setMaxDistanceM(500);
    auto r2_resp = req2.send().wait(ws);
    auto r2 = r2_resp.getResult();
    EXPECT_TRUE(r2.getFound());
    EXPECT_TRUE(r2.getSnapped());
    auto bad = h.gt.locateRequest();
    bad.setLon(NAN);
    auto e = ExpectThrows(bad.send(), ws);
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("lon") != std::string::npos) << e.getDescription().cStr();
  }
}

TEST_F(RpcMethods, LocateBatchWithChains) {
  // locateBatch with chains, against LocateColumns and ChainOf
  {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> ux(111.99, 112.11), uy(21.99, 22.11);
    const unsigned n = 2000;
    std::vector<double> lon(n), lat(n);
    for (unsigned i = 0; i < n; ++i) lon[i] = ux(rng), lat[i] = uy(rng);
    std::vector<LeafId> found(n);
    ASSERT_TRUE(view->LocateColumns(lon, lat, found).ok());
    std::vector<int32_t> want(n);
    for (unsigned i = 0; i < n; ++i) want[i] = found[i].value;
    auto req = h.gt.locateBatchRequest();
    auto l1 = req.initLon(n);
    auto l2 = req.initLat(n);
    for (unsigned i = 0; i < n; ++i) l1.set(i, lon[i]), l2.set(i, lat[i]);
    req.setWithChains(true);
    auto r_resp = req.send().wait(ws);
    auto r = r_resp.getResult();
    // List readers hoisted: every get counts against the traversal limit.
    auto leaves = r.getLeaves();
    auto chain_index = r.getChainIndex();
    auto chain_nodes = r.getChainNodes();
    ASSERT_EQ(leaves.size(), n);
    ASSERT_EQ(chain_index.size(), n * kLevelCount);
    int hits = 0;
    for (unsigned i = 0; i < n; ++i) {
      ASSERT_EQ(leaves[i], want[i]) << i;
      if (want[i] < 0) continue;
      ++hits;
      const Chain c = view->ChainOf(view->NodeOf(found[i]));
      for (int k = 0; k < c.size; ++k) {
        const int lvl = static_cast<int>(view->level(c.nodes[k]));
        const int32_t at = chain_index[i * kLevelCount + lvl];
        ASSERT_GE(at, 0);
        EXPECT_EQ(chain_nodes[at].getNumber(), c.nodes[k].value);
        EXPECT_EQ(Str(chain_nodes[at].getId()), view->id(c.nodes[k]));
      }
    }
    EXPECT_GT(hits, 1000);
    EXPECT_EQ(r.getDatasetVersion(), view->dataset_version());
    // the client-side splitter gives the same
    auto split = rpc::LocateColumns(h.gt, lon, lat).wait(ws);
    EXPECT_EQ(split, want);
  }
}

TEST_F(RpcMethods, NodeChildrenAndPath) {
  // node, children, path
  {
    const NodeId k1 = *view->Find("k1");
    auto req = h.gt.nodeRequest();
    req.setId("k1");
    auto n_resp = req.send().wait(ws);
    auto n = n_resp.getNode();
    EXPECT_EQ(Str(n.getNode().getId()), "k1");
    EXPECT_EQ(n.getNode().getLevel(), proto::Level::COUNTY);
    EXPECT_EQ(Str(n.getParent()), "c");
    EXPECT_EQ(n.getChildCount(), view->Children(k1).size());
    EXPECT_EQ(n.getLeaf(), -1);
    ASSERT_EQ(n.getMetrics().size(), ds.metric_count());
    for (unsigned m = 0; m < ds.metric_count(); ++m) EXPECT_EQ(n.getMetrics()[m], view->Metric(k1, static_cast<int>(m)));

    auto creq = h.gt.childrenRequest();
    creq.setId("k1");
    auto kids_resp = creq.send().wait(ws);
    auto kids = kids_resp.getChildren();
    ASSERT_EQ(kids.size(), view->Children(k1).size());
    for (unsigned i = 0; i < kids.size(); ++i) EXPECT_EQ(kids[i].getNumber(), view->Children(k1)[i].value);
    EXPECT_EQ(kids_resp.getDatasetVersion(), view->dataset_version());

    auto preq = h.gt.pathRequest();
    preq.setId("g3_2");
    auto chain_resp = preq.send().wait(ws);
    auto chain = chain_resp.getChain();
    const Chain c = view->ChainOf(*view->Find("g3_2"));
    ASSERT_EQ(chain.size(), static_cast<unsigned>(c.size));
    EXPECT_EQ(Str(chain[0].getId()), "c");
    EXPECT_EQ(Str(chain[c.size - 1].getId()), "g3_2");

    auto bad = h.gt.nodeRequest();
    bad.setId("nope");
    auto e = ExpectThrows(bad.send(), ws);
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    EXPECT_EQ(std::string(e.getDescription().cStr()), "remote exception: not found: id: unknown node id \"nope\"");
  }
}

TEST_F(RpcMethods, Aggregate) {
  // aggregate
  {
    auto req = h.gt.aggregateRequest();
    auto ids = req.initIds(3);
    ids.set(0, "c");
    ids.set(1, "k2");
    ids.set(2, "g0_0");
    auto r = req.send().wait(ws);
    ASSERT_EQ(r.getAggregates().size(), 3u);
    for (unsigned i = 0; i < 3; ++i) {
      const NodeId node = *view->Find(Str(r.getAggregates()[i].getNode().getId()));
      const auto want = view->Aggregate(node);
      ASSERT_EQ(r.getAggregates()[i].getValues().size(), want.size());
      for (unsigned m = 0; m < want.size(); ++m) EXPECT_EQ(r.getAggregates()[i].getValues()[m], want[m]);
    }
  }
}

TEST_F(RpcMethods, RegionAggregate) {
  // regionAggregate: box, circle, polygon; modes; group by
  {
    auto check = [&](const RegionQuery& q, auto fill) {
      auto want = view->RegionAggregate(q);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      auto req = h.gt.regionAggregateRequest();
      fill(req.initQuery());
      auto r_resp = req.send().wait(ws);
      auto r = r_resp.getResult();
      ASSERT_EQ(r.getTotal().size(), want->total.size());
      for (unsigned m = 0; m < want->total.size(); ++m) EXPECT_DOUBLE_EQ(r.getTotal()[m], want->total[m]);
      EXPECT_EQ(r.getLeaves(), want->leaves);
      EXPECT_EQ(r.getDatasetVersion(), want->dataset_version);
      ASSERT_EQ(r.getCounts().size(), want->counts.size());
      for (unsigned m = 0; m < want->counts.size(); ++m) EXPECT_EQ(r.getCounts()[m], want->counts[m]);
      ASSERT_EQ(r.getRows().size(), want->rows.size());
      for (unsigned i = 0; i < want->rows.size(); ++i) {
        EXPECT_EQ(r.getRows()[i].getNode().getNumber(), want->rows[i].node.value);
        for (unsigned m = 0; m < want->rows[i].values.size(); ++m)
          EXPECT_DOUBLE_EQ(r.getRows()[i].getValues()[m], want->rows[i].values[m]);
      }
    };
    RegionQuery q;
    q.region = BoxRegion(112.015, 22.015, 112.045, 22.075);
    q.group_by = Level::kCommunity;
    check(q, [](proto::RegionQuery::Builder b) {
      auto box = b.initRegion().initBox();
      box.setWest(112.015), box.setSouth(22.015), box.setEast(112.045), box.setNorth(22.075);
      b.getGroupBy().setLevel(proto::Level::COMMUNITY);
    });
    q = RegionQuery{};
    q.region = CircleRegion(112.05, 22.05, 2000);
    q.mode = RegionMode::kAreaWeighted;
    check(q, [](proto::RegionQuery::Builder b) {
      auto c = b.initRegion().initCircle();
      c.setLon(112.05), c.setLat(22.05), c.setRadiusM(2000);
      b.setMode(proto::RegionMode::AREA_WEIGHTED);
    });
    q = RegionQuery{};
    index::MultiPolygon mp;
    mp.parts.push_back({{{{112.0, 22.0}, {112.05, 22.0}, {112.05, 22.05}, {112.0, 22.05}}}});
    q.region = PolygonRegion(mp).value();
    q.mode = RegionMode::kContained;
    check(q, [](proto::RegionQuery::Builder b) {
      auto ring = b.initRegion().initPolygon(1)[0].initRings(1)[0].initPoints(5);
      const double xy[5][2] = {{112.0, 22.0}, {112.05, 22.0}, {112.05, 22.05}, {112.0, 22.05}, {112.0, 22.0}};
      for (unsigned i = 0; i < 5; ++i) ring[i].setLon(xy[i][0]), ring[i].setLat(xy[i][1]);
      b.setMode(proto::RegionMode::CONTAINED);
    });
    auto bad = h.gt.regionAggregateRequest();
    bad.initQuery().initRegion().initCircle().setRadiusM(-1);
    auto e = ExpectThrows(bad.send(), ws);
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("radiusM") != std::string::npos);
  }
}

TEST_F(RpcMethods, TopK) {
  // topK
  {
    TopKQuery tq;
    tq.level = Level::kGrid;
    tq.metric = 0;
    tq.k = 5;
    const std::vector<TopEntry> want = view->TopK(tq)->entries;
    auto req = h.gt.topKRequest();
    auto q = req.initQuery();
    q.setLevel(proto::Level::GRID);
    q.setMetric(ds.metric_names[0]);
    q.setK(5);
    auto r = req.send().wait(ws);
    ASSERT_EQ(r.getEntries().size(), want.size());
    EXPECT_EQ(r.getDatasetVersion(), view->dataset_version());
    for (unsigned i = 0; i < want.size(); ++i) {
      EXPECT_EQ(r.getEntries()[i].getNode().getNumber(), want[i].node.value);
      EXPECT_EQ(r.getEntries()[i].getCount(), want[i].value);  // exact
    }
    auto big = h.gt.topKRequest();
    big.initQuery().setMetric(ds.metric_names[0]);
    big.getQuery().setK(100001);
    auto too_many = ExpectThrows(big.send(), ws);
    EXPECT_EQ(std::string(too_many.getDescription().cStr()), "remote exception: query.k: 100001 entries exceed max_top_k 100000");
    auto bad = h.gt.topKRequest();
    bad.initQuery().setMetric("nope");
    auto e = ExpectThrows(bad.send(), ws);
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("query.metric") != std::string::npos);
  }
}

TEST(RpcLimits, BatchOverTheLimitIsRefusedAndTheClientSplits) {
  auto engine = NewEngine();
  rpc::ServerOptions o = QuietOptions();
  o.max_points_per_batch = 1000;
  o.max_message_bytes = 1 << 20;
  ServerThread server(*engine, o);
  rpc::Client client(server.address(), rpc::ClientOptions{1 << 20, 4});
  auto& ws = client.wait_scope();
  {
    auto req = client.gridtree().locateBatchRequest();
    req.initLon(1001);
    req.initLat(1001);
    auto e = ExpectThrows(req.send(), ws);
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("max_points_per_batch") != std::string::npos)
        << e.getDescription().cStr();
  }
  {
    auto req = client.gridtree().locateBatchRequest();
    req.initLon(10);
    req.initLat(9);
    auto e = ExpectThrows(req.send(), ws);
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("lat") != std::string::npos);
  }
  // 25'000 points: 25 calls under the point limit, pipelined.
  std::vector<double> lon(25000), lat(25000);
  for (size_t i = 0; i < lon.size(); ++i) lon[i] = 112.0 + (i % 997) * 1e-4, lat[i] = 22.0 + (i % 1009) * 1e-4;
  std::vector<LeafId> found(lon.size());
  ASSERT_TRUE(engine->Read()->LocateColumns(lon, lat, found).ok());
  std::vector<int32_t> want(found.size());
  for (size_t i = 0; i < found.size(); ++i) want[i] = found[i].value;
  EXPECT_EQ(client.LocateColumnsSync(lon, lat), want);

  // A client that sends more than the server's message limit is cut off; others carry on.
  {
    rpc::Client big(server.address(), rpc::ClientOptions{64 << 20, 1});
    auto req = big.gridtree().locateBatchRequest();
    req.initLon(100000);
    req.initLat(100000);
    auto e = ExpectThrows(req.send(), big.wait_scope());
    EXPECT_NE(e.getType(), kj::Exception::Type::OVERLOADED);
  }
  auto info = client.gridtree().infoRequest().send().wait(ws);
  EXPECT_EQ(info.getInfo().getLimits().getMaxPointsPerBatch(), 1000u);
}

// An answer that would not fit the message limit is refused before it is
// built, naming withChains, and counted as an error; the same points
// without chains fit.
TEST(RpcLimits, AnAnswerTooLargeForTheMessageLimitIsRefusedByName) {
  auto engine = NewEngine();
  rpc::ServerOptions o = QuietOptions();
  o.max_message_bytes = 1 << 20;
  PipeHarness h(*engine, o);
  auto& ws = h.ws();
  const unsigned n = 40000;  // 640 KB asked; with chains ~1.1 MB to answer, without 160 KB
  auto ask = [&](bool chains) {
    auto req = h.gt.locateBatchRequest();
    auto lon = req.initLon(n);
    auto lat = req.initLat(n);
    for (unsigned i = 0; i < n; ++i) lon.set(i, 112.0 + (i % 97) * 1e-3), lat.set(i, 22.0 + (i % 89) * 1e-3);
    req.setWithChains(chains);
    return req.send();
  };
  auto e = ExpectThrows(ask(true), ws);
  EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
  const std::string message = e.getDescription().cStr();
  EXPECT_NE(message.find("locateBatch: the answer for 40000 points would take "), std::string::npos) << message;
  EXPECT_NE(message.find("set withChains = false"), std::string::npos) << message;
  EXPECT_NE(message.find("over max_message_bytes 1048576"), std::string::npos) << message;
  EXPECT_EQ(ask(false).wait(ws).getResult().getLeaves().size(), n);
  // The refusal is an error in the metrics, not a success.
  EXPECT_NE(h.server.MetricsText().find("gridtree_errors_total{method=\"locateBatch\"} 1"), std::string::npos)
      << h.server.MetricsText();
}

// Every answer that grows with the request or the data is sized before it
// is built: past the message limit it is a FAILED naming the method, the
// size, the limit and how to ask for less, counted in gridtree_errors_total
// and logged as call_error; the same query asked smaller is answered.
TEST(RpcLimits, LargeTopKAndRegionAnswersAreRefusedByNameCountedAndLogged) {
  EngineOptions eo;
  eo.threads = 2;
  auto created = Engine::Create(SmallDataset(20), eo);  // 400 grids
  ASSERT_TRUE(created.ok());
  auto engine = std::move(created).value();
  LogCapture logs;
  rpc::ServerOptions o = QuietOptions(&logs);
  o.max_message_bytes = 8192;  // 1024 words: about 100 top entries
  PipeHarness h(*engine, o);
  auto& ws = h.ws();
  const std::string metric = engine->Read()->dataset().metric_names[0];
  auto topk = [&](uint32_t k) {
    auto req = h.gt.topKRequest();
    auto q = req.initQuery();
    q.setLevel(proto::Level::GRID);
    q.setMetric(metric);
    q.setK(k);
    return req.send();
  };
  auto e = ExpectThrows(topk(400), ws);
  EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
  std::string message = e.getDescription().cStr();
  EXPECT_NE(message.find("topK: the answer with 400 entries would take "), std::string::npos) << message;
  EXPECT_NE(message.find(" bytes, over max_message_bytes 8192; ask for a smaller k"), std::string::npos) << message;
  EXPECT_EQ(topk(10).wait(ws).getEntries().size(), 10u);

  auto region = [&](proto::Level level) {
    auto req = h.gt.regionAggregateRequest();
    auto q = req.initQuery();
    auto box = q.initRegion().initBox();
    box.setWest(111.9), box.setSouth(21.9), box.setEast(112.5), box.setNorth(22.5);
    q.getGroupBy().setLevel(level);
    return req.send();
  };
  auto refused = ExpectThrows(region(proto::Level::GRID), ws);
  EXPECT_EQ(refused.getType(), kj::Exception::Type::FAILED);
  message = refused.getDescription().cStr();
  EXPECT_NE(message.find("regionAggregate: the answer with 400 rows would take "), std::string::npos) << message;
  EXPECT_NE(message.find("over max_message_bytes 8192; use a smaller region, or groupBy a coarser level"),
            std::string::npos)
      << message;
  EXPECT_GT(region(proto::Level::COUNTY).wait(ws).getResult().getRows().size(), 0u);

  const std::string metrics = h.server.MetricsText();
  EXPECT_NE(metrics.find("gridtree_errors_total{method=\"topK\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("gridtree_errors_total{method=\"regionAggregate\"} 1\n"), std::string::npos) << metrics;
  EXPECT_TRUE(logs.Contains("event=call_error method=topK type=failed")) << logs.All();
  EXPECT_TRUE(logs.Contains("event=call_error method=regionAggregate type=failed")) << logs.All();
}

// node (one value a metric, and tracked kinds add metrics), objectKinds (a
// row a kind) and locate (the chain's ids and names) are sized before they
// are built too, like every answer that can grow.
TEST(RpcLimits, NodeObjectKindsAndLocateAnswersAreSizedToo) {
  auto engine = NewEngine();
  LogCapture logs;
  rpc::ServerOptions o = QuietOptions(&logs);
  o.writer_token = "tok";
  o.max_message_bytes = 8 * (64 + 60);  // 60 words for the answer's content
  {
    PipeHarness h(*engine, o);
    auto& ws = h.ws();
    auto wreq = h.gt.writerRequest();
    wreq.setToken("tok");
    auto writer = wreq.send().getWriter();
    auto track = [&](int kinds) {  // a boat of each of `kinds` kinds
      auto t = writer.trackRequest();
      auto reports = t.initReports(static_cast<unsigned>(kinds));
      for (int i = 0; i < kinds; ++i) {
        auto r = reports[static_cast<unsigned>(i)];
        r.setId("b" + std::to_string(i)), r.setKind("k" + std::to_string(i));
        r.setLon(112.0005 + i * 0.001), r.setLat(22.0005);
      }
      t.send().wait(ws);
    };
    auto node = [&] {
      auto req = h.gt.nodeRequest();
      req.setId("c");
      return req.send();
    };
    auto kinds = [&] { return h.gt.objectKindsRequest().send(); };
    track(1);
    const unsigned metrics = node().wait(ws).getNode().getMetrics().size();
    EXPECT_EQ(kinds().wait(ws).getKinds().size(), 1u);
    track(64);  // 63 more metrics, 63 more kinds
    auto e = ExpectThrows(node(), ws);
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    std::string message = e.getDescription().cStr();
    EXPECT_NE(message.find("node: the answer with " + std::to_string(metrics + 63) + " metrics would take "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find(" bytes, over max_message_bytes 992; raise the server's --max-message-bytes"),
              std::string::npos)
        << message;
    auto refused = ExpectThrows(kinds(), ws);
    EXPECT_EQ(refused.getType(), kj::Exception::Type::FAILED);
    message = refused.getDescription().cStr();
    EXPECT_NE(message.find("objectKinds: the answer with 64 kinds would take "), std::string::npos) << message;
    EXPECT_NE(message.find("over max_message_bytes 992; raise"), std::string::npos) << message;
  }
  o.max_message_bytes = 8 * (64 + 8);  // a miss (7 words), not a chain
  {
    PipeHarness h(*engine, o);
    auto& ws = h.ws();
    auto locate = [&](double lon, double lat) {
      auto req = h.gt.locateRequest();
      req.setLon(lon), req.setLat(lat);
      return req.send();
    };
    EXPECT_FALSE(locate(0, 0).wait(ws).getResult().getFound());
    auto e = ExpectThrows(locate(112.0005, 22.0005), ws);
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    const std::string message = e.getDescription().cStr();
    EXPECT_NE(message.find("locate: the answer would take "), std::string::npos) << message;
    EXPECT_NE(message.find("over max_message_bytes 576; raise"), std::string::npos) << message;
  }
  EXPECT_TRUE(logs.Contains("event=call_error method=node type=failed")) << logs.All();
  EXPECT_TRUE(logs.Contains("event=call_error method=objectKinds type=failed")) << logs.All();
  EXPECT_TRUE(logs.Contains("event=call_error method=locate type=failed")) << logs.All();
}

// Tracks `count` boats, "boat-<first + i>", spread over the leaves of
// SmallDataset(10), `per_call` reports a call; their ids.
std::set<std::string> TrackBoats(proto::Writer::Client& writer, kj::WaitScope& ws, int first, int count, int per_call) {
  std::set<std::string> ids;
  for (int b = 0; b < count; b += per_call) {
    const int n = std::min(per_call, count - b);
    auto t = writer.trackRequest();
    auto reports = t.initReports(static_cast<unsigned>(n));
    for (int i = 0; i < n; ++i) {
      const int k = b + i;
      const std::string id = "boat-" + std::to_string(first + k);
      ids.insert(id);
      auto r = reports[static_cast<unsigned>(i)];
      r.setId(id), r.setKind("boat");
      r.setLon(112.0005 + (k % 97) * 0.001), r.setLat(22.0005 + (k % 89) * 0.001);
    }
    t.send().wait(ws);
  }
  return ids;
}

// 5,000 tracked objects do not fit one answer under a 256 KiB limit: the
// objects call says how to page (and counts, and logs), the client library
// pages, and `gridtree call objects --json` prints every one of them.
TEST(RpcLimits, ObjectsPastTheMessageLimitArePagedByTheClient) {
  auto engine = NewEngine();
  LogCapture logs;
  rpc::ServerOptions o = QuietOptions(&logs);
  o.max_message_bytes = 256 << 10;
  o.writer_token = "tok";
  ServerThread server(*engine, o);
  rpc::Client c(server.address(), rpc::ClientOptions{256 << 10, 1});
  auto& ws = c.wait_scope();
  auto wreq = c.gridtree().writerRequest();
  wreq.setToken("tok");
  auto writer = wreq.send().getWriter();
  constexpr int kObjects = 5000;
  const std::set<std::string> tracked = TrackBoats(writer, ws, 100000, kObjects, 500);
  ASSERT_EQ(tracked.size(), static_cast<size_t>(kObjects));
  {
    auto req = c.gridtree().objectsRequest();
    req.initQuery().setLimit(kObjects);
    auto e = ExpectThrows(req.send(), ws);
    EXPECT_EQ(e.getType(), kj::Exception::Type::FAILED);
    const std::string message = e.getDescription().cStr();
    EXPECT_NE(message.find("objects: the answer with 5000 objects would take "), std::string::npos) << message;
    EXPECT_NE(message.find("over max_message_bytes 262144; page through them with query.offset and a smaller query.limit"),
              std::string::npos)
        << message;
  }
  {  // the library pages: every object once, in id order
    capnp::MallocMessageBuilder query;
    query.initRoot<proto::ObjectQuery>();
    const rpc::ObjectPages all =
        rpc::ObjectsPaged(c.gridtree(), query.getRoot<proto::ObjectQuery>().asReader(), 0, 0, c.options()).wait(ws);
    EXPECT_EQ(all.total, static_cast<uint64_t>(kObjects));
    EXPECT_GT(all.pages.size(), 1u);
    std::vector<std::string> got;
    for (const auto& page : all.pages)
      for (auto obj : page.getObjects()) got.emplace_back(obj.getId().cStr());
    EXPECT_EQ(got, std::vector<std::string>(tracked.begin(), tracked.end()));
    const rpc::ObjectPages some =
        rpc::ObjectsPaged(c.gridtree(), query.getRoot<proto::ObjectQuery>().asReader(), 10, 1500, c.options()).wait(ws);
    ASSERT_EQ(some.size(), 1500u);
    EXPECT_EQ(std::string(some.pages[0].getObjects()[0].getId().cStr()), *std::next(tracked.begin(), 10));
  }
  // The command line: every tracked id once, with the total.
  const std::string call = std::string(GRIDTREE_BINARY) + " call --connect " + server.address() +
                           " --max-message-bytes 262144 objects --node c --json";
  const std::vector<std::string> in_order(tracked.begin(), tracked.end());
  ListedObjects listed;
  ASSERT_TRUE(ParseObjectsJson(CommandOutput(call), listed));
  EXPECT_EQ(listed.total, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(listed.total, listed.ids.size());
  EXPECT_EQ(listed.ids, in_order);  // each once, in id order
  // ... and at the default limit, where one answer would hold them all.
  ListedObjects all_default;
  ASSERT_TRUE(ParseObjectsJson(CommandOutput(std::string(GRIDTREE_BINARY) + " call --connect " + server.address() +
                                             " objects --node c --json"),
                               all_default));
  EXPECT_EQ(all_default.total, all_default.ids.size());
  EXPECT_EQ(all_default.ids, in_order);
  server.Stop();
  EXPECT_NE(server.final_metrics().find("gridtree_errors_total{method=\"objects\"} 1\n"), std::string::npos)
      << server.final_metrics();
  EXPECT_TRUE(logs.Contains("event=call_error method=objects type=failed")) << logs.All();
}

TEST(RpcLimits, CallsInFlightPastTheLimitAreOverloaded) {
  auto engine = NewEngine();
  rpc::ServerOptions o = QuietOptions();
  o.max_calls_in_flight_per_connection = 1;
  ServerThread server(*engine, o);
  rpc::Client client(server.address());
  std::vector<double> lon(20000, 112.05), lat(20000, 22.05);
  kj::Vector<kj::Promise<int>> calls;
  for (int i = 0; i < 64; ++i) {
    auto req = client.gridtree().locateBatchRequest();
    auto a = req.initLon(static_cast<unsigned>(lon.size()));
    auto b = req.initLat(static_cast<unsigned>(lat.size()));
    for (unsigned k = 0; k < lon.size(); ++k) a.set(k, lon[k]), b.set(k, lat[k]);
    calls.add(req.send().then([](auto&&) { return 0; },
                              [](kj::Exception&& e) { return e.getType() == kj::Exception::Type::OVERLOADED ? 1 : 2; }));
  }
  auto results = kj::joinPromises(calls.releaseAsArray()).wait(client.wait_scope());
  int ok = 0, overloaded = 0, other = 0;
  for (int r : results) (r == 0 ? ok : r == 1 ? overloaded : other)++;
  EXPECT_GE(ok, 1);
  EXPECT_GE(overloaded, 1);
  EXPECT_EQ(other, 0);
  // and the connection still answers
  EXPECT_EQ(client.gridtree().infoRequest().send().wait(client.wait_scope()).getInfo().getLeaves(),
            static_cast<int64_t>(engine->Read()->dataset().leaf_count()));
}

TEST(RpcConcurrency, EightClientsWithPipelinedCalls) {
  auto engine = NewEngine();
  ServerThread server(*engine, QuietOptions());
  std::atomic<int> good{0}, bad{0};
  std::vector<std::thread> clients;
  auto view = engine->Read();
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      rpc::Client client(server.address());
      auto& gt = client.gridtree();
      kj::Vector<kj::Promise<bool>> calls;
      for (int i = 0; i < 60; ++i) {
        const int gi = (t * 7 + i) % 10, gj = (t * 3 + i * 5) % 10;
        const double x = 112.0 + gi * 0.01 + 0.005, y = 22.0 + gj * 0.01 + 0.005;
        const std::string want = view->Locate({x, y}).hit() ? std::string(view->id(view->Locate({x, y}).node)) : "";
        switch (i % 3) {
          case 0: {
            auto req = gt.locateRequest();
            req.setLon(x), req.setLat(y);
            calls.add(req.send().then([want](auto r) {
              auto c = r.getResult().getChain();
              return want.empty() ? !r.getResult().getFound() : Str(c[c.size() - 1].getId()) == want;
            }));
            break;
          }
          case 1: {
            auto req = gt.locateBatchRequest();
            auto a = req.initLon(100);
            auto b = req.initLat(100);
            for (unsigned k = 0; k < 100; ++k) a.set(k, x), b.set(k, y);
            const int32_t leaf = view->Locate({x, y}).leaf.value;
            calls.add(req.send().then([leaf](auto r) {
              for (int32_t l : r.getResult().getLeaves())
                if (l != leaf) return false;
              return true;
            }));
            break;
          }
          default: {
            auto req = gt.aggregateRequest();
            req.initIds(1).set(0, "k2");
            const int64_t pop = view->Metric(*view->Find("k2"), 0);
            calls.add(req.send().then([pop](auto r) { return r.getAggregates()[0].getValues()[0] == pop; }));
          }
        }
      }
      for (bool b : kj::joinPromises(calls.releaseAsArray()).wait(client.wait_scope())) (b ? good : bad)++;
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(good.load(), 8 * 60);
  EXPECT_EQ(bad.load(), 0);
}

TEST(RpcRobustness, GarbageAndTruncatedMessagesDoNotStopTheServer) {
  auto engine = NewEngine();
  LogCapture logs;
  ServerThread server(*engine, QuietOptions(&logs));
  rpc::Client good(server.address());
  auto info = [&] { return good.gridtree().infoRequest().send().wait(good.wait_scope()).getInfo().getNodes(); };
  const int64_t nodes = info();
  // Random garbage.
  {
    const int fd = ConnectLoopback(server.port());
    ASSERT_GE(fd, 0);
    std::mt19937 rng(1);
    std::vector<unsigned char> junk(8192);
    for (auto& b : junk) b = static_cast<unsigned char>(rng());
    ASSERT_GT(::write(fd, junk.data(), junk.size()), 0);
    char buf[256];
    while (::read(fd, buf, sizeof buf) > 0) {
    }  // the server closes
    ::close(fd);
  }
  EXPECT_EQ(info(), nodes);
  // A frame header announcing a huge segment, then silence and close.
  {
    const int fd = ConnectLoopback(server.port());
    ASSERT_GE(fd, 0);
    const uint32_t header[2] = {0, 1u << 28};  // one segment of 2^28 words
    ASSERT_EQ(::write(fd, header, sizeof header), static_cast<ssize_t>(sizeof header));
    char buf[256];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    ::close(fd);
  }
  EXPECT_EQ(info(), nodes);
  // A valid-looking frame cut short.
  {
    const int fd = ConnectLoopback(server.port());
    ASSERT_GE(fd, 0);
    const uint32_t header[2] = {0, 64};
    ASSERT_EQ(::write(fd, header, sizeof header), static_cast<ssize_t>(sizeof header));
    const char part[40] = {1, 2, 3};
    ASSERT_EQ(::write(fd, part, sizeof part), static_cast<ssize_t>(sizeof part));
    ::close(fd);
  }
  EXPECT_EQ(info(), nodes);
}

TEST(RpcWriter, TokensAreCheckedAndNeverLogged) {
  auto engine = NewEngine();
  {  // no token configured: read-only
    ServerThread server(*engine, QuietOptions());
    rpc::Client c(server.address());
    auto req = c.gridtree().writerRequest();
    req.setToken("anything");
    auto apply = req.send().getWriter().applyRequest();
    apply.initUpdates(1);
    auto e = ExpectThrows(apply.send(), c.wait_scope());
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("read-only") != std::string::npos);
  }
  LogCapture logs;
  rpc::ServerOptions o = QuietOptions(&logs);
  o.writer_token = "s3cret-token-value";
  ServerThread server(*engine, o);
  rpc::Client c(server.address());
  auto& ws = c.wait_scope();
  {
    auto req = c.gridtree().writerRequest();
    req.setToken("wrong-guess-xyz");
    auto apply = req.send().getWriter().applyRequest();
    auto u = apply.initUpdates(1)[0];
    u.setLeaf("g0_0"), u.setMetric("population"), u.setValue(1);
    auto e = ExpectThrows(apply.send(), ws);
    EXPECT_TRUE(std::string(e.getDescription().cStr()).find("refused") != std::string::npos);
    EXPECT_TRUE(logs.Contains("event=writer_refused"));
    EXPECT_FALSE(logs.Contains("wrong-guess-xyz")) << logs.All();
  }
  const NodeId g = *engine->Read()->Find("g0_0");
  const int64_t before = engine->Read()->Metric(g, 0);
  auto req = c.gridtree().writerRequest();
  req.setToken("s3cret-token-value");
  auto writer = req.send().getWriter();
  auto apply = writer.applyRequest();
  auto ups = apply.initUpdates(2);
  ups[0].setLeaf("g0_0"), ups[0].setMetric("population"), ups[0].setOp(proto::MetricUpdate::Op::ADD), ups[0].setValue(5);
  ups[1].setLeaf("g0_1"), ups[1].setMetric("population"), ups[1].setValue(7);
  const uint64_t v = apply.send().wait(ws).getVersion();
  EXPECT_EQ(v, engine->Read()->version());
  EXPECT_EQ(engine->Read()->Metric(g, 0), before + 5);
  // a bad update names the field, and the whole batch is refused
  auto bad = writer.applyRequest();
  auto b = bad.initUpdates(1)[0];
  b.setLeaf("g0_0"), b.setMetric("population"), b.setValue(-3);
  auto e = ExpectThrows(bad.send(), ws);
  EXPECT_TRUE(std::string(e.getDescription().cStr()).find("updates[0].value") != std::string::npos);
  EXPECT_FALSE(logs.Contains("s3cret-token-value"));
}

struct Pushed {
  uint64_t dataset_version = 0;
  uint64_t version = 0;
  int64_t value = 0;
};

class CollectingWatcher final : public proto::Watcher::Server {
 public:
  explicit CollectingWatcher(std::vector<Pushed>* got) : got_(got) {}
  kj::Promise<void> push(PushContext ctx) override {
    auto p = ctx.getParams();
    for (auto a : p.getNodes()) got_->push_back({p.getDatasetVersion(), p.getVersion(), a.getValues()[0]});
    return kj::READY_NOW;
  }

 private:
  std::vector<Pushed>* got_;
};

TEST(RpcWatch, SubscriptionsReceivePushesUntilReleased) {
  auto engine = NewEngine();
  rpc::ServerOptions o = QuietOptions();
  o.writer_token = "tok";
  PipeHarness h(*engine, o);
  auto& ws = h.ws();
  std::vector<Pushed> got;
  auto wreq = h.gt.watchRequest();
  wreq.initIds(1).set(0, "k1");
  wreq.setCallback(kj::heap<CollectingWatcher>(&got));
  auto handle = wreq.send().wait(ws).getHandle();  // the response must not keep a reference
  auto treq = h.gt.writerRequest();
  treq.setToken("tok");
  auto writer = treq.send().getWriter();
  auto apply = [&](const char* leaf, int64_t add) {
    auto a = writer.applyRequest();
    auto u = a.initUpdates(1)[0];
    u.setLeaf(leaf), u.setMetric("population"), u.setOp(proto::MetricUpdate::Op::ADD), u.setValue(add);
    return a.send().wait(ws).getVersion();
  };
  const int64_t k1 = engine->Read()->Metric(*engine->Read()->Find("k1"), 0);
  const uint64_t v1 = apply("g0_0", 10);  // inside k1
  auto settle = [&] { h.io.provider->getTimer().afterDelay(50 * kj::MILLISECONDS).wait(ws); };
  settle();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].dataset_version, 1u);
  EXPECT_EQ(got[0].version, v1);
  EXPECT_EQ(got[0].value, k1 + 10);
  apply("g9_0", 1);  // in k2: no push for k1
  settle();
  EXPECT_EQ(got.size(), 1u) << got.back().version << " " << got.back().value;
  // A reload is a change to everything watched: pushed with the new dataset
  // version (and its metric version 0, which is newer: the pair only grows).
  const std::string path = ::testing::TempDir() + "/rpc_watch_reload.geojson";
  std::ofstream(path) << SmallDatasetGeoJson(8);
  auto reload = writer.reloadRequest();
  reload.setPath(path);
  EXPECT_EQ(reload.send().wait(ws).getDatasetVersion(), 2u);
  settle();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].dataset_version, 2u);
  EXPECT_EQ(got[1].version, 0u);
  const Dataset eight = SmallDataset(8);  // the oracle: k1's leaves in the file, summed
  int64_t want = 0;
  for (size_t l = 0; l < eight.leaf_count(); ++l) {
    int32_t v = eight.leaf_nodes[l];
    while (v >= 0 && eight.ids[v] != "k1") v = eight.parents[v];
    if (v >= 0) want += eight.leaf_metrics[l * eight.metric_count()];
  }
  EXPECT_EQ(got[1].value, want);
  std::remove(path.c_str());
  handle = nullptr;  // releasing the handle unsubscribes
  settle();
  apply("g0_0", 1);
  settle();
  EXPECT_EQ(got.size(), 2u);
}

class CollectingSink final : public proto::EventSink::Server {
 public:
  explicit CollectingSink(std::set<std::string>* objects = nullptr, int* pushes = nullptr)
      : objects_(objects), pushes_(pushes) {}
  kj::Promise<void> push(PushContext ctx) override {
    if (pushes_) ++*pushes_;
    if (objects_)
      for (auto e : ctx.getParams().getEvents()) objects_->insert(e.getObjectId().cStr());
    return kj::READY_NOW;
  }

 private:
  std::set<std::string>* objects_;
  int* pushes_;
};

// Events that do not fit one message under the limit go out in several
// pushes; the subscription is not dropped for it.
TEST(RpcWatch, EventsPastTheMessageLimitArriveInSeveralPushes) {
  auto engine = NewEngine();
  LogCapture logs;
  rpc::ServerOptions o = QuietOptions(&logs);
  o.max_message_bytes = 8192;
  o.writer_token = "tok";
  PipeHarness h(*engine, o);
  auto& ws = h.ws();
  std::set<std::string> seen;
  int pushes = 0;
  auto ereq = h.gt.eventsRequest();
  ereq.setSink(kj::heap<CollectingSink>(&seen, &pushes));
  auto handle = ereq.send().wait(ws).getHandle();
  auto wreq = h.gt.writerRequest();
  wreq.setToken("tok");
  auto writer = wreq.send().getWriter();
  // ~250 events of ~10 words a batch: 2 messages' worth.
  const std::set<std::string> tracked = TrackBoats(writer, ws, 0, 200, 50);
  for (int i = 0; i < 100 && seen.size() < tracked.size(); ++i)
    h.io.provider->getTimer().afterDelay(10 * kj::MILLISECONDS).wait(ws);
  EXPECT_EQ(seen, tracked);
  EXPECT_GT(pushes, 1);
  EXPECT_FALSE(logs.Contains("events_sink_failed")) << logs.All();
}

// cancel() frees the subscription's slot on the connection at once (a
// client library that never releases handles is not stuck at the limit),
// and releasing the cancelled handle later does not free it again.
TEST(RpcWatch, CancelFreesTheSlotOnceWithoutARelease) {
  auto engine = NewEngine();
  rpc::ServerOptions o = QuietOptions();
  o.max_watches_per_connection = 4;
  PipeHarness h(*engine, o);
  auto& ws = h.ws();
  std::vector<Pushed> got;
  auto watch = [&] {
    auto req = h.gt.watchRequest();
    req.initIds(1).set(0, "k1");
    req.setCallback(kj::heap<CollectingWatcher>(&got));
    return req.send();
  };
  std::vector<proto::WatchHandle::Client> handles;
  for (int i = 0; i < 3; ++i) handles.push_back(watch().wait(ws).getHandle());
  auto ereq = h.gt.eventsRequest();
  ereq.setSink(kj::heap<CollectingSink>());
  auto events = ereq.send().wait(ws).getHandle();
  auto refused = ExpectThrows(watch(), ws);
  EXPECT_NE(std::string(refused.getDescription().cStr()).find("exceed max_watches_per_connection 4"), std::string::npos)
      << refused.getDescription().cStr();
  // Cancelled (twice: idempotent), not released: the slots come back.
  handles[0].cancelRequest().send().wait(ws);
  handles[0].cancelRequest().send().wait(ws);
  events.cancelRequest().send().wait(ws);
  handles.push_back(watch().wait(ws).getHandle());
  handles.push_back(watch().wait(ws).getHandle());
  ExpectThrows(watch(), ws);
  // Released after the cancel: nothing more is freed.
  handles[0] = nullptr;
  events = nullptr;
  h.gt.infoRequest().send().wait(ws);  // the releases reach the server first
  ExpectThrows(watch(), ws);
  // A live handle released still frees its slot.
  handles[1] = nullptr;
  h.gt.infoRequest().send().wait(ws);
  handles.push_back(watch().wait(ws).getHandle());
  ExpectThrows(watch(), ws);
}

// The bytes of a gzip member.
std::string Gunzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(in.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

// GET with optional If-None-Match; the status, the body and the ETag.
struct HttpReply {
  unsigned status = 0;
  std::string body, etag, type, encoding, vary;
};
HttpReply HttpGetTagged(kj::HttpClient& client, kj::WaitScope& ws, kj::HttpHeaderTable& table, unsigned port,
                        const std::string& path, const std::string& if_none_match = "",
                        const std::string& accept_encoding = "") {
  kj::HttpHeaders headers(table);
  if (!if_none_match.empty()) headers.add("If-None-Match", if_none_match);
  if (!accept_encoding.empty()) headers.add("Accept-Encoding", accept_encoding);
  auto resp = client.request(kj::HttpMethod::GET, kj::str("http://127.0.0.1:", port, path), headers).response.wait(ws);
  HttpReply r;
  r.status = resp.statusCode;
  resp.headers->forEach([&](kj::StringPtr name, kj::StringPtr value) {
    if (name == "ETag") r.etag = value.cStr();
    if (name == "Content-Type") r.type = value.cStr();
    if (name == "Content-Encoding") r.encoding = value.cStr();
    if (name == "Vary") r.vary = value.cStr();
  });
  auto bytes = resp.body->readAllBytes().wait(ws);  // a tile holds NUL bytes
  r.body.assign(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  return r;
}

// A small engine served with its HTTP port, and a client of it.
struct HttpServed {
  std::unique_ptr<Engine> engine = NewEngine();
  ServerThread server{*engine, QuietOptions(), /*http=*/true};
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::HttpHeaderTable table;
  kj::Own<kj::HttpClient> client =
      kj::newHttpClient(io.provider->getTimer(), table, io.provider->getNetwork(), nullptr);
  HttpReply Get(const std::string& path, const std::string& if_none_match = "",
                const std::string& accept_encoding = "") {
    return HttpGetTagged(*client, io.waitScope, table, server.http_port(), path, if_none_match, accept_encoding);
  }
};

TEST(RpcHttp, HealthMetricsAndJsonQueries) {
  HttpServed http;
  auto& engine = http.engine;
  unsigned status = 0;
  auto get = [&](const std::string& path) {
    HttpReply r = http.Get(path);
    status = r.status;
    return r.body;
  };
  EXPECT_EQ(get("/healthz"), "ok\n");
  EXPECT_EQ(status, 200u);
  std::string body = get("/locate?lon=112.055&lat=22.035");
  EXPECT_EQ(status, 200u);
  const auto view = engine->Read();
  const std::string leaf(view->id(view->Locate({112.055, 22.035}).node));
  // The shapes of docs/json.md, read back parsed.
  JsonDoc doc = ParseJson(body);
  ASSERT_TRUE(doc.ok()) << body;
  EXPECT_TRUE(bool(doc.root["found"])) << body;
  simdjson::dom::array chain = doc.root["chain"];
  ASSERT_GT(chain.size(), 0u) << body;
  EXPECT_EQ(std::string_view(chain.at(chain.size() - 1)["id"]), leaf) << body;
  doc = ParseJson(get("/node?id=k1"));
  EXPECT_EQ(status, 200u);
  ASSERT_TRUE(doc.ok()) << doc.text;
  EXPECT_EQ(std::string_view(doc.root["parent"]), "c") << doc.text;
  doc = ParseJson(get("/children?id=c"));
  ASSERT_TRUE(doc.ok()) << doc.text;
  EXPECT_EQ(std::string_view(doc.root["children"].at(0)["id"]), "k1") << doc.text;
  doc = ParseJson(get("/aggregate?id=k1,k2"));
  ASSERT_TRUE(doc.ok()) << doc.text;
  EXPECT_EQ(std::string_view(doc.root["nodes"].at(1)["id"]), "k2") << doc.text;
  EXPECT_EQ(int64_t(doc.root["nodes"].at(0)["metrics"]["population"]), view->Metric(*view->Find("k1"), 0))
      << doc.text;
  doc = ParseJson(get("/region?circle=112.05,22.05,2000&group_by=county"));
  EXPECT_EQ(status, 200u) << doc.text;
  ASSERT_TRUE(doc.ok()) << doc.text;
  EXPECT_FALSE(doc.root["metrics"]["population"].error()) << doc.text;
  EXPECT_GT(doc.root["rows"].get_array().size(), 0u) << doc.text;
  EXPECT_EQ(int64_t(doc.root["dataset_version"]), 1) << doc.text;  // 64-bit: a JSON number
  doc = ParseJson(get("/topk?level=grid&metric=population&k=3"));
  EXPECT_EQ(status, 200u) << doc.text;
  ASSERT_TRUE(doc.ok()) << doc.text;
  const auto top = view->TopK({Level::kGrid, 0, 3, NodeId(), false});
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(int64_t(doc.root["entries"].at(0)["metrics"]["population"]), top->entries[0].value) << doc.text;
  body = get("/topk?level=grid&metric=population&k=100001");
  EXPECT_EQ(status, 400u);
  EXPECT_NE(body.find("max_top_k 100000"), std::string::npos) << body;  // the RPC method's own limit
  body = get("/locate?lon=abc&lat=1");
  EXPECT_EQ(status, 400u);
  EXPECT_NE(body.find("lon"), std::string::npos) << body;
  body = get("/node?id=nope");
  EXPECT_EQ(status, 404u);
  EXPECT_NE(body.find("unknown node id"), std::string::npos) << body;
  get("/nothing");
  EXPECT_EQ(status, 404u);
  body = get("/metrics");
  EXPECT_EQ(status, 200u);
  EXPECT_NE(body.find("gridtree_calls_total{method=\"http_locate\"} 2"), std::string::npos) << body;
  // HTTP reads run the RPC method in process: one implementation, counted there too.
  EXPECT_NE(body.find("gridtree_calls_total{method=\"locate\"} 1"), std::string::npos) << body;
  EXPECT_NE(body.find("gridtree_errors_total{method=\"http_node\"} 1"), std::string::npos) << body;
  EXPECT_NE(body.find("gridtree_call_seconds_bucket{method=\"http_locate\",le=\"+Inf\"} 2"), std::string::npos);
  EXPECT_NE(body.find("gridtree_leaves " + std::to_string(view->dataset().leaf_count())), std::string::npos);
  EXPECT_NE(body.find("gridtree_points_located_total 1"), std::string::npos);
}

// GET /objects?bbox=: the tracked objects in a box, as tracked (docs/json.md).
TEST(RpcHttp, ObjectsInABoxByKind) {
  HttpServed http;
  auto& engine = http.engine;
  const std::vector<ObjectReport> reports = {{"boat-1", "boat", 112.055, 22.035, 100},
                                             {"boat-2", "boat", 112.005, 22.005, 100},
                                             {"staff-1", "staff", 112.056, 22.036, 100},
                                             {"boat-far", "boat", 120.5, 30.5, 100}};
  ASSERT_TRUE(engine->Track(reports, 200).ok());
  const auto view = engine->Read();
  const std::string leaf(view->id(view->Locate({112.055, 22.035}).node));
  HttpReply r = http.Get("/objects?bbox=111.9,21.9,112.2,22.2");
  ASSERT_EQ(r.status, 200u) << r.body;
  JsonDoc doc = ParseJson(r.body);
  ASSERT_TRUE(doc.ok()) << r.body;
  std::map<std::string, std::pair<double, double>> seen;
  for (simdjson::dom::element o : simdjson::dom::array(doc.root["objects"]))
    seen[std::string(std::string_view(o["id"]))] = {double(o["lon"]), double(o["lat"])};
  ASSERT_EQ(seen.size(), 3u) << r.body;  // boat-far is outside the box
  EXPECT_EQ(seen.count("boat-far"), 0u) << r.body;
  for (const ObjectReport& t : reports) {
    if (t.id == "boat-far") continue;
    ASSERT_EQ(seen.count(t.id), 1u) << t.id << " " << r.body;
    EXPECT_DOUBLE_EQ(seen[t.id].first, t.lon) << r.body;
    EXPECT_DOUBLE_EQ(seen[t.id].second, t.lat) << r.body;
  }
  EXPECT_EQ(int64_t(doc.root["total"]), 3) << r.body;
  EXPECT_FALSE(bool(doc.root["cut"])) << r.body;
  EXPECT_GT(int64_t(doc.root["objects_version"]), 0) << r.body;
  simdjson::dom::element first = doc.root["objects"].at(0);  // by id: boat-1
  EXPECT_EQ(std::string_view(first["id"]), "boat-1") << r.body;
  EXPECT_EQ(std::string_view(first["kind"]), "boat") << r.body;
  EXPECT_EQ(std::string_view(first["leaf_id"]), leaf) << r.body;
  EXPECT_EQ(int64_t(first["time"]), 100) << r.body;

  // The kind filter, and a limit that cuts the answer.
  doc = ParseJson(http.Get("/objects?bbox=111.9,21.9,112.2,22.2&kind=staff").body);
  ASSERT_TRUE(doc.ok()) << doc.text;
  ASSERT_EQ(simdjson::dom::array(doc.root["objects"]).size(), 1u) << doc.text;
  EXPECT_EQ(std::string_view(doc.root["objects"].at(0)["id"]), "staff-1") << doc.text;
  doc = ParseJson(http.Get("/objects?bbox=111.9,21.9,112.2,22.2&limit=1").body);
  ASSERT_TRUE(doc.ok()) << doc.text;
  EXPECT_EQ(simdjson::dom::array(doc.root["objects"]).size(), 1u) << doc.text;
  EXPECT_EQ(int64_t(doc.root["total"]), 3) << doc.text;
  EXPECT_TRUE(bool(doc.root["cut"])) << doc.text;

  // A box around the far boat only: it is outside every leaf (leaf_id null).
  doc = ParseJson(http.Get("/objects?bbox=120,30,121,31").body);
  ASSERT_TRUE(doc.ok()) << doc.text;
  ASSERT_EQ(simdjson::dom::array(doc.root["objects"]).size(), 1u) << doc.text;
  EXPECT_EQ(std::string_view(doc.root["objects"].at(0)["id"]), "boat-far") << doc.text;
  EXPECT_TRUE(doc.root["objects"].at(0)["leaf_id"].is_null()) << doc.text;

  EXPECT_EQ(http.Get("/objects").status, 400u);
  EXPECT_EQ(http.Get("/objects?bbox=1,2,3").status, 400u);
}

TEST(RpcHttp, VectorTilesWithTagsThatFollowUpdates) {
  HttpServed http;
  auto& engine = http.engine;
  auto& server = http.server;
  auto get = [&](const std::string& path, const std::string& tag = "") { return http.Get(path, tag); };
  // The small dataset lies around (112.05, 22.05): zoom 12 tile 3322/1790.
  const std::string path = "/tiles/12/3322/1790.mvt";
  HttpReply tile = get(path);
  ASSERT_EQ(tile.status, 200u) << tile.body;
  EXPECT_EQ(tile.type, "application/vnd.mapbox-vector-tile");
  EXPECT_FALSE(tile.body.empty());
  const auto view = engine->Read();
  auto direct = RenderTile(*view, {12, 3322, 1790});
  ASSERT_TRUE(direct.ok());
  EXPECT_TRUE(tile.body == direct.value());  // the live View's tile, byte for byte
  EXPECT_EQ(tile.etag, TileETag(*view, {12, 3322, 1790}));
  // Revalidation: unchanged -> 304 with no body; after an update the tag moves.
  HttpReply again = get(path, tile.etag);
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  UpdateBatch batch;
  batch.updates.push_back({"g2_3", "population", MetricUpdate::Op::kAdd, 7});  // a leaf in the tile
  ASSERT_TRUE(engine->Apply(batch).ok());
  HttpReply changed = get(path, tile.etag);
  EXPECT_EQ(changed.status, 200u);
  EXPECT_NE(changed.etag, tile.etag);
  EXPECT_TRUE(changed.body != tile.body);  // the new population is in it (no dump of binary bodies)
  // gzip for a client that accepts it: the same bytes once inflated (by
  // zlib's own inflate), under the tag of that representation; never for
  // one that refuses it with q=0.
  HttpReply zipped = http.Get(path, "", "deflate, gzip;q=0.5");
  EXPECT_EQ(zipped.status, 200u);
  EXPECT_EQ(zipped.encoding, "gzip");
  EXPECT_EQ(zipped.vary, "Accept-Encoding");
  EXPECT_LT(zipped.body.size(), changed.body.size());
  EXPECT_EQ(Gunzip(zipped.body), changed.body);
  EXPECT_EQ(zipped.etag, changed.etag.substr(0, changed.etag.size() - 1) + "-gz\"");
  EXPECT_EQ(http.Get(path, zipped.etag, "gzip").status, 304u);
  EXPECT_EQ(http.Get(path, zipped.etag).status, 200u);  // another representation
  EXPECT_EQ(http.Get(path, "W/" + changed.etag + ", \"other\"").status, 304u);  // weak and listed tags
  HttpReply refused = http.Get(path, "", "gzip;q=0, br");
  EXPECT_EQ(refused.encoding, "");
  EXPECT_EQ(refused.body, changed.body);
  // TileJSON names the host the client used.
  HttpReply json = get("/tiles.json");
  EXPECT_EQ(json.status, 200u);
  const JsonDoc tilejson = ParseJson(json.body);
  ASSERT_TRUE(tilejson.ok()) << json.body;
  EXPECT_EQ(tilejson.root["tiles"].get_array().size(), 1u) << json.body;
  EXPECT_EQ(std::string_view(tilejson.root["tiles"].at(0)),
            "http://127.0.0.1:" + std::to_string(server.http_port()) + "/tiles/{z}/{x}/{y}.mvt")
      << json.body;
  // The page and its search.
  HttpReply page = get("/");
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/app.js"), std::string::npos);
  HttpReply search = get("/search?q=g2_3");
  EXPECT_EQ(search.status, 200u);
  const JsonDoc found = ParseJson(search.body);
  ASSERT_TRUE(found.ok()) << search.body;
  EXPECT_EQ(std::string_view(found.root["results"].at(0)["id"]), "g2_3") << search.body;
  EXPECT_EQ(get("/search").status, 400u);
  // Bad coordinates: 400 naming what is wrong.
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {"/tiles/17/0/0.mvt", "zoom 17"},
           {"/tiles/3/8/0.mvt", "tile x 8"},
           {"/tiles/a/0/0.mvt", "whole numbers"},
           {"/tiles/3/0/0.png", "{y}.mvt"},
           {"/tiles/3/0/0/1.mvt", "{y}.mvt"},
           {"/tiles/99999999999999999999/0/0.mvt", "whole numbers"}}) {
    HttpReply r = get(bad);
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_NE(r.body.find(says), std::string::npos) << bad << ": " << r.body;
  }
}

TEST(BatchJson, ParsesAndNamesErrors) {
  auto r = cli::ParseBatchJson(
      R"({"updates":[{"leaf":"g1","metric":"population","op":"set","value":5},{"leaf":7,"metric":"m","op":"add","value":-2}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->updates.size(), 2u);
  EXPECT_EQ(r->updates[0].leaf_id, "g1");
  EXPECT_EQ(r->updates[0].op, MetricUpdate::Op::kSet);
  EXPECT_EQ(r->updates[1].leaf_id, "7");
  EXPECT_EQ(r->updates[1].op, MetricUpdate::Op::kAdd);
  EXPECT_EQ(r->updates[1].value, -2);
  auto bad = cli::ParseBatchJson(R"({"updates":[{"leaf":"g1","metric":"p","op":"mul","value":5}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("updates[0].op"), std::string::npos);
  bad = cli::ParseBatchJson(R"({"updates":[{"leaf":"g1","metric":"p","op":"set","value":-1}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("updates[0].value"), std::string::npos);
  EXPECT_FALSE(cli::ParseBatchJson("{").ok());
  EXPECT_FALSE(cli::ParseBatchJson(R"({"updates":[{"leaf":"g1","value":1}]})").ok());
}

// Grid id -> the ids of its chain, root first, from the loader's parent links.
std::map<std::string, std::vector<std::string>> ChainsOf(const Dataset& ds) {
  std::map<std::string, std::vector<std::string>> out;
  for (int32_t leaf_node : ds.leaf_nodes) {
    std::vector<std::string> up;
    for (int32_t v = leaf_node; v >= 0; v = ds.parents[v]) up.insert(up.begin(), std::string(ds.ids[v]));
    out[std::string(ds.ids[leaf_node])] = up;
  }
  return out;
}

// The server answers locateBatch with chains from one View: while the
// dataset flips between two with different node numbers, every answer's
// chain matches the dataset its datasetVersion names.
TEST(RpcConsistency, BatchChainsComeFromTheDatasetTheAnswerNames) {
  auto engine = NewEngine();  // SmallDataset(10): dataset version 1
  ServerThread server(*engine, QuietOptions());
  const auto ten = ChainsOf(SmallDataset(10)), eight = ChainsOf(SmallDataset(8));
  ASSERT_NE(ten.at("g4_1"), eight.at("g4_1"));
  std::vector<double> lon, lat;
  std::vector<std::string> grid;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 7; ++j) {
      lon.push_back(112.0 + i * 0.01 + 0.005), lat.push_back(22.0 + j * 0.01 + 0.005);
      grid.push_back("g" + std::to_string(i) + "_" + std::to_string(j));
    }
  std::atomic<bool> done{false};
  std::thread reloader([&] {  // until the client is done, so the answers span reloads
    for (int k = 0; !done; ++k) ASSERT_TRUE(engine->Reload(SmallDataset(k % 2 == 0 ? 8 : 10)).ok());
  });
  rpc::Client client(server.address());
  auto& ws = client.wait_scope();
  std::set<uint64_t> versions;
  for (int call = 0; call < 200; ++call) {
    auto req = client.gridtree().locateBatchRequest();
    auto l1 = req.initLon(static_cast<unsigned>(lon.size()));
    auto l2 = req.initLat(static_cast<unsigned>(lat.size()));
    for (unsigned i = 0; i < lon.size(); ++i) l1.set(i, lon[i]), l2.set(i, lat[i]);
    req.setWithChains(true);
    auto resp = req.send().wait(ws);
    auto r = resp.getResult();
    // Even dataset versions hold 8 x 8 leaves, odd ones 10 x 10.
    const auto& chains = r.getDatasetVersion() % 2 == 0 ? eight : ten;
    versions.insert(r.getDatasetVersion());
    auto index = r.getChainIndex();
    auto nodes = r.getChainNodes();
    auto leaves = r.getLeaves();
    for (unsigned i = 0; i < lon.size(); ++i) {
      const std::vector<std::string>& want = chains.at(grid[i]);
      ASSERT_GE(leaves[i], 0) << grid[i];
      std::vector<std::string> got;
      for (int level = 0; level < kLevelCount; ++level)
        if (const int32_t at = index[i * kLevelCount + level]; at >= 0) got.push_back(Str(nodes[at].getId()));
      ASSERT_EQ(got, want) << grid[i] << " at dataset version " << r.getDatasetVersion();
    }
  }
  done = true;
  reloader.join();
  EXPECT_GE(versions.size(), 2u);  // the answers did span reloads
}

}  // namespace
}  // namespace gridtree::testing
