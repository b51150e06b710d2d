// The tracked objects' records, id table and per-leaf lists (object_store.h).
#include "objects/object_store.h"

#include <cstdint>

namespace gridtree::internal {

uint64_t ObjectStore::Hash(std::string_view id) {
  uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a, then a final mix
  for (unsigned char c : id) {
    h ^= c;
    h *= 0x100000001B3ULL;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ULL;
  return h ^ (h >> 32);
}

void ObjectStore::Reset(size_t leaf_count) {
  heads_.assign(leaf_count, -1);
  net_.clear();
  leaf_touched_.assign(leaf_count, 0);
  touched_.clear();
  touched_leaves_.clear();
  for (Record& r : records_) r.prev = r.next = -1, r.leaf = kOutside;
}

size_t ObjectStore::Home(std::string_view id) const { return Hash(id) & (table_.size() - 1); }

int32_t ObjectStore::Find(std::string_view id, uint64_t hash) const {
  if (table_.empty()) return -1;
  for (size_t i = hash & (table_.size() - 1);; i = (i + 1) & (table_.size() - 1)) {
    const uint32_t e = table_[i];
    if (e == 0) return -1;
    if ((e & ~kSlotMask) == Tag(hash) && this->id(SlotOf(e)) == id) return SlotOf(e);
  }
}

void ObjectStore::Grow() {
  std::vector<uint32_t> old = std::move(table_);
  table_.assign(old.empty() ? 1024 : old.size() * 2, 0);
  for (uint32_t e : old)
    if (e) {
      size_t i = Home(id(SlotOf(e)));
      while (table_[i]) i = (i + 1) & (table_.size() - 1);
      table_[i] = e;
    }
}

int32_t ObjectStore::Insert(std::string_view id, uint16_t kind) {
  if ((live_ + 1) * 2 > table_.size()) Grow();  // load factor at most 1/2
  int32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<int32_t>(records_.size());
    records_.emplace_back();
  }
  Record& r = records_[slot];
  r = Record{};
  r.kind = kind;
  r.live = 1;
  r.id_offset = static_cast<uint32_t>(arena_.size());
  r.id_length = static_cast<uint32_t>(id.size());
  arena_.append(id);
  const uint64_t hash = Hash(id);
  size_t i = hash & (table_.size() - 1);
  while (table_[i]) i = (i + 1) & (table_.size() - 1);
  table_[i] = Tag(hash) | static_cast<uint32_t>(slot + 1);
  ++live_;
  return slot;
}

void ObjectStore::Unlink(int32_t slot) {
  Record& r = records_[slot];
  if (r.leaf == kOutside) return;  // in no list
  if (r.prev >= 0) {
    records_[r.prev].next = r.next;
  } else {
    heads_[r.leaf] = r.next;
  }
  if (r.next >= 0) records_[r.next].prev = r.prev;
  r.prev = r.next = -1;
}

void ObjectStore::Move(int32_t slot, int32_t leaf) {
  Unlink(slot);
  Record& r = records_[slot];
  r.leaf = leaf;
  if (leaf == kOutside) return;
  int32_t& head = heads_[leaf];
  r.next = head;
  if (head >= 0) records_[head].prev = slot;
  head = slot;
}

void ObjectStore::Remove(int32_t slot) {
  // Backward-shift deletion keeps every probe chain unbroken (no tombstones).
  size_t i = Home(id(slot));
  while (SlotOf(table_[i]) != slot) i = (i + 1) & (table_.size() - 1);
  const size_t mask = table_.size() - 1;
  for (size_t j = (i + 1) & mask; table_[j]; j = (j + 1) & mask) {
    const size_t home = Home(id(SlotOf(table_[j])));
    // Entry j may move into the hole at i when its home is not in (i, j].
    if (((j - home) & mask) >= ((j - i) & mask)) {
      table_[i] = table_[j];
      i = j;
    }
  }
  table_[i] = 0;
  Unlink(slot);
  Record& r = records_[slot];
  arena_garbage_ += r.id_length;
  r.live = 0;
  free_.push_back(slot);
  --live_;
  if (arena_garbage_ > (1u << 20) && arena_garbage_ * 2 > arena_.size()) CompactArena();
}

bool ObjectStore::HasRoomForIds(size_t id_bytes) {
  constexpr size_t kLimit = UINT32_MAX;
  if (arena_.size() + id_bytes <= kLimit) return true;
  CompactArena();
  return arena_.size() + id_bytes <= kLimit;
}

void ObjectStore::CompactArena() {
  std::string packed;
  packed.reserve(arena_.size() - arena_garbage_);
  for (Record& r : records_) {
    if (!r.live) continue;
    const uint32_t offset = static_cast<uint32_t>(packed.size());
    packed.append(arena_, r.id_offset, r.id_length);
    r.id_offset = offset;
  }
  arena_ = std::move(packed);
  arena_garbage_ = 0;
}

void ObjectStore::AddNet(int32_t leaf, uint16_t kind, int32_t delta) {
  if (kind >= net_.size()) net_.resize(kind + 1);
  std::vector<int32_t>& net = net_[kind];
  if (net.empty()) net.assign(heads_.size(), 0);
  if (!leaf_touched_[leaf]) {
    leaf_touched_[leaf] = 1;
    touched_leaves_.push_back(leaf);
  }
  // A pair is listed each time its net leaves zero (it may come back to
  // zero and leave it again); DrainNet reads and zeroes each listing, so a
  // repeat finds zero and is skipped.
  if (net[leaf] == 0) touched_.emplace_back(leaf, kind);
  net[leaf] += delta;
}

void ObjectStore::DrainNet(std::vector<Net>& changes, std::vector<int32_t>& leaves) {
  for (auto [leaf, kind] : touched_) {
    int32_t& net = net_[kind][leaf];
    if (net != 0) changes.push_back({leaf, kind, net});
    net = 0;
  }
  touched_.clear();
  for (int32_t leaf : touched_leaves_) leaf_touched_[leaf] = 0;
  leaves.insert(leaves.end(), touched_leaves_.begin(), touched_leaves_.end());
  touched_leaves_.clear();
}

size_t ObjectStore::MemoryBytes() const {
  return records_.capacity() * sizeof(Record) + free_.capacity() * sizeof(int32_t) + arena_.capacity() +
         table_.capacity() * sizeof(uint32_t) + heads_.capacity() * sizeof(int32_t);
}

}  // namespace gridtree::internal
