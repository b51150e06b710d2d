#include "storage/wal.h"

#include <cerrno>
#include <cstring>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <ctime>
#include <unistd.h>

#include "gridtree/engine/read_file.h"

namespace gridtree::internal {
namespace {

constexpr char kWalMagic[8] = {'G', 'T', 'W', 'A', 'L', '0', '0', '1'};
constexpr char kSnapMagic[8] = {'G', 'T', 'S', 'N', 'A', 'P', '0', '1'};
constexpr char kCheckpointFile[] = "wal.checkpoint";  // not checkpoint.bin: a cluster replica's file
constexpr char kOldCheckpointFile[] = "snapshot.bin";  // its earlier name: read, then replaced
constexpr size_t kHeaderSize = 32;

struct CrcTable {
  uint32_t t[256];
  CrcTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // Castagnoli
      t[i] = c;
    }
  }
};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

Status WriteAll(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(Errno("write " + path));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return IoError(Errno("open " + dir));
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : IoError(Errno("fsync " + dir));
}

}  // namespace
}  // namespace gridtree::internal

namespace gridtree {

Status WriteFileAtomically(const std::string& dir, const std::string& name, const std::string& bytes) {
  using internal::Errno, internal::WriteAll, internal::SyncDir;
  const std::string tmp = dir + "/" + name + ".tmp", path = dir + "/" + name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(Errno("create " + tmp));
  Status s = WriteAll(fd, bytes, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = IoError(Errno("fsync " + tmp));
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = IoError(Errno("rename " + tmp));
  if (!s.ok()) {
    ::unlink(tmp.c_str());  // a failed write leaves nothing behind
    return s;
  }
  return SyncDir(dir);
}

}  // namespace gridtree

namespace gridtree::internal {
namespace {

std::string Header(uint64_t fingerprint, uint64_t base_version) {
  std::string h(kWalMagic, 8);
  Put(h, fingerprint);
  Put(h, base_version);
  Put(h, Crc32c(h.data(), h.size()));
  Put(h, uint32_t{0});
  return h;
}

}  // namespace

uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc) {
  static const CrcTable table;
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table.t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
namespace {
// SSE4.2's crc32 instruction computes CRC32C, eight bytes at a time: a
// multi-gigabyte checkpoint is checked in a fraction of a second instead of
// seconds with the table.
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}
}  // namespace
#endif

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
#if defined(__x86_64__)
  static const bool sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) return Crc32cSse42(data, n, crc);
#endif
  return Crc32cPortable(data, n, crc);
}

namespace {

// One record as found in the log bytes.
struct RecordAt {
  size_t offset = 0;  // of its length field
  uint32_t length = 0;
  uint64_t version = 0;
  uint32_t count = 0;
};

// Why the bytes at `offset` are not the record of version `expect`, or
// nullopt when they are (then `out` is filled).
std::optional<std::string> ParseRecord(const std::string& bytes, size_t offset, uint64_t expect, RecordAt& out) {
  if (bytes.size() - offset < 8) return "a partial record header";
  const uint32_t len = Get<uint32_t>(bytes.data() + offset);
  const uint32_t crc = Get<uint32_t>(bytes.data() + offset + 4);
  if (len < 12 || len > bytes.size() - offset - 8) return "a record longer than the file";
  const char* p = bytes.data() + offset + 8;
  if (Crc32c(p, len) != crc) return "a record with a bad checksum";
  const uint64_t version = Get<uint64_t>(p);
  const uint32_t count = Get<uint32_t>(p + 8);
  if (len != 12 + static_cast<uint64_t>(count) * 16) return "a record whose length does not match its count";
  if (version != expect) return "a record out of sequence (version " + std::to_string(version) + ")";
  out = {offset, len, version, count};
  return std::nullopt;
}

// The first well-formed record (length, checksum, count) at or after `from`
// whose version comes after `after`: what tells a corrupt record in the
// middle of the log from a torn tail. A torn write only ever damages the end
// of the file, so anything valid behind a bad record means the bad record
// held an acknowledged batch.
std::optional<RecordAt> FindLaterRecord(const std::string& bytes, size_t from, uint64_t after) {
  for (size_t q = from; q + 8 + 12 <= bytes.size(); ++q) {
    const uint32_t len = Get<uint32_t>(bytes.data() + q);
    if (len < 12 || len > bytes.size() - q - 8) continue;
    const char* p = bytes.data() + q + 8;
    const uint64_t version = Get<uint64_t>(p);
    const uint32_t count = Get<uint32_t>(p + 8);
    if (version <= after || len != 12 + static_cast<uint64_t>(count) * 16) continue;
    if (Crc32c(p, len) != Get<uint32_t>(bytes.data() + q + 4)) continue;
    return RecordAt{q, len, version, count};
  }
  return std::nullopt;
}

bool AllZero(const std::string& bytes, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i)
    if (bytes[i] != 0) return false;
  return true;
}

// A log read and checked: its header, the run of good records from the
// start, and where and why that run ends.
struct LogScan {
  uint64_t fingerprint = 0;
  uint64_t base = 0;
  std::vector<RecordAt> records;
  size_t end = 0;                    // offset after the last good record
  std::string bad;                   // why the bytes at `end` are not a record; empty: the log is whole
  std::optional<RecordAt> resumes;   // a valid record behind the bad one: corruption, not a torn tail
};

Result<LogScan> ScanLog(const std::string& path, std::string& bytes) {
  auto read = ReadWholeFile(path);
  if (!read.ok()) return read.status();
  bytes = std::move(read).value();
  if (bytes.size() < kHeaderSize || std::memcmp(bytes.data(), kWalMagic, 8) != 0 ||
      Get<uint32_t>(bytes.data() + 24) != Crc32c(bytes.data(), 24))
    return FailedPrecondition(path + " is not a gridtree write-ahead log (bad header)");
  LogScan scan;
  scan.fingerprint = Get<uint64_t>(bytes.data() + 8);
  scan.base = Get<uint64_t>(bytes.data() + 16);
  size_t pos = kHeaderSize;
  uint64_t expect = scan.base + 1;
  while (pos < bytes.size()) {
    RecordAt r;
    if (auto why = ParseRecord(bytes, pos, expect, r)) {
      scan.bad = *why;
      // From pos itself: a record there with a good checksum but the wrong
      // version or count was written whole, so it is no torn write.
      scan.resumes = FindLaterRecord(bytes, pos, expect - 1);
      if (scan.resumes && AllZero(bytes, pos, scan.resumes->offset)) {
        // A crash can leave a hole of zeros where unsynced pages never
        // reached the disk, with later unsynced pages behind it: nothing
        // there was acknowledged (an acknowledged batch was fsync'ed whole).
        scan.bad = "a zero-filled hole of " + std::to_string(scan.resumes->offset - pos) +
                   " byte(s) with unsynced records behind it";
        scan.resumes.reset();
      }
      break;
    }
    scan.records.push_back(r);
    ++expect;
    pos += 8 + r.length;
  }
  scan.end = pos;
  return scan;
}

std::string CorruptionMessage(const std::string& path, const std::string& dir, const LogScan& scan) {
  const uint64_t last_good = scan.records.empty() ? scan.base : scan.records.back().version;
  return path + " is corrupt: " + scan.bad + " at offset " + std::to_string(scan.end) + " where version " +
         std::to_string(last_good + 1) + " should be, followed by a valid record of version " +
         std::to_string(scan.resumes->version) + " at offset " + std::to_string(scan.resumes->offset) +
         ", so acknowledged batches would be lost. Nothing was changed. Restore the file from a backup, or keep "
         "versions up to " + std::to_string(last_good) + " and drop the rest with `gridtree recover --data-dir " +
         dir + " --discard-after " + std::to_string(last_good) + "` (it keeps a copy of the log; docs/operations.md)";
}

}  // namespace

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(const std::string& dir, uint64_t fingerprint,
                                                           uint64_t base_version, std::vector<WalRecord>& replay,
                                                           std::string& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create data directory " + dir + ": " + ec.message());
  std::unique_ptr<WriteAheadLog> wal(new WriteAheadLog(dir, fingerprint));
  const std::string path = dir + "/wal.log";
  if (!std::filesystem::exists(path)) {
    if (Status s = WriteFileAtomically(dir, "wal.log", Header(fingerprint, base_version)); !s.ok()) return s;
    report = "created " + path;
  } else {
    std::string bytes;
    auto scanned = ScanLog(path, bytes);
    if (!scanned.ok()) return scanned.status();
    const LogScan& scan = scanned.value();
    if (scan.fingerprint != fingerprint)
      return FailedPrecondition(path + " belongs to another dataset (fingerprint " + std::to_string(scan.fingerprint) +
                                ", this dataset has " + std::to_string(fingerprint) +
                                "); use another data directory or move the old one away");
    if (scan.base > base_version)
      return FailedPrecondition(path + " starts after version " + std::to_string(scan.base) +
                                " but the checkpoint holds only version " + std::to_string(base_version) +
                                "; the checkpoint is missing or older than the log");
    if (scan.resumes) return FailedPrecondition(CorruptionMessage(path, dir, scan));
    for (const RecordAt& at : scan.records) {
      if (at.version <= base_version) continue;
      WalRecord r;
      r.version = at.version;
      r.values.resize(at.count);
      const char* p = bytes.data() + at.offset + 8;
      for (uint32_t i = 0; i < at.count; ++i) {
        const char* e = p + 12 + 16 * i;
        r.values[i] = {Get<uint32_t>(e), Get<uint32_t>(e + 4), Get<int64_t>(e + 8)};
      }
      replay.push_back(std::move(r));
    }
    report = path + ": " + std::to_string(scan.records.size()) + " record(s), " + std::to_string(replay.size()) +
             " replayed after version " + std::to_string(base_version);
    if (!scan.bad.empty()) {
      // Only the end of the file is bad: a write that a crash cut short,
      // which was never acknowledged.
      report += "; cut off a torn tail of " + std::to_string(bytes.size() - scan.end) + " byte(s) at offset " +
                std::to_string(scan.end) + " (" + scan.bad + ", nothing valid after it: a crash during a write)";
      if (::truncate(path.c_str(), static_cast<off_t>(scan.end)) != 0) return IoError(Errno("truncate " + path));
    }
  }
  wal->fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (wal->fd_ < 0) return IoError(Errno("open " + path));
  struct stat st {};
  ::fstat(wal->fd_, &st);
  wal->size_ = st.st_size;
  if (::fsync(wal->fd_) != 0) return IoError(Errno("fsync " + path));
  return wal;
}

Result<std::string> RecoverLog(const std::string& dir, uint64_t keep_through_version) {
  const std::string path = dir + "/wal.log";
  if (!std::filesystem::exists(path)) return NotFound(path + " does not exist");
  std::string bytes;
  auto scanned = ScanLog(path, bytes);
  if (!scanned.ok()) return scanned.status();
  const LogScan& scan = scanned.value();
  const uint64_t last_good = scan.records.empty() ? scan.base : scan.records.back().version;
  if (keep_through_version < scan.base)
    return InvalidArgument("--discard-after " + std::to_string(keep_through_version) + ": " + path +
                           " starts after version " + std::to_string(scan.base) +
                           " (the checkpoint holds the versions before it); nothing earlier can be dropped");
  if (keep_through_version > last_good)
    return InvalidArgument("--discard-after " + std::to_string(keep_through_version) + ": the log holds valid records "
                           "only up to version " + std::to_string(last_good) +
                           (scan.bad.empty() ? std::string() : " (" + scan.bad + " at offset " + std::to_string(scan.end) + ")"));
  size_t keep_end = kHeaderSize;
  size_t kept = 0;
  for (const RecordAt& r : scan.records)
    if (r.version <= keep_through_version) {
      keep_end = r.offset + 8 + r.length;
      ++kept;
    }
  if (keep_end == bytes.size()) return std::string(path + ": nothing to drop; versions up to " +
                                                   std::to_string(last_good) + " are all kept");
  // Batches up to the checkpoint's version are in the checkpoint; the log
  // must go on from there.
  const std::string checkpoint = CheckpointPath(dir);
  if (std::ifstream snap(checkpoint, std::ios::binary); snap) {
    char head[24] = {};
    if (snap.read(head, sizeof head) && std::memcmp(head, kSnapMagic, 8) == 0 &&
        Get<uint64_t>(head + 16) > keep_through_version)
      return InvalidArgument("--discard-after " + std::to_string(keep_through_version) + ": " + checkpoint +
                             " already holds version " + std::to_string(Get<uint64_t>(head + 16)) +
                             "; keep at least that");
  }
  // The original stays beside the log, byte for byte, before anything
  // changes, under a name no earlier recovery used.
  std::string copy_name = "wal.log.before-recover-" + std::to_string(::time(nullptr));
  for (int n = 1; std::filesystem::exists(dir + "/" + copy_name); ++n)
    copy_name = "wal.log.before-recover-" + std::to_string(::time(nullptr)) + "-" + std::to_string(n);
  if (Status s = WriteFileAtomically(dir, copy_name, bytes); !s.ok()) return s;
  if (Status s = WriteFileAtomically(dir, "wal.log", bytes.substr(0, keep_end)); !s.ok()) return s;
  return std::string(path + ": kept " + std::to_string(kept) + " record(s) through version " +
                     std::to_string(keep_through_version) + ", dropped " + std::to_string(bytes.size() - keep_end) +
                     " byte(s) after offset " + std::to_string(keep_end) + "; the original log is in " + dir + "/" +
                     copy_name);
}

WriteAheadLog::~WriteAheadLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status WriteAheadLog::Break(Status why) {
  broken_ = why.message();
  return FailedPrecondition("write-ahead log " + dir_ + "/wal.log is unusable until the engine is reopened: " + broken_);
}

Status WriteAheadLog::Append(const WalRecord& record) {
  if (broken()) return Break(IoError(broken_));
  std::string payload;
  payload.reserve(12 + record.values.size() * 16);
  Put(payload, record.version);
  Put(payload, static_cast<uint32_t>(record.values.size()));
  for (const LeafValue& v : record.values) {
    Put(payload, v.leaf);
    Put(payload, v.metric);
    Put(payload, v.value);
  }
  std::string out;
  out.reserve(payload.size() + 8);
  Put(out, static_cast<uint32_t>(payload.size()));
  Put(out, Crc32c(payload.data(), payload.size()));
  out += payload;
  if (Status s = WriteAll(fd_, out, dir_ + "/wal.log"); !s.ok()) {
    // Cut a partial record off, or later records would sit behind it.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) return Break(s);
    return s;
  }
  size_ += static_cast<int64_t>(out.size());
  return Status::Ok();
}

Status WriteAheadLog::Sync() {
  if (broken()) return Break(IoError(broken_));
  // After a failed fsync the kernel may have dropped the pages: never retry.
  return ::fdatasync(fd_) == 0 ? Status::Ok() : Break(IoError(Errno("fdatasync " + dir_ + "/wal.log")));
}

Status WriteAheadLog::Rotate(uint64_t base_version) {
  if (broken()) return Break(IoError(broken_));
  if (Status s = WriteFileAtomically(dir_, "wal.log", Header(fingerprint_, base_version)); !s.ok()) return s;
  const std::string path = dir_ + "/wal.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Break(IoError(Errno("open " + path)));  // the old descriptor points at a replaced file
  ::close(fd_);
  fd_ = fd;
  size_ = static_cast<int64_t>(kHeaderSize);
  return Status::Ok();
}

Status WriteAheadLog::Reset(uint64_t fingerprint) {
  // The new, empty log first; only then the old dataset's checkpoint goes.
  fingerprint_ = fingerprint;
  if (Status s = Rotate(0); !s.ok()) return s;
  for (const char* name : {kCheckpointFile, kOldCheckpointFile}) {
    std::error_code ec;
    std::filesystem::remove(dir_ + "/" + name, ec);
    if (ec) return Break(IoError("cannot remove " + dir_ + "/" + name + ": " + ec.message()));
  }
  return SyncDir(dir_);
}

std::string CheckpointPath(const std::string& dir) {
  const std::string path = dir + "/" + kCheckpointFile, old = dir + "/" + kOldCheckpointFile;
  std::error_code ec;
  return !std::filesystem::exists(path, ec) && std::filesystem::exists(old, ec) ? old : path;
}

Status WriteCheckpoint(const std::string& dir, uint64_t fingerprint, uint64_t version, size_t leaf_count,
                       size_t metric_count, const std::vector<int64_t>& leaf_values) {
  std::string out(kSnapMagic, 8);
  Put(out, fingerprint);
  Put(out, version);
  Put(out, static_cast<uint64_t>(leaf_count));
  Put(out, static_cast<uint64_t>(metric_count));
  out.append(reinterpret_cast<const char*>(leaf_values.data()), leaf_values.size() * sizeof(int64_t));
  Put(out, Crc32c(out.data(), out.size()));
  if (Status s = WriteFileAtomically(dir, kCheckpointFile, out); !s.ok()) return s;
  // An earlier version's file is now out of date (and would never be read).
  std::error_code ec;
  if (std::filesystem::remove(dir + "/" + kOldCheckpointFile, ec)) return SyncDir(dir);
  return Status::Ok();
}

Result<std::optional<CheckpointFile>> ReadCheckpoint(const std::string& dir, uint64_t fingerprint, size_t leaf_count,
                                                     size_t metric_count) {
  const std::string path = CheckpointPath(dir);
  if (!std::filesystem::exists(path)) return std::optional<CheckpointFile>();
  auto read = ReadWholeFile(path);
  if (!read.ok()) return read.status();
  const std::string bytes = std::move(read).value();
  const size_t values = leaf_count * metric_count;
  if (bytes.size() < 40 + 4 || std::memcmp(bytes.data(), kSnapMagic, 8) != 0)
    return FailedPrecondition(path + " is not a gridtree checkpoint");
  if (Get<uint32_t>(bytes.data() + bytes.size() - 4) != Crc32c(bytes.data(), bytes.size() - 4))
    return FailedPrecondition(path + " is corrupt (checksum mismatch)");
  if (Get<uint64_t>(bytes.data() + 8) != fingerprint)
    return FailedPrecondition(path + " belongs to another dataset (fingerprint " +
                              std::to_string(Get<uint64_t>(bytes.data() + 8)) + ", this dataset has " +
                              std::to_string(fingerprint) + ")");
  if (Get<uint64_t>(bytes.data() + 24) != leaf_count || Get<uint64_t>(bytes.data() + 32) != metric_count ||
      bytes.size() != 40 + values * 8 + 4)
    return FailedPrecondition(path + " does not match the dataset's leaves and metrics");
  CheckpointFile snap;
  snap.version = Get<uint64_t>(bytes.data() + 16);
  snap.leaf_values.resize(values);
  std::memcpy(snap.leaf_values.data(), bytes.data() + 40, values * 8);
  return std::optional<CheckpointFile>(std::move(snap));
}

}  // namespace gridtree::internal
