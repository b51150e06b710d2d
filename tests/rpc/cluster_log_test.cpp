// ClusterLog in one process, on plain threads (and so under
// ThreadSanitizer): writers on several threads, the log's reader applying,
// status readers and checkpoint requests all at once, against one
// nats-server. The oracle is arithmetic: every acknowledged add is in the
// value once, and positions count every write.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "../small_dataset.h"
#include "cluster_log.h"
#include "nats_cluster.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;

int64_t Population(const Engine& engine, const std::string& leaf) {
  auto view = engine.Read();
  return view->Metric(*view->Find(leaf), *view->MetricIndex("population"));
}

TEST(ClusterLogInProcess, ConcurrentWritersStatusReadersAndCheckpointsAgreeWithTheSums) {
  if (!testing::HaveNatsServer()) GTEST_SKIP() << "nats-server is not installed (scripts/install-deps.sh)";
  const fs::path dir = fs::path(::testing::TempDir()) / ("gridtree-cluster-log-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  testing::NatsCluster nats(dir / "nats", 1);
  ASSERT_TRUE(nats.WaitForLeader());
  ASSERT_TRUE(nats.WaitForJetStream());
  auto engine = testing::SmallEngine(8);
  const std::vector<std::string> leaves = {"g0_0", "g1_2", "g3_1", "g6_6"};
  std::vector<int64_t> before;
  for (const std::string& leaf : leaves) before.push_back(Population(*engine, leaf));

  cluster::ClusterOptions options;
  options.servers = {nats.Url(0)};
  options.stream = "inproc";
  options.data_dir = (dir / "replica").string();
  options.checkpoint_every_positions = 25;
  options.publish_checkpoint_every_positions = 40;
  auto started = cluster::ClusterLog::Start(*engine, options);
  ASSERT_TRUE(started.ok()) << started.status().message();
  std::unique_ptr<cluster::ClusterLog> log = std::move(started).value();

  constexpr int kWrites = 60;
  std::atomic<int> acked{0}, failed{0};
  std::atomic<uint64_t> max_position{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < leaves.size(); ++w)
    threads.emplace_back([&, w] {
      for (int k = 0; k < kWrites; ++k) {
        std::promise<Result<rpc::WriteAck>> answer;
        UpdateBatch batch;
        batch.updates.push_back({leaves[w], "population", MetricUpdate::Op::kAdd, 1});
        log->Apply(std::move(batch), [&answer](Result<rpc::WriteAck> r) { answer.set_value(std::move(r)); });
        auto r = answer.get_future().get();
        if (!r.ok()) {
          ++failed;
          continue;
        }
        ++acked;
        uint64_t seen = max_position.load();
        while (r->position > seen && !max_position.compare_exchange_weak(seen, r->position)) {
        }
      }
    });
  threads.emplace_back([&] {  // position reports, in between
    for (int k = 0; k < 30; ++k) {
      std::promise<Result<rpc::WriteAck>> answer;
      log->Track({{"boat-" + std::to_string(k % 5), "boat", 112.005 + 0.01 * (k % 8), 22.005, 0}},
                 [&answer](Result<rpc::WriteAck> r) { answer.set_value(std::move(r)); });
      EXPECT_TRUE(answer.get_future().get().ok());
    }
  });
  std::atomic<bool> stop{false};
  std::thread watcher([&] {  // status and checkpoints while it all happens
    while (!stop) {
      const rpc::ReplicaStatus s = log->status();
      EXPECT_LE(s.digest_position, s.position);
      EXPECT_TRUE(log->Checkpoint().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  watcher.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(acked.load(), static_cast<int>(leaves.size()) * kWrites);
  // Every acknowledged write was applied here before it was answered.
  for (size_t w = 0; w < leaves.size(); ++w) EXPECT_EQ(Population(*engine, leaves[w]), before[w] + kWrites);
  EXPECT_EQ(log->applied_position(), static_cast<uint64_t>(leaves.size() * kWrites + 30));
  EXPECT_EQ(max_position.load() <= log->applied_position(), true);
  EXPECT_EQ(engine->object_count(), 5u);
  log.reset();  // stops the reader, writes the last checkpoint
  EXPECT_TRUE(fs::exists(dir / "replica" / "checkpoint.bin"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gridtree
