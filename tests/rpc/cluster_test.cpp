// Cluster mode against real processes: three nats-server (JetStream,
// loopback) and `gridtree serve --cluster` replicas. What is checked comes
// from outside the replicas: the writes each client had acknowledged, the
// values the dataset started with, and the replicas compared with each
// other (state digests at one position, values read back).
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../small_dataset.h"
#include "gridtree/engine/image.h"
#include "gridtree/rpc/client.h"
#include "log_message.h"
#include "nats_cluster.h"
#include "serve_process.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;
using testing::NatsCluster;
using testing::ServeProcess;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "cluster-test-token";

// ---- The log's message format (no servers) ----

TEST(ClusterLogMessage, RoundTripsUpdatesAndReports) {
  cluster::LogMessage m;
  m.kind = cluster::LogKind::kUpdate;
  m.origin = 77;
  m.request = 5;
  m.time = 1'700'000'000;
  m.updates.updates = {{"g1_2", "population", MetricUpdate::Op::kAdd, -3}, {"g0_0", "schools", MetricUpdate::Op::kSet, 9}};
  auto back = cluster::DecodeLogMessage(cluster::EncodeLogMessage(m));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->origin, 77u);
  EXPECT_EQ(back->request, 5u);
  EXPECT_EQ(back->time, 1'700'000'000);
  ASSERT_EQ(back->updates.updates.size(), 2u);
  EXPECT_EQ(back->updates.updates[0].leaf_id, "g1_2");
  EXPECT_EQ(back->updates.updates[0].op, MetricUpdate::Op::kAdd);
  EXPECT_EQ(back->updates.updates[0].value, -3);
  EXPECT_EQ(back->updates.updates[1].metric, "schools");

  cluster::LogMessage t;
  t.kind = cluster::LogKind::kTrack;
  t.time = 1;
  t.reports = {{"boat-1", "boat", 112.005, 22.005, 42}};
  auto tb = cluster::DecodeLogMessage(cluster::EncodeLogMessage(t));
  ASSERT_TRUE(tb.ok());
  ASSERT_EQ(tb->reports.size(), 1u);
  EXPECT_EQ(tb->reports[0].id, "boat-1");
  EXPECT_EQ(tb->reports[0].lon, 112.005);
  EXPECT_EQ(tb->reports[0].time, 42);
}

TEST(ClusterLogMessage, EveryCutAndEveryFlippedByteIsRefused) {
  cluster::LogMessage m;
  m.kind = cluster::LogKind::kTrack;
  m.time = 5;
  m.reports = {{"a", "boat", 1, 2, 3}, {"bb", "staff", 4, 5, 6}};
  const std::string bytes = cluster::EncodeLogMessage(m);
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(cluster::DecodeLogMessage({bytes.data(), n}).ok()) << "cut at " << n;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    EXPECT_FALSE(cluster::DecodeLogMessage(bad).ok()) << "flipped byte " << i;
  }
  EXPECT_FALSE(cluster::DecodeLogMessage(std::string("{\"op\":\"set\"}")).ok());
}

// ---- Replicas ----

struct Tally {
  int64_t acked = 0;      // answered with a position
  int64_t uncertain = 0;  // lost with the connection, or not acknowledged in time: maybe stored
  int64_t refused = 0;    // refused before the log stored it
  uint64_t max_position = 0;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveNatsServer()) GTEST_SKIP() << "nats-server is not installed (scripts/install-deps.sh)";
    dir_ = fs::path(::testing::TempDir()) / ("gridtree-cluster-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    image_ = (dir_ / "small.gtimg").string();
    ASSERT_TRUE(WriteEngineImage(*testing::SmallEngine(8)->Read(), image_).ok());
    ::setenv("GRIDTREE_WRITER_TOKEN", kToken, 1);
    nats_ = std::make_unique<NatsCluster>(dir_ / "nats");
    ASSERT_TRUE(nats_->WaitForLeader()) << nats_->Log(0);
    ASSERT_TRUE(nats_->WaitForJetStream()) << nats_->Log(0);
  }
  void TearDown() override {
    replicas_.clear();
    nats_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Replica i on fixed ports (the same after a restart), its own data directory.
  std::unique_ptr<ServeProcess> StartReplica(int i, const std::string& image = "", const std::string& stream = "grid",
                                            std::vector<std::string> more = {}) {
    while (ports_.size() <= static_cast<size_t>(i)) ports_.push_back({testing::FreePort(), testing::FreePort()});
    std::vector<std::string> args = {image.empty() ? image_ : image,
                                     "--listen", "127.0.0.1:" + std::to_string(ports_[i].first),
                                     "--http", "127.0.0.1:" + std::to_string(ports_[i].second),
                                     "--threads", "2",
                                     "--cluster", nats_->Urls(),
                                     "--stream", stream,
                                     "--data-dir", (dir_ / ("replica" + std::to_string(i))).string(),
                                     "--publish-timeout-ms", "2000",
                                     "--checkpoint-seconds", "0.5"};
    args.insert(args.end(), more.begin(), more.end());
    // Up to 60 s to join: a loaded machine (the sanitizer builds) elects
    // JetStream's leaders slowly.
    return std::make_unique<ServeProcess>(args, dir_ / ("replica" + std::to_string(i) + ".log"), 0, 60);
  }
  std::string Address(int i) const { return "127.0.0.1:" + std::to_string(ports_[i].first); }
  std::string AllAddresses(int first, int n) const {
    std::string out;
    for (int k = 0; k < n; ++k) out += (k ? "," : "") + Address((first + k) % n);
    return out;
  }

  struct Seen {
    uint64_t position = 0, lag = 0, digest = 0, digest_position = 0, skipped = 0;
    bool ready = false;
  };
  Seen InfoOf(int i) {
    rpc::Client c(Address(i));
    auto response = c.gridtree().infoRequest().send().wait(c.wait_scope());  // the reader below lives in it
    auto info = response.getInfo();
    return {info.getPosition(), info.getLag(), info.getDigest(), info.getDigestPosition(), info.getSkippedMessages(),
            info.getReady()};
  }
  int64_t Population(int i, const std::string& leaf) {
    rpc::Client c(Address(i));
    auto req = c.gridtree().aggregateRequest();
    req.initIds(1).set(0, leaf);
    auto r = req.send().wait(c.wait_scope());
    return r.getAggregates()[0].getValues()[0];  // population is the first metric
  }
  // Until every replica listed is at one position with nothing pending and
  // a digest of that position; false after `seconds`.
  bool Converged(const std::vector<int>& which, int seconds = 30) {
    for (auto end = Clock::now() + std::chrono::seconds(seconds); Clock::now() < end;) {
      std::vector<Seen> seen;
      for (int i : which) seen.push_back(InfoOf(i));
      bool same = true;
      for (const Seen& s : seen)
        same = same && s.position == seen[0].position && s.lag == 0 && s.digest_position == s.position && s.digest != 0;
      if (same) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // The HTTP status of GET path on replica i's side port (curl).
  int HttpStatus(int i, const std::string& path) {
    const std::string cmd = "curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:" +
                            std::to_string(ports_[i].second) + path + "'";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return -1;
    int code = -1;
    if (std::fscanf(p, "%d", &code) != 1) code = -1;
    ::pclose(p);
    return code;
  }

  static void Write(const std::string& addresses, const std::string& leaf, std::atomic<bool>& stop, Tally& t) {
    rpc::Client c(addresses);
    auto writer = [&c] {
      auto r = c.gridtree().writerRequest();
      r.setToken(kToken);
      return r.send().getWriter();
    };
    auto w = writer();
    while (!stop) {
      auto req = w.applyRequest();
      auto u = req.initUpdates(1)[0];
      u.setLeaf(leaf);
      u.setMetric("population");
      u.setOp(proto::MetricUpdate::Op::ADD);
      u.setValue(1);
      try {
        auto r = req.send().wait(c.wait_scope());
        ++t.acked;
        t.max_position = std::max(t.max_position, r.getPosition());
      } catch (const kj::Exception& e) {
        const std::string why = e.getDescription().cStr();
        if (e.getType() == kj::Exception::Type::DISCONNECTED) {
          ++t.uncertain;
          c.Failover();
          w = writer();
        } else if (why.find("not acknowledged") != std::string::npos || why.find("not known") != std::string::npos) {
          ++t.uncertain;
        } else if (why.find("not stored") != std::string::npos) {
          ++t.refused;  // certainly not in the log: must not show below
        } else {
          ADD_FAILURE_AT(__FILE__, __LINE__) << why;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  fs::path dir_;
  std::string image_;
  std::unique_ptr<NatsCluster> nats_;
  std::vector<std::pair<unsigned, unsigned>> ports_;  // RPC, HTTP per replica
  std::vector<std::unique_ptr<ServeProcess>> replicas_;
};

TEST_F(ClusterTest, ReplicasKeepEveryAcknowledgedWriteOnceThroughTheLossOfANatsServerAndAReplica) {
  for (int i = 0; i < 3; ++i) {
    replicas_.push_back(StartReplica(i));
    ASSERT_NE(replicas_[i]->port(), 0u) << replicas_[i]->Log();
  }
  const std::vector<std::string> leaves = {"g0_0", "g2_1", "g5_5"};
  std::vector<int64_t> before;
  for (const std::string& leaf : leaves) before.push_back(Population(0, leaf));

  // A writer on each replica (failing over to the others), and a reader
  // that knows all three.
  std::atomic<bool> stop{false};
  std::vector<Tally> tallies(3);
  std::vector<std::thread> writers;
  for (int i = 0; i < 3; ++i)
    writers.emplace_back([&, i] { Write(AllAddresses(i, 3), leaves[i], stop, tallies[i]); });
  std::atomic<int64_t> reads{0}, unanswered{0};
  std::thread reader([&] {
    rpc::Client c(AllAddresses(0, 3));
    while (!stop) {
      bool answered = false;
      for (int attempt = 0; attempt < 3 && !answered; ++attempt) {
        try {
          c.gridtree().infoRequest().send().wait(c.wait_scope());
          answered = true;
        } catch (const kj::Exception&) {
          c.Failover();
        }
      }
      ++(answered ? reads : unanswered);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  nats_->Kill(0);
  replicas_[2].reset();  // SIGKILL
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  nats_->Start(0);
  replicas_[2] = StartReplica(2);
  // Not ASSERT: the threads must be stopped and joined before returning.
  EXPECT_NE(replicas_[2]->port(), 0u) << replicas_[2]->Log();
  if (replicas_[2]->port() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  stop = true;
  for (auto& w : writers) w.join();
  reader.join();
  if (HasFailure()) return;

  ASSERT_TRUE(Converged({0, 1, 2})) << replicas_[0]->Log() << replicas_[2]->Log();
  const Seen first = InfoOf(0);
  for (int i = 1; i < 3; ++i) {
    const Seen s = InfoOf(i);
    EXPECT_EQ(s.position, first.position) << "replica " << i;
    EXPECT_EQ(s.digest, first.digest) << "replica " << i << " differs from replica 0 at position " << s.position;
  }
  for (int w = 0; w < 3; ++w) {
    EXPECT_GT(tallies[w].acked, 0) << "writer " << w;
    EXPECT_GE(first.position, tallies[w].max_position);
    for (int i = 0; i < 3; ++i) {
      // Every acknowledged add is there once; writes whose answer was lost
      // may or may not be.
      const int64_t added = Population(i, leaves[w]) - before[w];
      EXPECT_GE(added, tallies[w].acked) << "replica " << i << " lost acknowledged writes of writer " << w;
      EXPECT_LE(added, tallies[w].acked + tallies[w].uncertain) << "replica " << i << " applied a write twice";
    }
  }
  EXPECT_EQ(unanswered.load(), 0) << "reads left unanswered by all three replicas";
  EXPECT_GT(reads.load(), 100);

  // A replica that joins late with an empty data directory catches up.
  replicas_.push_back(StartReplica(3));
  ASSERT_NE(replicas_[3]->port(), 0u) << replicas_[3]->Log();
  ASSERT_TRUE(Converged({0, 3})) << replicas_[3]->Log();
  EXPECT_EQ(InfoOf(3).digest, InfoOf(0).digest);
  EXPECT_TRUE(InfoOf(3).ready);
  for (int w = 0; w < 3; ++w) EXPECT_EQ(Population(3, leaves[w]), Population(0, leaves[w]));
}

TEST_F(ClusterTest, WithoutAQuorumWritesAreRefusedAndReadsGoOn) {
  replicas_.push_back(StartReplica(0));
  ASSERT_NE(replicas_[0]->port(), 0u) << replicas_[0]->Log();
  const int64_t before = Population(0, "g1_1");
  rpc::Client c(Address(0));
  auto writer = [&c] {
    auto r = c.gridtree().writerRequest();
    r.setToken(kToken);
    return r.send().getWriter();
  };
  auto add = [&]() {
    auto req = writer().applyRequest();
    auto u = req.initUpdates(1)[0];
    u.setLeaf("g1_1");
    u.setMetric("population");
    u.setOp(proto::MetricUpdate::Op::ADD);
    u.setValue(10);
    return req.send().wait(c.wait_scope()).getPosition();
  };
  ASSERT_GT(add(), 0u);
  nats_->Kill(1);
  nats_->Kill(2);
  // Writes whose fate is not known ("not acknowledged": JetStream may store
  // them once the servers are back) bound what may appear beyond the
  // acknowledged ones; "not stored" ones must never appear.
  int unknown = 0;
  auto note = [&unknown](const kj::Exception& e) {
    const std::string why = e.getDescription().cStr();
    if (why.find("not acknowledged") != std::string::npos) ++unknown;
    return why;
  };
  std::string refusal;
  try {
    add();
  } catch (const kj::Exception& e) {
    refusal = note(e);
  }
  // "not stored" when no server answers for the stream, "not acknowledged"
  // when one took it but could not reach a quorum in time.
  EXPECT_TRUE(refusal.find("not stored") != std::string::npos || refusal.find("not acknowledged") != std::string::npos)
      << refusal;
  EXPECT_NE(refusal.find("quorum"), std::string::npos) << refusal;
  // Reads go on from the replica's state.
  EXPECT_EQ(Population(0, "g1_1"), before + 10);
  nats_->Start(1);
  nats_->Start(2);
  uint64_t position = 0;
  for (auto end = Clock::now() + std::chrono::seconds(30); Clock::now() < end && position == 0;) {
    try {
      position = add();
    } catch (const kj::Exception& e) {
      note(e);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  ASSERT_GT(position, 0u) << "writes did not resume once the NATS servers were back";
  // The acknowledged writes are there, and at most the unknown ones besides.
  rpc::Client at(Address(0));
  at.ReadAtLeast(position);
  auto req = at.gridtree().aggregateRequest();
  req.initIds(1).set(0, "g1_1");
  const int64_t now = req.send().wait(at.wait_scope()).getAggregates()[0].getValues()[0];
  EXPECT_GE(now, before + 20);
  EXPECT_LE(now, before + 20 + 10 * unknown) << unknown << " writes of unknown fate";
}

TEST_F(ClusterTest, AReplicaOfAnotherImageIsRefusedNamingBoth) {
  replicas_.push_back(StartReplica(0));
  ASSERT_NE(replicas_[0]->port(), 0u) << replicas_[0]->Log();
  const std::string other = (dir_ / "other.gtimg").string();
  ASSERT_TRUE(WriteEngineImage(*testing::SmallEngine(6)->Read(), other).ok());
  auto stranger = StartReplica(1, other);
  ASSERT_NE(stranger->WaitExit(30), -1) << "a replica of another image was let in";
  const std::string log = stranger->Log();
  EXPECT_NE(log.find("belongs to another image"), std::string::npos) << log;
  EXPECT_NE(log.find("small.gtimg"), std::string::npos) << log;
  EXPECT_NE(log.find("other.gtimg"), std::string::npos) << log;
}

TEST_F(ClusterTest, AForeignMessageInTheStreamIsSkippedByEveryReplicaAlike) {
  for (int i = 0; i < 2; ++i) {
    replicas_.push_back(StartReplica(i));
    ASSERT_NE(replicas_[i]->port(), 0u) << replicas_[i]->Log();
  }
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_->Url(0).c_str()), NATS_OK);
  const std::string junk = "{\"op\":\"set\",\"leaf\":\"g0_0\",\"value\":1}";
  ASSERT_EQ(natsConnection_Publish(nc, "gridtree.grid", junk.data(), static_cast<int>(junk.size())), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc), NATS_OK);
  natsConnection_Destroy(nc);
  // A gridtree write after it, through replica 1.
  rpc::Client c(Address(1));
  auto wr = c.gridtree().writerRequest();
  wr.setToken(kToken);
  auto req = wr.send().getWriter().applyRequest();
  auto u = req.initUpdates(1)[0];
  u.setLeaf("g3_3");
  u.setMetric("population");
  u.setOp(proto::MetricUpdate::Op::SET);
  u.setValue(4242);
  const uint64_t position = req.send().wait(c.wait_scope()).getPosition();
  EXPECT_GE(position, 2u);
  ASSERT_TRUE(Converged({0, 1}));
  // Reading one's write over HTTP: at once at a position applied, 503
  // "lagging" past the wait for one that is not.
  EXPECT_EQ(HttpStatus(0, "/info?min_position=" + std::to_string(position)), 200);
  EXPECT_EQ(HttpStatus(0, "/info?min_position=" + std::to_string(position + 1000) + "&min_position_wait_ms=50"), 503);
  EXPECT_EQ(HttpStatus(0, "/info?min_position=x"), 400);
  EXPECT_EQ(HttpStatus(0, "/healthz/ready"), 200);
  for (int i = 0; i < 2; ++i) {
    const Seen s = InfoOf(i);
    EXPECT_EQ(s.skipped, 1u) << "replica " << i;
    EXPECT_EQ(s.digest, InfoOf(0).digest);
    EXPECT_EQ(Population(i, "g3_3"), 4242);
    EXPECT_NE(replicas_[i]->Log().find("event=cluster_message_skipped"), std::string::npos);
  }
}

TEST_F(ClusterTest, AReplicaRestartsFromItsCheckpointAndIsRefusedWhenTheStreamWasRecreated) {
  replicas_.push_back(StartReplica(0));
  ASSERT_NE(replicas_[0]->port(), 0u) << replicas_[0]->Log();
  {
    rpc::Client c(Address(0));
    auto wr = c.gridtree().writerRequest();
    wr.setToken(kToken);
    auto w = wr.send().getWriter();
    for (int k = 0; k < 5; ++k) {
      auto req = w.applyRequest();
      auto u = req.initUpdates(1)[0];
      u.setLeaf("g4_4");
      u.setMetric("households");
      u.setOp(proto::MetricUpdate::Op::SET);
      u.setValue(1000 + k);
      req.send().wait(c.wait_scope());
    }
  }
  // The checkpoint is written within --checkpoint-seconds, and on a clean stop.
  ::kill(replicas_[0]->pid(), SIGTERM);
  ASSERT_NE(replicas_[0]->WaitExit(20), -1);
  EXPECT_TRUE(fs::exists(dir_ / "replica0" / "checkpoint.bin"));
  replicas_[0] = StartReplica(0);
  ASSERT_NE(replicas_[0]->port(), 0u) << replicas_[0]->Log();
  EXPECT_NE(replicas_[0]->Log().find("checkpoint_position=5"), std::string::npos) << replicas_[0]->Log();
  ASSERT_TRUE(Converged({0}));
  EXPECT_EQ(InfoOf(0).position, 5u);
  replicas_[0].reset();

  // The stream is deleted and made anew: the checkpoint lies past its end.
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_->Urls().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  ASSERT_EQ(js_DeleteStream(js, "grid", nullptr, nullptr), NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  auto refused = StartReplica(0);
  ASSERT_NE(refused->WaitExit(30), -1) << refused->Log();
  EXPECT_NE(refused->Log().find("recreated or purged"), std::string::npos) << refused->Log();
}

TEST_F(ClusterTest, AReplicaJoiningPastTheTrimmedLogStartsFromThePublishedCheckpoint) {
  const std::vector<std::string> publish = {"--publish-checkpoint-positions", "20"};
  replicas_.push_back(StartReplica(0, "", "grid", publish));
  ASSERT_NE(replicas_[0]->port(), 0u) << replicas_[0]->Log();
  rpc::Client c(Address(0));
  auto wr = c.gridtree().writerRequest();
  wr.setToken(kToken);
  auto w = wr.send().getWriter();
  for (int k = 0; k < 90; ++k) {
    if (k % 3 == 0) {
      auto req = w.trackRequest();
      auto r = req.initReports(1)[0];
      r.setId("boat-" + std::to_string(k % 7));
      r.setKind("boat");
      r.setLon(112.005 + 0.01 * (k % 8));
      r.setLat(22.005 + 0.01 * (k % 5));
      req.send().wait(c.wait_scope());
      continue;
    }
    auto req = w.applyRequest();
    auto u = req.initUpdates(1)[0];
    u.setLeaf("g" + std::to_string(k % 8) + "_" + std::to_string(k % 6));
    u.setMetric("population");
    u.setOp(proto::MetricUpdate::Op::ADD);
    u.setValue(k);
    req.send().wait(c.wait_scope());
  }
  // The log no longer starts at 1: it was trimmed behind a published checkpoint.
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_->Urls().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  ASSERT_EQ(js_GetStreamInfo(&si, js, "grid", nullptr, nullptr), NATS_OK);
  const uint64_t first = si->State.FirstSeq;
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  EXPECT_GT(first, 1u);
  EXPECT_NE(replicas_[0]->Log().find("event=cluster_checkpoint_published"), std::string::npos);

  // A new replica with nothing starts from the published checkpoint and
  // reads the rest of the log: the same state as the replica that saw it all.
  replicas_.push_back(StartReplica(1, "", "grid", publish));
  ASSERT_NE(replicas_[1]->port(), 0u) << replicas_[1]->Log();
  EXPECT_NE(replicas_[1]->Log().find("event=cluster_checkpoint_fetched"), std::string::npos) << replicas_[1]->Log();
  ASSERT_TRUE(Converged({0, 1})) << replicas_[1]->Log();
  EXPECT_EQ(InfoOf(1).digest, InfoOf(0).digest);
  EXPECT_EQ(InfoOf(1).position, 90u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Population(1, "g" + std::to_string(i) + "_" + std::to_string(i % 6)),
                                        Population(0, "g" + std::to_string(i) + "_" + std::to_string(i % 6)));
}

}  // namespace
}  // namespace gridtree
