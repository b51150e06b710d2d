// Fuzz target: a data directory's write-ahead log (wal.log), as opened at
// start-up (replay, torn tail, corruption in the middle) and repaired by
// `gridtree recover`. The input is the log's bytes; its first byte also
// picks the version recovery keeps through.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "storage/wal.h"

using namespace gridtree;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path dir = fuzz::ScratchDir() / "data";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  (void)fuzz::WriteScratch("data/wal.log", data, size);
  // The fingerprint of the seed logs (tests/fuzz/corpus/wal).
  constexpr uint64_t kFingerprint = 0x6772696474726565;
  std::vector<internal::WalRecord> replay;
  std::string report;
  {
    auto log = internal::WriteAheadLog::Open(dir.string(), kFingerprint, 0, replay, report);
    if (log.ok()) {
      // A log that opened takes one more record, as after a restart.
      internal::WalRecord next;
      next.version = replay.empty() ? 1 : replay.back().version + 1;
      next.values.push_back({0, 0, 42});
      (void)log.value()->Append(next);
    }
  }
  (void)internal::RecoverLog(dir.string(), size ? data[0] : 0);
  return 0;
}
