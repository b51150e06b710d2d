// Internal: the writer side of the metrics, the one owner of the log.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gridtree/engine/engine.h"
#include "storage/wal.h"

namespace gridtree::internal {

// What metric writes share: the newest state built, the write-ahead log and
// the data directory's lock. Engine::Apply, Checkpoint and Reload are its
// users (engine_update.cpp).
//
// Locks: write_mu serialises validation, building the next state and log
// appends; sync_mu lets one writer at a time fsync for everyone appended so
// far (group commit). Order: sync_mu before write_mu, and either before the
// Publisher's locks. No object lock is ever taken while one is held.
struct MetricWriter {
  std::mutex sync_mu;
  std::mutex write_mu;
  std::shared_ptr<const View> pending;  // newest state built (maybe not yet durable); write_mu
  uint64_t synced_version = 0;          // sync_mu
  // Reloads so far, and the last durable version of the log each one reset
  // (by the count of reloads before it): a writer whose record was appended
  // before a reload learns whether it had been made durable. sync_mu and
  // write_mu both, to write.
  uint64_t reloads = 0;
  std::map<uint64_t, uint64_t> durable_before_reload;
  std::unique_ptr<DataDirLock> data_dir_lock;  // held while the engine may write data_dir
  std::unique_ptr<WriteAheadLog> wal;          // null without a data directory
  std::string recovery;                        // what opening the log found (set once, at start)
};

}  // namespace gridtree::internal
