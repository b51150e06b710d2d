#include "gridtree/engine/column.h"

#include <limits>
#include <stdexcept>

#include "gridtree/engine/id_table.h"

namespace gridtree {

StringColumn StringColumn::From(const std::vector<std::string>& strings) {
  std::vector<uint32_t> offsets;
  offsets.reserve(strings.size() + 1);
  offsets.push_back(0);
  size_t total = 0;
  for (const std::string& s : strings) total += s.size();
  if (total > std::numeric_limits<uint32_t>::max()) throw std::length_error("StringColumn: more than 4 GiB of text");
  std::vector<char> bytes;
  bytes.reserve(total);
  for (const std::string& s : strings) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
  }
  StringColumn c;
  c.offsets_ = Column<uint32_t>(std::move(offsets));
  c.bytes_ = Column<char>(std::move(bytes));
  return c;
}

bool StringColumn::Borrow(std::span<const uint32_t> offsets, std::span<const char> bytes, StringColumn* out,
                          std::string* error) {
  if (offsets.empty() || offsets[0] > bytes.size()) {
    *error = "string offsets are missing or start past the text";
    return false;
  }
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1] || offsets[i] > bytes.size()) {
      *error = "string offset " + std::to_string(i) + " decreases or passes the text";
      return false;
    }
  out->offsets_ = Column<uint32_t>::Borrow(offsets);
  out->bytes_ = Column<char>::Borrow(bytes);
  return true;
}

uint64_t IdTable::Hash(std::string_view id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ull;
  return h;
}

IdTable IdTable::Build(const StringColumn& ids) {
  size_t size = 16;
  while (size < ids.size() * 2) size *= 2;  // at most half full: short probes
  std::vector<int32_t> slots(size, -1);
  const size_t mask = size - 1;
  for (size_t k = 0; k < ids.size(); ++k) {
    size_t at = Hash(ids[k]) & mask;
    while (slots[at] >= 0) at = (at + 1) & mask;
    slots[at] = static_cast<int32_t>(k);
  }
  IdTable t;
  t.slots_ = Column<int32_t>(std::move(slots));
  return t;
}

bool IdTable::Borrow(std::span<const int32_t> slots, size_t node_count, IdTable* out, std::string* error) {
  if (slots.size() <= node_count || (slots.size() & (slots.size() - 1)) != 0) {
    *error = "id table size " + std::to_string(slots.size()) + " is not a power of two above the node count";
    return false;
  }
  for (int32_t v : slots)
    if (v < -1 || v >= static_cast<int64_t>(node_count)) {
      *error = "id table names node " + std::to_string(v) + " of " + std::to_string(node_count);
      return false;
    }
  out->slots_ = Column<int32_t>::Borrow(slots);
  return true;
}

std::optional<int32_t> IdTable::Find(const StringColumn& ids, std::string_view id) const {
  if (slots_.empty()) return std::nullopt;
  const size_t mask = slots_.size() - 1;
  // The table has more slots than nodes, so an empty slot ends every probe.
  for (size_t at = Hash(id) & mask, probes = 0; probes < slots_.size(); at = (at + 1) & mask, ++probes) {
    const int32_t k = slots_[at];
    if (k < 0) return std::nullopt;
    if (ids[k] == id) return k;
  }
  return std::nullopt;
}

}  // namespace gridtree
