// Durability: the write-ahead log and snapshots survive restarts, a torn
// tail is cut off and reported, a log of another dataset is refused, and a
// writer killed with SIGKILL at random moments loses no acknowledged batch.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash_batches.h"
#include "data_dir_fixture.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "small_dataset.h"
#include "storage/wal.h"  // engine/src: the checksum of logs and checkpoints

extern char** environ;

namespace {

using namespace gridtree;
using Op = MetricUpdate::Op;
namespace fs = std::filesystem;

class DurabilityTest : public gridtree::testing::DataDirTest {
 protected:
  DurabilityTest() : DataDirTest("gridtree-dur") {}
  std::unique_ptr<Engine> Open(const std::string& data = "data") {
    EngineOptions o;
    o.threads = 1;
    o.data_dir = (dir_ / data).string();
    auto e = Engine::Open(dataset_, o);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(e.value()) : nullptr;
  }
  // Five rounds of a writer process killed mid-stream, each followed by a
  // recovery that must hold every acknowledged batch.
  void KillWriterRounds();
};

TEST_F(DurabilityTest, BatchesSurviveRestartWithAndWithoutCheckpoint) {
  std::vector<int64_t> expected;
  {
    auto e = Open();
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 42}}}).ok());
    ASSERT_TRUE(e->Checkpoint().ok());
    ASSERT_TRUE(e->Apply({{{"g2_2", "households", Op::kAdd, 5}, {"g1_1", "population", Op::kAdd, 1}}}).ok());
    expected = LeafValues(*e);
  }
  auto e = Open();
  EXPECT_EQ(e->Read()->version(), 2u);
  EXPECT_EQ(LeafValues(*e), expected);
  EXPECT_NE(e->recovery_report().find("1 replayed"), std::string::npos) << e->recovery_report();
}

// A data directory of an earlier version holds its checkpoint as
// snapshot.bin: it is read when there is no wal.checkpoint, and the next
// checkpoint replaces it (storage/wal.h).
TEST_F(DurabilityTest, AnEarlierVersionsSnapshotBinIsReadThenReplaced) {
  std::vector<int64_t> expected;
  {
    auto e = Open();
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 42}}}).ok());
    ASSERT_TRUE(e->Checkpoint().ok());
    ASSERT_TRUE(e->Apply({{{"g2_2", "households", Op::kAdd, 5}}}).ok());
    expected = LeafValues(*e);
  }
  const fs::path data = dir_ / "data";
  ASSERT_TRUE(fs::exists(data / "wal.checkpoint"));
  fs::rename(data / "wal.checkpoint", data / "snapshot.bin");  // as the earlier version named it
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->Read()->version(), 2u);
    EXPECT_EQ(LeafValues(*e), expected);
    ASSERT_TRUE(e->Checkpoint().ok());
  }
  EXPECT_TRUE(fs::exists(data / "wal.checkpoint"));
  EXPECT_FALSE(fs::exists(data / "snapshot.bin"));
  auto e = Open();
  EXPECT_EQ(LeafValues(*e), expected);
}

TEST_F(DurabilityTest, TornTailIsReportedAndIgnored) {
  std::vector<int64_t> after_two;
  {
    auto e = Open();
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 1}}}).ok());
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 2}}}).ok());
    after_two = LeafValues(*e);
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 3}}}).ok());
  }
  // Cut the last record in half: a crash in the middle of a write.
  const fs::path log = dir_ / "data" / "wal.log";
  fs::resize_file(log, fs::file_size(log) - 10);
  {
    auto e = Open();
    EXPECT_EQ(e->Read()->version(), 2u);
    EXPECT_EQ(LeafValues(*e), after_two);
    EXPECT_NE(e->recovery_report().find("torn"), std::string::npos) << e->recovery_report();
    // Writing goes on after the cut.
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 9}}}).ok());
  }
  // Flip a byte inside the last record: its checksum fails.
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x7f');
  }
  auto e = Open();
  EXPECT_EQ(e->Read()->version(), 2u);
  EXPECT_NE(e->recovery_report().find("bad checksum"), std::string::npos) << e->recovery_report();
}

TEST_F(DurabilityTest, ALogOfAnotherDatasetIsRefused) {
  {
    auto e = Open();
    ASSERT_TRUE(e->Apply({{{"g1_1", "population", Op::kSet, 1}}}).ok());
  }
  std::ofstream(dataset_) << gridtree::testing::SmallDatasetGeoJson(6);
  EngineOptions o;
  o.threads = 1;
  o.data_dir = (dir_ / "data").string();
  auto e = Engine::Open(dataset_, o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(e.status().message().find("wal.log belongs to another dataset"), std::string::npos)
      << e.status().message();
}

// Kill the writer with SIGKILL at random moments, restart, and compare with
// an in-memory replay of batches 1..V: V is at least the last acknowledged
// version, and nothing else (no partial batch) is there.
TEST_F(DurabilityTest, SigkillNeverLosesAnAcknowledgedBatch) { KillWriterRounds(); }

// The same with the dataset mapped from an engine image: updates copy the
// chunks they change, the log and checkpoints work as with GeoJSON.
TEST_F(DurabilityTest, SigkillNeverLosesAnAcknowledgedBatchOnAMappedImage) {
  const std::string image = (dir_ / "small.gtimg").string();
  {
    EngineOptions one_thread;  // no TBB work: the test runs under ThreadSanitizer too
    one_thread.threads = 1;
    auto built = Engine::Open(dataset_, one_thread);
    ASSERT_TRUE(built.ok());
    ASSERT_TRUE(WriteEngineImage(*built.value()->Read(), image).ok());
  }
  dataset_ = image;
  KillWriterRounds();
}

void DurabilityTest::KillWriterRounds() {
  std::mt19937 rng(5);
  uint64_t acked = 0;
  for (int round = 0; round < 5; ++round) {
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const std::string data = (dir_ / "data").string();
    char* argv[] = {const_cast<char*>(GRIDTREE_CRASH_WRITER), dataset_.data(), const_cast<char*>(data.c_str()),
                    nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, GRIDTREE_CRASH_WRITER, &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    FILE* in = ::fdopen(out[0], "r");
    // Read acknowledgements for a random while, then kill mid-stream.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50 + rng() % 300);
    char line[64];
    while (std::chrono::steady_clock::now() < deadline && std::fgets(line, sizeof line, in)) {
      unsigned long long v;
      if (std::sscanf(line, "acked %llu", &v) == 1) acked = v;
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::fclose(in);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own: " << status;

    auto recovered = Open();
    ASSERT_NE(recovered, nullptr);
    const uint64_t v = recovered->Read()->version();
    ASSERT_GE(v, acked) << "round " << round;
    ASSERT_EQ(LeafValues(*recovered), ValuesAfterBatches(v)) << "round " << round << " version " << v;
    acked = v;
  }
  EXPECT_GT(acked, 5u);
}

}  // namespace

namespace {

// Logs and snapshots carry CRC32C (Castagnoli). The SSE4.2 path and the
// table give the same value for every length and alignment, and both match
// the published check value of "123456789".
TEST(Checksum, Crc32cMatchesTheStandardAndThePortableTable) {
  EXPECT_EQ(gridtree::internal::Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(gridtree::internal::Crc32cPortable("123456789", 9), 0xE3069283u);
  std::mt19937 rng(5);
  std::vector<unsigned char> bytes(4096);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  for (size_t offset : {0, 1, 3, 7})
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 1000, 4000}) {
      EXPECT_EQ(gridtree::internal::Crc32c(bytes.data() + offset, n),
                gridtree::internal::Crc32cPortable(bytes.data() + offset, n))
          << offset << " " << n;
      EXPECT_EQ(gridtree::internal::Crc32c(bytes.data() + offset, n, 0x1234u),
                gridtree::internal::Crc32cPortable(bytes.data() + offset, n, 0x1234u));
    }
}

}  // namespace
