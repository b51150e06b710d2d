// Replaying a workload against a gridtree server: N connections, each a
// thread with its own event loop keeping `depth` calls in flight, taking
// request indices from a shared counter. Answers are hashed exactly as in
// process (checksum.h), so the two checksums can be compared.
#pragma once

#include <cstdint>
#include <string>

#include "gridtree/engine/status.h"
#include "replay/run_local.h"
#include "replay/workload.h"

namespace gridtree::replay {

struct RpcOptions {
  // "HOST:PORT", "HOST" or "unix:/path".
  // DEFAULT: "127.0.0.1:7433"
  std::string address = "127.0.0.1:7433";
  // DEFAULT: 4
  int connections = 4;
  // Calls in flight per connection.
  // DEFAULT: 8
  int depth = 8;
  // Keep equal to the server's --max-message-bytes (docs/rpc.md).
  // DEFAULT: 64 MiB
  uint64_t max_message_bytes = uint64_t{64} << 20;
  // DEFAULT: false
  bool progress = false;
};

// Fails when the server cannot be reached, refuses the batch size, or a
// connection drops; failed calls (e.g. OVERLOADED) are counted, not fatal.
Result<ReplayResult> ReplayOverRpc(const Workload& workload, const RpcOptions& options);

}  // namespace gridtree::replay
