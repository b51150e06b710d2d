// Per-request answer hashes; see checksum.h for why they are summed.
#include "replay/checksum.h"

#include <cmath>

namespace gridtree::replay {
namespace {
// Stands for a value that cannot be rounded to an int64 (NaN, inf, huge).
constexpr uint64_t kBadValue = 0x7FF8DEADBEEF0001ull;
constexpr uint64_t kErrorMarker = 0xE4404E4404E4404Eull;
}  // namespace

void Hasher::AddValue(double v) {
  const double scaled = v * kValueScale;
  if (!std::isfinite(scaled) || std::fabs(scaled) >= 9.2e18) return Add(kBadValue);
  AddInt(std::llround(scaled));
}

Hasher RequestHasher(Kind kind, uint64_t index) {
  Hasher h;
  h.Add(static_cast<uint64_t>(kind));
  h.Add(index);
  return h;
}

uint64_t LocateHash(uint64_t index, int32_t leaf) {
  Hasher h = RequestHasher(Kind::kLocate, index);
  h.AddInt(leaf);
  return h.value();
}

uint64_t BatchHash(uint64_t index, std::span<const int32_t> leaves) {
  Hasher h = RequestHasher(Kind::kLocateBatch, index);
  h.Add(leaves.size());
  for (int32_t leaf : leaves) h.AddInt(leaf);
  return h.value();
}

uint64_t AggregateHash(uint64_t index, const RegionResult& r) {
  Hasher h = RequestHasher(Kind::kAggregate, index);
  h.AddInt(r.leaves);
  h.Add(r.total.size());
  for (double v : r.total) h.AddValue(v);
  h.Add(r.rows.size());
  for (const RegionRow& row : r.rows) {
    h.AddInt(row.node.value);
    for (double v : row.values) h.AddValue(v);
  }
  return h.value();
}

uint64_t ErrorHash(Kind kind, uint64_t index) {
  Hasher h = RequestHasher(kind, index);
  h.Add(kErrorMarker);
  return h.value();
}

}  // namespace gridtree::replay
