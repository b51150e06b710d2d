// Internal: the metric values of every node at one version (MetricState),
// and the one way to change them (MetricEditor), used by metric updates
// and by the counts of tracked objects alike.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gridtree/engine/dataset.h"
#include "storage/engine_image.h"

namespace gridtree::internal {

// Aggregated metric values of every node at one version, in a two-level
// copy-on-write tree: pages of kChunksPerPage chunks of kChunkNodes nodes.
// An edit copies the list of pages (one pointer per 4,096 nodes), then
// only the pages (64 pointers) and chunks (64 nodes) that hold the leaves it
// changes and their ancestors, so its cost follows the batch, not the size
// of the tree (with one level of 512-node chunks, a batch of 100 on the
// province copied ~8 MB). Immutable once published.
// A chunk is one allocation of kChunkNodes * metric_count values, indexed
// (node % kChunkNodes) * metric_count + metric: no vector in between, so a
// read costs no more loads than with one level.
using MetricChunk = std::shared_ptr<int64_t[]>;

struct MetricPage {
  static constexpr int kShift = 6;
  static constexpr size_t kChunks = size_t{1} << kShift;
  std::array<MetricChunk, kChunks> chunks;  // null past the last node
};

struct MetricState {
  static constexpr int kChunkShift = 6;
  static constexpr int32_t kChunkNodes = 1 << kChunkShift;
  static constexpr int kPageShift = kChunkShift + MetricPage::kShift;  // nodes per page: 1 << kPageShift

  uint64_t version = 0;
  size_t metric_count = 0;
  std::vector<std::shared_ptr<const MetricPage>> pages;

  int64_t Get(int32_t node, int metric) const {
    const MetricPage& page = *pages[static_cast<size_t>(node) >> kPageShift];
    const int64_t* chunk = page.chunks[(static_cast<size_t>(node) >> kChunkShift) & (MetricPage::kChunks - 1)].get();
    return chunk[static_cast<size_t>(node & (kChunkNodes - 1)) * metric_count + metric];
  }
};
// An engine image stores node values padded to the same chunks.
static_assert(MetricState::kChunkNodes == kImageNodeChunk);

// A metric state whose chunks point into node_values (node * metric_count
// + metric, padded to PaddedNodeCount), kept alive by owner: nothing is
// copied until an edit copies the chunks it changes.
std::shared_ptr<MetricState> MetricsOver(std::span<const int64_t> node_values, size_t node_count, size_t metric_count,
                                         uint64_t version, std::shared_ptr<const void> owner);

// Sums leaf values up the tree into a fresh MetricState (one backward pass
// over the nodes: what a whole dataset needs, where MetricEditor::AddUp
// serves a batch).
std::shared_ptr<MetricState> RollUp(const Dataset& ds, std::span<const int64_t> leaf_metrics, uint64_t version);

// Copy-on-write editing of a MetricState. The new state starts as the
// base's list of pages; the first write into a chunk copies that chunk (and
// its page), so an edit costs what it touches. Which pages and chunks are
// already this edit's own is kept as one pointer and one 64-bit mask per
// page: no hashing on the write path. Not thread-safe; one writer at a time.
class MetricEditor {
 public:
  // An edit of `base`, whose result has `version`.
  MetricEditor(const MetricState& base, uint64_t version);
  // An edit of a new state of node_count nodes and metric_count metrics:
  // base's values in its first columns (none when base is null), zeros in
  // the others. Every chunk is new, so writes copy nothing.
  static MetricEditor Widened(const MetricState* base, size_t node_count, size_t metric_count, uint64_t version);

  // The value of a node's metric, to be changed in place.
  int64_t& Cell(int32_t node, size_t metric) {
    const size_t page = static_cast<size_t>(node) >> MetricState::kPageShift;
    const size_t slot = (static_cast<size_t>(node) >> MetricState::kChunkShift) & (MetricPage::kChunks - 1);
    if (!(owned_chunks_[page] >> slot & 1)) Own(page, slot);
    int64_t* chunk = owned_pages_[page]->chunks[slot].get();
    return chunk[static_cast<size_t>(node & (MetricState::kChunkNodes - 1)) * state_->metric_count + metric];
  }

  // Adds delta to a node and every ancestor (parents[node], ... up to a
  // root). Returns -1, or the first node whose value would overflow: the
  // nodes below it are changed already, so the edit must be dropped.
  int32_t AddUp(std::span<const int32_t> parents, int32_t node, size_t metric, int64_t delta);

  // The edited state; the editor is spent.
  std::shared_ptr<MetricState> Finish() && { return std::move(state_); }

 private:
  explicit MetricEditor(std::shared_ptr<MetricState> state);
  void Own(size_t page, size_t slot);  // copies the chunk (and its page, once)

  std::shared_ptr<MetricState> state_;
  std::vector<MetricPage*> owned_pages_;  // per page: this edit's copy, or null
  std::vector<uint64_t> owned_chunks_;    // per page: bit s set when chunk s is this edit's own
};

}  // namespace gridtree::internal
