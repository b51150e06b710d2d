// A damaged write-ahead log never turns into a silently shorter history: a
// bad record with valid records behind it is refused (file untouched), only
// a bad last record is cut as a torn tail, `RecoverDataDir` is the explicit
// way out, and one process at a time holds a data directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "crash_batches.h"
#include "data_dir_fixture.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/read_file.h"
#include "small_dataset.h"

namespace {

using namespace gridtree;
namespace fs = std::filesystem;

constexpr uint64_t kRecords = 60;

std::string ReadBytes(const fs::path& p) {
  auto bytes = ReadWholeFile(p.string());
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? std::move(bytes).value() : std::string();
}
void WriteBytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// Offsets of the records in a log, read from the documented format (32-byte
// header, then [u32 length][u32 crc][payload of `length` bytes]).
std::vector<size_t> RecordOffsets(const std::string& bytes) {
  std::vector<size_t> out;
  for (size_t pos = 32; pos + 8 <= bytes.size();) {
    uint32_t len;
    std::memcpy(&len, bytes.data() + pos, 4);
    out.push_back(pos);
    pos += 8 + len;
  }
  return out;
}

class WalCorruptionTest : public gridtree::testing::DataDirTest {
 protected:
  WalCorruptionTest() : DataDirTest("gridtree-walc") {}

  Result<std::unique_ptr<Engine>> Open(const fs::path& data) {
    EngineOptions o;
    o.threads = 1;
    o.data_dir = data.string();
    return Engine::Open(dataset_, o);
  }
  // Writes kRecords batches to dir_/good and returns the log's bytes.
  std::string WriteGoodLog() {
    auto e = Open(dir_ / "good");
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    const auto base = e.value()->Read();
    for (uint64_t v = 1; v <= kRecords; ++v) EXPECT_TRUE(e.value()->Apply(gridtree::testing::CrashBatch(*base, v)).ok());
    return ReadBytes(dir_ / "good" / "wal.log");
  }
};

TEST_F(WalCorruptionTest, ABitFlipInAnyRecordIsRefusedOrKeepsEveryValidRecord) {
  const std::string good = WriteGoodLog();
  const std::vector<size_t> offsets = RecordOffsets(good);
  ASSERT_EQ(offsets.size(), kRecords);
  const auto full = ValuesAfterBatches(kRecords), all_but_last = ValuesAfterBatches(kRecords - 1);
  // One flipped bit in the length, the checksum, the version and a value of
  // every record.
  for (size_t r = 0; r < kRecords; ++r) {
    for (size_t field : {size_t{1}, size_t{5}, size_t{8 + 2}, size_t{8 + 12 + 9}}) {
      std::string bad = good;
      bad[offsets[r] + field] = static_cast<char>(bad[offsets[r] + field] ^ 0x10);
      const fs::path data = dir_ / "flip";
      fs::remove_all(data);
      fs::create_directories(data);
      WriteBytes(data / "wal.log", bad);
      auto e = Open(data);
      const std::string where = "record " + std::to_string(r) + " byte " + std::to_string(field);
      if (r + 1 < kRecords) {
        // Valid records follow: corruption of acknowledged batches.
        ASSERT_FALSE(e.ok()) << where;
        EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition) << where;
        const std::string& m = e.status().message();
        EXPECT_NE(m.find("wal.log is corrupt"), std::string::npos) << where << ": " << m;
        EXPECT_NE(m.find("at offset " + std::to_string(offsets[r]) + " where version " + std::to_string(r + 1)),
                  std::string::npos)
            << where << ": " << m;
        EXPECT_NE(m.find("--discard-after " + std::to_string(r)), std::string::npos) << where << ": " << m;
        EXPECT_EQ(ReadBytes(data / "wal.log"), bad) << where << ": the log was changed";
      } else {
        // The last record: a torn tail, cut and reported, the rest kept.
        ASSERT_TRUE(e.ok()) << where << ": " << e.status().ToString();
        EXPECT_EQ(e.value()->Read()->version(), kRecords - 1) << where;
        EXPECT_EQ(LeafValues(*e.value()), all_but_last) << where;
        EXPECT_NE(e.value()->recovery_report().find("torn tail"), std::string::npos) << e.value()->recovery_report();
      }
    }
  }
  // And the undamaged log gives every batch back.
  auto e = Open(dir_ / "good");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value()->Read()->version(), kRecords);
  EXPECT_EQ(LeafValues(*e.value()), full);
}

TEST_F(WalCorruptionTest, RecoverKeepsTheVersionsBeforeTheDamageAndACopy) {
  const std::string good = WriteGoodLog();
  const std::vector<size_t> offsets = RecordOffsets(good);
  std::string bad = good;
  bad[offsets[30] + 8 + 12 + 3] ^= 0x01;  // version 31's first value
  const fs::path data = dir_ / "good";
  WriteBytes(data / "wal.log", bad);
  ASSERT_FALSE(Open(data).ok());

  auto too_far = RecoverDataDir(data.string(), 31);
  ASSERT_FALSE(too_far.ok());
  EXPECT_NE(too_far.status().message().find("only up to version 30"), std::string::npos) << too_far.status().message();
  EXPECT_EQ(ReadBytes(data / "wal.log"), bad);

  auto done = RecoverDataDir(data.string(), 30);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_NE(done.value().find("kept 30 record(s) through version 30"), std::string::npos) << done.value();
  // The original is kept byte for byte.
  int copies = 0;
  for (const auto& f : fs::directory_iterator(data))
    if (f.path().filename().string().rfind("wal.log.before-recover-", 0) == 0) {
      ++copies;
      EXPECT_EQ(ReadBytes(f.path()), bad);
    }
  EXPECT_EQ(copies, 1);

  auto e = Open(data);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e.value()->Read()->version(), 30u);
  EXPECT_EQ(LeafValues(*e.value()), ValuesAfterBatches(30));
  // Writing goes on from there.
  auto v = e.value()->Apply(gridtree::testing::CrashBatch(*e.value()->Read(), 31));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), 31u);
}

// A crash can leave zeros where unsynced pages never reached the disk, with
// later unsynced pages behind them; nothing there was acknowledged, so it
// is a torn tail, not corruption (a flipped bit never zeroes a record).
TEST_F(WalCorruptionTest, AZeroFilledHoleBeforeUnsyncedRecordsIsATornTail) {
  const std::string good = WriteGoodLog();
  const std::vector<size_t> offsets = RecordOffsets(good);
  std::string holed = good;
  std::fill(holed.begin() + static_cast<long>(offsets[50]), holed.begin() + static_cast<long>(offsets[52]), '\0');
  WriteBytes(dir_ / "good" / "wal.log", holed);
  auto e = Open(dir_ / "good");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e.value()->Read()->version(), 50u);
  EXPECT_EQ(LeafValues(*e.value()), ValuesAfterBatches(50));
  EXPECT_NE(e.value()->recovery_report().find("zero-filled hole"), std::string::npos) << e.value()->recovery_report();
}

TEST_F(WalCorruptionTest, ASecondEngineOnTheSameDataDirectoryIsRefusedWithTheHoldersPid) {
  auto first = Open(dir_ / "data");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Open(dir_ / "data");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by process " + std::to_string(::getpid())), std::string::npos)
      << second.status().message();
  auto recover = RecoverDataDir((dir_ / "data").string(), 0);
  EXPECT_FALSE(recover.ok()) << "recover must not run beside a live engine";
  first.value().reset();
  EXPECT_TRUE(Open(dir_ / "data").ok());
}

TEST_F(WalCorruptionTest, AFailedCheckpointLeavesNoTemporaryFile) {
  auto e = Open(dir_ / "data");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e.value()->Apply(gridtree::testing::CrashBatch(*e.value()->Read(), 1)).ok());
  // A folder where the checkpoint should go: the rename fails.
  fs::create_directories(dir_ / "data" / "wal.checkpoint" / "in-the-way");
  EXPECT_FALSE(e.value()->Checkpoint().ok());
  EXPECT_FALSE(fs::exists(dir_ / "data" / "wal.checkpoint.tmp"));
}

}  // namespace
