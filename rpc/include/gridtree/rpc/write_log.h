// WriteLog: where a server's writes go when they do not go straight to its
// engine. Without one (ServerOptions::write_log null) a write is applied by
// the engine, durable in its own write-ahead log; with one (gridtree serve
// --cluster: ClusterLog, rpc/cluster) a write is appended to a replicated
// log, and every replica, the one that took it included, applies the log in
// order. The server calls both kinds the same way and the engine knows of
// neither: to the engine, a replica's log reader is one more writer.
//
// Thread safety: every method may be called from any thread; `done` is
// called exactly once, on any thread, possibly before the call returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/objects.h"
#include "gridtree/engine/status.h"

namespace gridtree::rpc {

// What an acknowledged write made: the engine's version (metric version for
// an update batch, object version for reports) and the log position the
// write holds. Any replica that has applied `position` shows the write.
struct WriteAck {
  uint64_t version = 0;
  uint64_t position = 0;
  TrackResult track;  // position reports only
};

// Where a replica stands, for Info, /healthz/ready and /metrics.
struct ReplicaStatus {
  uint64_t position = 0;         // last log position applied
  uint64_t lag = 0;              // positions in the log not yet applied, as last seen
  uint64_t digest = 0;           // of the state at digest_position (0: not computed yet)
  uint64_t digest_position = 0;
  bool ready = false;            // caught up with the log's end as seen at start
  uint64_t skipped_messages = 0; // log entries that were not gridtree writes, skipped by every replica alike
  std::string log;               // e.g. "jetstream stream gridtree on nats://127.0.0.1:4222"
  std::string failure;           // why the replica stopped applying the log ("" while it applies)
};

class WriteLog {
 public:
  virtual ~WriteLog() = default;
  using Done = std::function<void(Result<WriteAck>)>;
  // An update batch; answered once it is in the log and applied here, with
  // the engine's answer (a batch the engine refuses is refused by every
  // replica alike, and answered with the engine's error).
  virtual void Apply(UpdateBatch batch, Done done) = 0;
  // Position reports, the same way; the log carries the time they arrived,
  // so every replica judges and expires them by the same clock.
  virtual void Track(std::vector<ObjectReport> reports, Done done) = 0;
  // Called once a second by the server: objects not heard from in time
  // leave, by a time carried in the log.
  virtual void ExpireObjects() = 0;
  // Writes a local checkpoint now (Writer.checkpoint).
  virtual Status Checkpoint() = 0;
  virtual ReplicaStatus status() const = 0;
  // The last position applied (cheap; read-your-writes waits on it).
  virtual uint64_t applied_position() const = 0;
};

}  // namespace gridtree::rpc
