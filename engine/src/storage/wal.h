// Durability: the write-ahead log of applied update batches and the
// checkpoint file of leaf values that Engine::Checkpoint writes.
//
// wal.log: a 32-byte header (magic "GTWAL001", dataset fingerprint, base
// version, CRC32C) then records [u32 length][u32 CRC32C][payload], payload =
// u64 version, u32 count, count x (u32 leaf, u32 metric, i64 new value).
// Records hold absolute values, so replay is idempotent. A torn tail (a
// crash mid-write: a bad record with nothing valid after it) is reported,
// cut off, and never half-applied. A bad record followed by a valid one is
// corruption of acknowledged data: Open refuses, changes nothing, and names
// the offset and versions; RecoverLog is the explicit way out.
//
// wal.checkpoint: magic "GTSNAP01", fingerprint, version, leaf and metric
// counts, the values, CRC32C. Written to a temporary file, fsync'ed, renamed.
// Data directories of earlier versions hold it as snapshot.bin, which is
// read when there is no wal.checkpoint and removed by the next checkpoint.
//
// Thread safety: none; the engine serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gridtree/engine/status.h"
#include "gridtree/engine/write_file.h"

namespace gridtree::internal {

uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
// The same with a lookup table, on any machine (Crc32c uses SSE4.2 where
// the CPU has it).
uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc = 0);

struct LeafValue {
  uint32_t leaf;
  uint32_t metric;
  int64_t value;
};

struct WalRecord {
  uint64_t version = 0;
  std::vector<LeafValue> values;
};

struct CheckpointFile {
  uint64_t version = 0;
  std::vector<int64_t> leaf_values;  // leaf * metric_count + metric
};

class WriteAheadLog {
 public:
  // Opens dir/wal.log (creating dir and log when absent). Records after
  // base_version are returned in replay, in order; report says what was
  // found (records, a torn tail cut off).
  static Result<std::unique_ptr<WriteAheadLog>> Open(const std::string& dir, uint64_t fingerprint,
                                                     uint64_t base_version, std::vector<WalRecord>& replay,
                                                     std::string& report);
  ~WriteAheadLog();

  Status Append(const WalRecord& record);  // write(2) only
  Status Sync();                           // fdatasync: everything appended is durable
  // After a checkpoint at base_version: an empty log replaces the old one.
  Status Rotate(uint64_t base_version);
  // After a reload: an empty log for another dataset.
  Status Reset(uint64_t fingerprint);
  int64_t size_bytes() const { return size_; }
  // A failed write, fsync or rotation leaves the log in a state where later
  // acknowledged batches could be lost; from then on every call fails and
  // the engine must be reopened (recovery keeps every durable batch).
  bool broken() const { return !broken_.empty(); }

 private:
  WriteAheadLog(std::string dir, uint64_t fingerprint) : dir_(std::move(dir)), fingerprint_(fingerprint) {}
  std::string dir_;
  uint64_t fingerprint_;
  Status Break(Status why);
  int fd_ = -1;
  int64_t size_ = 0;
  std::string broken_;
};

// Keeps the records of dir/wal.log up to keep_through_version and drops the
// rest, after copying the original to dir/wal.log.before-recover-<time>.
// Refuses a version past the first bad record or before the log's base.
// Returns what it did.
Result<std::string> RecoverLog(const std::string& dir, uint64_t keep_through_version);

// Takes dir/lock (flock, released when the process exits or the lock is
// destroyed) so that one process at a time writes a data directory; the
// file holds the holder's PID for the message a second process gets.
class DataDirLock {
 public:
  static Result<std::unique_ptr<DataDirLock>> Acquire(const std::string& dir);
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// The public writer (gridtree/engine/write_file.h), by its internal name too.
using gridtree::WriteFileAtomically;

// The checkpoint file of a data directory: wal.checkpoint, or the
// snapshot.bin of an earlier version when only that exists.
std::string CheckpointPath(const std::string& dir);

Status WriteCheckpoint(const std::string& dir, uint64_t fingerprint, uint64_t version, size_t leaf_count,
                       size_t metric_count, const std::vector<int64_t>& leaf_values);
// nullopt when there is no checkpoint yet.
Result<std::optional<CheckpointFile>> ReadCheckpoint(const std::string& dir, uint64_t fingerprint, size_t leaf_count,
                                                     size_t metric_count);

}  // namespace gridtree::internal
