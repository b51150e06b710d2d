// Checksums of replayed answers (definition in docs/workloads.md).
//
// Each request gets a 64-bit hash of (kind, request index, answer); a run's
// checksum is the sum of those hashes modulo 2^64. Addition commutes, so
// the checksum is the same for any thread count, connection count or
// completion order, and the same in process and over RPC when the answers
// are the same.
#pragma once

#include <cstdint>
#include <span>

#include "gridtree/engine/engine.h"
#include "replay/workload.h"

namespace gridtree::replay {

// Aggregate values are hashed as llround(value * kValueScale): metrics are
// integers except in area_weighted mode, where 1e-6 keeps the checksum
// insensitive to the last bits of a sum (RPC carries doubles exactly, so
// in-process and RPC runs agree either way).
inline constexpr double kValueScale = 1e6;

// A running hash of a sequence of 64-bit words.
class Hasher {
 public:
  void Add(uint64_t v) { state_ = Mix64(state_ ^ v) + 0x9E3779B97F4A7C15ull; }
  void AddInt(int64_t v) { Add(static_cast<uint64_t>(v)); }
  void AddValue(double v);  // rounded to 1 / kValueScale
  uint64_t value() const { return state_; }

 private:
  uint64_t state_ = 0;
};

// Starts a request's hash: kind, then index.
Hasher RequestHasher(Kind kind, uint64_t index);

// locate: the leaf number, -1 for a miss.
uint64_t LocateHash(uint64_t index, int32_t leaf);
// locate_batch: the count, then every leaf number in point order.
uint64_t BatchHash(uint64_t index, std::span<const int32_t> leaves);
// aggregate: leaves, the totals (count, then each value), then the rows in
// the order returned (by node number): count, then node number and values.
uint64_t AggregateHash(uint64_t index, const RegionResult& result);
// A request that failed: its kind, index and a marker, so a failure changes
// the checksum instead of dropping out of it.
uint64_t ErrorHash(Kind kind, uint64_t index);

}  // namespace gridtree::replay
