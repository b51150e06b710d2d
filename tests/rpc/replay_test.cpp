// Workload replay end to end on the small dataset: the checksum of the
// in-process replay (1 and 3 threads) and of the RPC replay against a
// server on loopback TCP must both equal a checksum computed here by
// calling the Engine one request at a time, and must change when the
// answers change.
#include <gtest/gtest.h>

#include "../small_dataset.h"
#include "replay/checksum.h"
#include "replay/run_local.h"
#include "replay/run_rpc.h"
#include "rpc_test_util.h"

namespace gridtree::testing {
namespace {

using replay::Kind;

// Points partly outside the 0.1 x 0.1 degree lattice (misses), regions of
// every shape and mode, group-by rows, a batch that wraps around the points.
const char* kWorkload = R"js({
  "name": "small",
  "points": {"generate": {"box": [111.99, 21.99, 112.11, 22.11], "count": 997, "seed": 5}},
  "regions": [
    {"circle": {"lon": 112.05, "lat": 22.05, "radius_m": 2000}},
    {"box": [112.012, 22.013, 112.061, 22.044], "group_by": "town"},
    {"wkt": "POLYGON((112.005 22.005, 112.085 22.01, 112.04 22.09, 112.005 22.005))", "mode": "area_weighted",
     "group_by": "community"},
    {"geojson": {"type": "Polygon", "coordinates": [[[112.0, 22.0], [112.03, 22.0], [112.0, 22.03], [112.0, 22.0]]]},
     "mode": "contained"},
    {"circle": {"lon": 112.07, "lat": 22.03, "radius_m": 900}, "mode": "area_weighted"}
  ],
  "mix": {"locate": 0.6, "locate_batch": 0.2, "aggregate": 0.2},
  "batch_size": 50,
  "requests": 3000,
  "seed": 11,
  "group_by": "county"
})js";

std::unique_ptr<Engine> NewEngine() {
  EngineOptions eo;
  eo.threads = 2;
  auto e = Engine::Create(SmallDataset(10), eo);
  if (!e.ok()) std::abort();
  return std::move(e).value();
}

replay::Workload Parse(const char* text) {
  auto w = replay::ParseWorkload(text, "small.json", "");
  if (!w.ok()) {
    ADD_FAILURE() << w.status().message();
    return {};
  }
  return std::move(w).value();
}

// The reference: one request at a time, single points through View::Locate
// (not the batch path the replays use for locate_batch).
struct Reference {
  uint64_t checksum = 0;
  std::array<uint64_t, replay::kKindCount> per_kind{};
  std::array<uint64_t, replay::kKindCount> requests{};
  int64_t misses = 0, rows = 0;
};

Reference Direct(const Engine& engine, const replay::Workload& w) {
  Reference ref;
  auto view = engine.Read();
  for (uint64_t i = 0; i < w.requests; ++i) {
    const replay::Request r = replay::RequestAt(w, i);
    uint64_t h = 0;
    switch (r.kind) {
      case Kind::kLocate: {
        const int32_t leaf = view->Locate({w.lon[r.item], w.lat[r.item]}).leaf.value;
        ref.misses += leaf < 0;
        h = replay::LocateHash(i, leaf);
        break;
      }
      case Kind::kLocateBatch: {
        std::vector<int32_t> leaves;
        for (uint64_t k = 0; k < w.batch_size; ++k) {
          const uint64_t p = (r.item + k) % w.point_count();
          leaves.push_back(view->Locate({w.lon[p], w.lat[p]}).leaf.value);
        }
        h = replay::BatchHash(i, leaves);
        break;
      }
      case Kind::kAggregate: {
        auto res = view->RegionAggregate(w.regions[r.item].query);
        EXPECT_TRUE(res.ok()) << res.status().message();
        ref.rows += static_cast<int64_t>(res->rows.size());
        h = replay::AggregateHash(i, res.value());
        break;
      }
    }
    ref.checksum += h;
    ref.per_kind[static_cast<int>(r.kind)] += h;
    ++ref.requests[static_cast<int>(r.kind)];
  }
  return ref;
}

void ExpectSame(const Reference& ref, const replay::ReplayResult& got, const std::string& what) {
  EXPECT_EQ(got.tally.errors(), 0u) << what;
  EXPECT_EQ(got.tally.requests(), ref.requests[0] + ref.requests[1] + ref.requests[2]) << what;
  EXPECT_EQ(replay::HexChecksum(got.tally.checksum()), replay::HexChecksum(ref.checksum)) << what;
  for (int k = 0; k < replay::kKindCount; ++k) {
    EXPECT_EQ(got.tally.kinds[k].requests, ref.requests[k]) << what << " " << replay::KindName(Kind(k));
    EXPECT_EQ(got.tally.kinds[k].checksum, ref.per_kind[k]) << what << " " << replay::KindName(Kind(k));
    EXPECT_EQ(got.tally.kinds[k].latency_us.size(), ref.requests[k]) << what;
  }
}

TEST(WorkloadReplay, InProcessAndRpcChecksumsMatchTheEngine) {
  auto engine = NewEngine();
  const replay::Workload w = Parse(kWorkload);
  ASSERT_EQ(w.requests, 3000u);
  const Reference ref = Direct(*engine, w);
  // The workload exercises what it should: every kind, misses, group rows.
  for (int k = 0; k < replay::kKindCount; ++k) EXPECT_GT(ref.requests[k], 300u);
  EXPECT_GT(ref.misses, 0);
  EXPECT_GT(ref.rows, 0);

  for (int threads : {1, 3}) {
    replay::LocalOptions lo;
    lo.threads = threads;
    const auto local = replay::ReplayInProcess(*engine, w, lo);
    ExpectSame(ref, local, "in process, threads " + std::to_string(threads));
    EXPECT_EQ(local.run.fingerprint, engine->Read()->dataset().fingerprint);
  }

  rpc::ServerOptions so;
  so.log = [](std::string_view) {};
  ServerThread server(*engine, so);
  replay::RpcOptions ro;
  ro.address = server.address();
  ro.connections = 3;
  ro.depth = 4;
  auto remote = replay::ReplayOverRpc(w, ro);
  ASSERT_TRUE(remote.ok()) << remote.status().message();
  ExpectSame(ref, *remote, "over RPC");
  EXPECT_EQ(remote->run.fingerprint, engine->Read()->dataset().fingerprint);
  EXPECT_EQ(remote->run.target, "rpc:" + server.address());
}

// A changed metric changes the aggregate checksum, in process and over RPC
// alike; a different seed changes the locate checksum.
TEST(WorkloadReplay, ChecksumFollowsTheAnswers) {
  auto engine = NewEngine();
  const replay::Workload w = Parse(kWorkload);
  const auto before = replay::ReplayInProcess(*engine, w);

  UpdateBatch batch;
  batch.updates.push_back({"g3_3", "population", MetricUpdate::Op::kAdd, 1});
  ASSERT_TRUE(engine->Apply(batch).ok());
  const auto after = replay::ReplayInProcess(*engine, w);
  EXPECT_EQ(after.tally.kinds[0].checksum, before.tally.kinds[0].checksum);  // locate: same leaves
  EXPECT_NE(after.tally.kinds[2].checksum, before.tally.kinds[2].checksum);  // aggregate: new values
  EXPECT_EQ(after.run.metric_version, before.run.metric_version + 1);

  rpc::ServerOptions so;
  so.log = [](std::string_view) {};
  ServerThread server(*engine, so);
  replay::RpcOptions ro;
  ro.address = server.address();
  ro.connections = 1;
  ro.depth = 2;
  auto remote = replay::ReplayOverRpc(w, ro);
  ASSERT_TRUE(remote.ok()) << remote.status().message();
  EXPECT_EQ(remote->tally.checksum(), after.tally.checksum());

  replay::Workload reseeded = w;
  reseeded.seed = 12;
  EXPECT_NE(replay::ReplayInProcess(*engine, reseeded).tally.checksum(), after.tally.checksum());
}

TEST(WorkloadReplay, RpcRefusesABatchLargerThanTheServerTakes) {
  auto engine = NewEngine();
  const replay::Workload w = Parse(kWorkload);
  rpc::ServerOptions so;
  so.max_points_per_batch = 10;
  so.log = [](std::string_view) {};
  ServerThread server(*engine, so);
  replay::RpcOptions ro;
  ro.address = server.address();
  auto remote = replay::ReplayOverRpc(w, ro);
  ASSERT_FALSE(remote.ok());
  EXPECT_NE(remote.status().message().find("maxPointsPerBatch"), std::string::npos) << remote.status().message();

  ro.address = "127.0.0.1:1";  // nothing listens there
  auto unreachable = replay::ReplayOverRpc(w, ro);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_NE(unreachable.status().message().find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace gridtree::testing
