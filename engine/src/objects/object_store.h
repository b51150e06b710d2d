// Internal: the tracked objects (object_store.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/engine/engine.h"

namespace gridtree::internal {


// Every tracked object: a fixed-size record, its id in one text arena, an
// open-addressing id table of 32-bit slots, and one doubly linked list per
// leaf (so a subtree's objects are its leaves' lists). Not thread-safe: the
// engine holds its objects lock around every call.
class ObjectStore {
 public:
  static constexpr int32_t kOutside = -1;
  // An id table entry is 32 bits: the slot + 1 in the low kSlotBits, and
  // a few bits of the id's hash above them, so that a probe past another
  // id rarely has to read that id. Hence at most kMaxObjects objects.
  static constexpr int kSlotBits = 26;
  static constexpr size_t kMaxObjects = (size_t{1} << kSlotBits) - 2;

  struct Record {
    double lon = 0, lat = 0;
    int64_t time = 0;
    int32_t leaf = kOutside;  // leaf number in the store's dataset
    uint16_t kind = 0;
    uint16_t live = 0;
    int32_t prev = -1, next = -1;  // neighbours in the leaf's list
    uint32_t id_offset = 0, id_length = 0;
  };
  static_assert(sizeof(Record) == 48);

  explicit ObjectStore(size_t leaf_count) { Reset(leaf_count); }

  // Forgets every list (keeps the objects), for a new dataset: the caller
  // places each object again with Move.
  void Reset(size_t leaf_count);
  // Objects outside every leaf are in no list.

  // The object's slot, or -1. `hash` is Hash(id).
  static uint64_t Hash(std::string_view id);
  int32_t Find(std::string_view id, uint64_t hash) const;
  // Whether `id_bytes` more bytes of ids fit the 32-bit offsets of the id
  // text (compacting it first when that makes room).
  bool HasRoomForIds(size_t id_bytes);
  // Hints for a batch, issued some reports ahead so that the memory a
  // report needs is in the cache when its turn comes: the id table's slot,
  // then the record it names (and its list neighbours), then the id text
  // and the head of the list of the leaf it moves to.
  void PrefetchSlot(uint64_t hash) const {
    if (!table_.empty()) __builtin_prefetch(&table_[hash & (table_.size() - 1)]);
  }
  void PrefetchRecord(uint64_t hash) const {
    if (const int32_t s = SlotAtHome(hash); s >= 0) __builtin_prefetch(&records_[s]);
  }
  void PrefetchRest(uint64_t hash, int32_t to_leaf) const {
    if (const int32_t s = SlotAtHome(hash); s >= 0) {
      const Record& r = records_[s];
      __builtin_prefetch(arena_.data() + r.id_offset);
      if (r.prev >= 0) __builtin_prefetch(&records_[r.prev], 1);
      if (r.next >= 0) __builtin_prefetch(&records_[r.next], 1);
    }
    if (to_leaf >= 0 && heads_[to_leaf] >= 0) __builtin_prefetch(&records_[heads_[to_leaf]], 1);
  }
  // A new object, outside every leaf (Move places it).
  int32_t Insert(std::string_view id, uint16_t kind);
  void Remove(int32_t slot);
  // Puts the object into the list of `leaf` (kOutside: into none).
  void Move(int32_t slot, int32_t leaf);

  Record& at(int32_t slot) { return records_[slot]; }
  const Record& at(int32_t slot) const { return records_[slot]; }
  std::string_view id(int32_t slot) const { return {arena_.data() + records_[slot].id_offset, records_[slot].id_length}; }
  size_t size() const { return live_; }
  size_t slot_count() const { return records_.size(); }
  // First object of a leaf's list, -1 if none (then Record::next).
  int32_t first_in(int32_t leaf) const { return heads_[leaf]; }
  // Bytes held: records, id text, the id table and the lists.
  size_t MemoryBytes() const;

  // The net change of one batch to the count of (leaf, kind): dense arrays
  // over the leaves, kept between batches and cleared where touched, so a
  // batch of moves needs no sort to merge its changes.
  void AddNet(int32_t leaf, uint16_t kind, int32_t delta);
  // Every (leaf, kind) with a non-zero net change since the last drain, and
  // every leaf touched (each once, in order of first touch); clears them.
  struct Net {
    int32_t leaf;
    uint16_t kind;
    int32_t delta;
  };
  void DrainNet(std::vector<Net>& changes, std::vector<int32_t>& leaves);

 private:
  void Unlink(int32_t slot);
  static constexpr uint32_t kSlotMask = (uint32_t{1} << kSlotBits) - 1;
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> (64 - (32 - kSlotBits))) << kSlotBits; }
  static int32_t SlotOf(uint32_t entry) { return static_cast<int32_t>(entry & kSlotMask) - 1; }
  int32_t SlotAtHome(uint64_t hash) const {
    if (table_.empty()) return -1;
    return SlotOf(table_[hash & (table_.size() - 1)]);
  }
  void Grow();
  size_t Home(std::string_view id) const;

  std::vector<Record> records_;
  std::vector<int32_t> free_;     // removed slots, reused first
  std::string arena_;             // ids; a removed id's bytes stay until Compact
  size_t arena_garbage_ = 0;
  std::vector<uint32_t> table_;   // tag | slot + 1 per entry, 0 empty; a power of two
  std::vector<int32_t> heads_;    // per leaf
  size_t live_ = 0;
  std::vector<std::vector<int32_t>> net_;  // per kind, per leaf
  std::vector<uint8_t> leaf_touched_;
  std::vector<std::pair<int32_t, uint16_t>> touched_;  // (leaf, kind) pairs, first touch order
  std::vector<int32_t> touched_leaves_;

  void CompactArena();
};

}  // namespace gridtree::internal
