// The bytes of one write in the cluster's replicated log. Every replica
// decodes them the same way: a message that is not exactly a gridtree write
// (another program's, cut short, a bad checksum) is refused by every
// replica alike and skipped, never half-applied.
//
// Layout (little-endian): magic "GTLOG001", u8 kind, u8[7] zero, u64 origin
// (the replica that took the write), u64 request (its number there), i64
// time (unix seconds when it was taken), u32 body length, body, u64 FNV-1a
// of everything before it.
//   kind 1, update batch: u32 count, count x (str leaf, str metric, u8 op, i64 value)
//   kind 2, position reports: u32 count, count x (str id, str kind, f64 lon, f64 lat, i64 time)
//   kind 3, expiry: no body (objects not heard from by `time` leave)
//   str: u32 length, bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/objects.h"
#include "gridtree/engine/status.h"

namespace gridtree::cluster {

enum class LogKind : uint8_t { kUpdate = 1, kTrack = 2, kExpire = 3 };

struct LogMessage {
  LogKind kind = LogKind::kUpdate;
  uint64_t origin = 0;
  uint64_t request = 0;
  int64_t time = 0;
  UpdateBatch updates;                // kUpdate
  std::vector<ObjectReport> reports;  // kTrack
};

std::string EncodeLogMessage(const LogMessage& message);
// Why the bytes are not a gridtree write, or the message.
Result<LogMessage> DecodeLogMessage(std::span<const char> bytes);
// origin and request of an encoded message (0, 0 when it is too short):
// what a failed publish names.
std::pair<uint64_t, uint64_t> PeekOrigin(std::span<const char> bytes);

// FNV-1a, 64 bits.
uint64_t Fnv1a(const void* data, size_t n, uint64_t hash = 14695981039346656037ull);

}  // namespace gridtree::cluster
