// Internal: the tracked objects (object_store.cpp) and their counts per
// node (what a View reads as the metrics "objects.<kind>").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine_state.h"

namespace gridtree::internal {

// Counts of tracked objects per node and kind at one state: a metric state
// of one column per kind, rolled up like the dataset's metrics. Immutable
// once published; a View pins it beside its MetricState.
struct ObjectCounts {
  uint64_t dataset_version = 0;  // the dataset the node numbers belong to
  uint64_t version = 0;          // object batches (and expiries) applied since the engine started
  std::vector<std::string> kinds;         // in order of first report
  std::vector<std::string> metric_names;  // "objects.<kind>", same order
  std::shared_ptr<const MetricState> counts;  // one column per kind; null while no kind exists
  std::vector<int64_t> total;    // per kind: tracked objects
  std::vector<int64_t> outside;  // per kind: of them, in no leaf
};

// Every tracked object: a fixed-size record, its id in one text arena, an
// open-addressing id table of 32-bit slots, and one doubly linked list per
// leaf (so a subtree's objects are its leaves' lists). Not thread-safe: the
// engine holds its objects lock around every call.
class ObjectStore {
 public:
  static constexpr int32_t kOutside = -1;

  struct Record {
    double lon = 0, lat = 0;
    int64_t time = 0;
    int32_t leaf = kOutside;  // leaf number in the store's dataset
    uint16_t kind = 0;
    uint16_t live = 0;
    int32_t prev = -1, next = -1;  // neighbours in the leaf's list (or the outside list)
    uint32_t id_offset = 0, id_length = 0;
  };
  static_assert(sizeof(Record) == 48);

  explicit ObjectStore(size_t leaf_count) { Reset(leaf_count); }

  // Forgets every list (keeps the objects), for a new dataset: the caller
  // places each object again with Move.
  void Reset(size_t leaf_count);

  // The object's slot, or -1.
  int32_t Find(std::string_view id) const;
  // A new object, outside every leaf and in no list yet (Move places it).
  int32_t Insert(std::string_view id, uint16_t kind);
  void Remove(int32_t slot);
  // Puts the object into the list of `leaf` (kOutside: the outside list).
  void Move(int32_t slot, int32_t leaf);

  Record& at(int32_t slot) { return records_[slot]; }
  const Record& at(int32_t slot) const { return records_[slot]; }
  std::string_view id(int32_t slot) const { return {arena_.data() + records_[slot].id_offset, records_[slot].id_length}; }
  size_t size() const { return live_; }
  size_t slot_count() const { return records_.size(); }
  // First object of a leaf's list, -1 if none (then Record::next).
  int32_t first_in(int32_t leaf) const { return leaf == kOutside ? outside_head_ : heads_[leaf]; }
  // Bytes held: records, id text, the id table and the lists.
  size_t MemoryBytes() const;

 private:
  void Unlink(int32_t slot);
  void Grow();
  size_t Home(std::string_view id) const;

  std::vector<Record> records_;
  std::vector<int32_t> free_;     // removed slots, reused first
  std::string arena_;             // ids; a removed id's bytes stay until Compact
  size_t arena_garbage_ = 0;
  std::vector<uint32_t> table_;   // slot + 1 per entry, 0 empty; a power of two
  std::vector<int32_t> heads_;    // per leaf
  int32_t outside_head_ = -1;
  size_t live_ = 0;

  void CompactArena();
};

}  // namespace gridtree::internal
