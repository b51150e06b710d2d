// IdTable: node number by id, as one flat open-addressing array (linear
// probing on an FNV-1a hash of the id) that an engine image stores as it is,
// so that opening a dataset builds no hash map (docs/image.md).
// Thread safety: const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gridtree/engine/column.h"

namespace gridtree {

class IdTable {
 public:
  IdTable() = default;
  // ids[k] is node k's id; ids must be distinct.
  static IdTable Build(const StringColumn& ids);
  // A stored table over ids: its size must be a power of two larger than
  // the node count, and every slot empty (-1) or a node number.
  static bool Borrow(std::span<const int32_t> slots, size_t node_count, IdTable* out, std::string* error);

  std::optional<int32_t> Find(const StringColumn& ids, std::string_view id) const;
  std::span<const int32_t> slots() const { return slots_.span(); }
  size_t memory_bytes() const { return slots_.memory_bytes(); }

  static uint64_t Hash(std::string_view id);

 private:
  Column<int32_t> slots_;  // -1: empty
};

}  // namespace gridtree
