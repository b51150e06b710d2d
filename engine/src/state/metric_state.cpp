#include "state/metric_state.h"

#include <algorithm>

namespace gridtree::internal {

std::shared_ptr<MetricState> MetricsOver(std::span<const int64_t> node_values, size_t node_count, size_t metric_count,
                                         uint64_t version, std::shared_ptr<const void> owner) {
  auto state = std::make_shared<MetricState>();
  state->version = version;
  state->metric_count = metric_count;
  const size_t per_chunk = static_cast<size_t>(MetricState::kChunkNodes) * metric_count;
  const size_t chunk_count =
      std::max<size_t>(1, (node_count + MetricState::kChunkNodes - 1) / MetricState::kChunkNodes);
  std::shared_ptr<MetricPage> page;
  for (size_t c = 0; c < chunk_count; ++c) {
    const size_t slot = c & (MetricPage::kChunks - 1);
    if (slot == 0) {
      page = std::make_shared<MetricPage>();
      state->pages.push_back(page);
    }
    // Aliasing: the chunk shares owner's lifetime and points into its
    // values. An edit copies a chunk before changing it (MetricEditor), so
    // these values are never written (a mapped image's are read-only).
    page->chunks[slot] = MetricChunk(owner, const_cast<int64_t*>(node_values.data()) + c * per_chunk);
  }
  return state;
}

std::shared_ptr<MetricState> RollUp(const Dataset& ds, std::span<const int64_t> leaf_metrics, uint64_t version) {
  const size_t m = ds.metric_count(), n = ds.node_count();
  // Children follow their parent in pre-order, so one backward pass sums
  // every subtree. One allocation, padded to whole chunks, that the first
  // state's chunks point into.
  auto values = std::make_shared<std::vector<int64_t>>(PaddedNodeCount(n) * m, 0);
  int64_t* v = values->data();
  for (size_t k = n; k-- > 0;) {
    if (const int32_t l = ds.leaf_of_node[k]; l >= 0)
      for (size_t j = 0; j < m; ++j) v[k * m + j] = leaf_metrics[l * m + j];
    if (const int32_t p = ds.parents[k]; p >= 0)
      for (size_t j = 0; j < m; ++j) v[p * m + j] += v[k * m + j];
  }
  const std::span<const int64_t> all(*values);
  return MetricsOver(all, n, m, version, std::move(values));
}

MetricEditor::MetricEditor(std::shared_ptr<MetricState> state)
    : state_(std::move(state)), owned_pages_(state_->pages.size(), nullptr), owned_chunks_(state_->pages.size(), 0) {}

MetricEditor::MetricEditor(const MetricState& base, uint64_t version)
    : MetricEditor([&] {
        auto state = std::make_shared<MetricState>();
        state->version = version;
        state->metric_count = base.metric_count;
        state->pages = base.pages;
        return state;
      }()) {}

MetricEditor MetricEditor::Widened(const MetricState* base, size_t node_count, size_t metric_count, uint64_t version) {
  const size_t chunk_count = (node_count + MetricState::kChunkNodes - 1) / MetricState::kChunkNodes;
  const size_t page_count = (chunk_count + MetricPage::kChunks - 1) >> MetricPage::kShift;
  const size_t per_chunk = static_cast<size_t>(MetricState::kChunkNodes) * metric_count;
  const size_t base_metrics = base ? base->metric_count : 0;
  auto state = std::make_shared<MetricState>();
  state->version = version;
  state->metric_count = metric_count;
  state->pages.resize(page_count);
  MetricEditor editor(state);
  for (size_t p = 0; p < page_count; ++p) {
    auto page = std::make_shared<MetricPage>();
    for (size_t s = 0; s < MetricPage::kChunks; ++s) {
      const size_t c = (p << MetricPage::kShift) + s;
      if (c >= chunk_count) break;
      MetricChunk chunk = std::make_shared<int64_t[]>(per_chunk);  // zeroed
      if (base_metrics > 0) {
        const int64_t* from = base->pages[p]->chunks[s].get();
        for (size_t n = 0; n < static_cast<size_t>(MetricState::kChunkNodes); ++n)
          std::copy_n(from + n * base_metrics, std::min(base_metrics, metric_count), chunk.get() + n * metric_count);
      }
      page->chunks[s] = std::move(chunk);
      editor.owned_chunks_[p] |= uint64_t{1} << s;
    }
    editor.owned_pages_[p] = page.get();
    state->pages[p] = std::move(page);
  }
  return editor;
}

void MetricEditor::Own(size_t page, size_t slot) {
  MetricPage*& own = owned_pages_[page];
  if (!own) {
    auto copy = std::make_shared<MetricPage>(*state_->pages[page]);
    own = copy.get();
    state_->pages[page] = std::move(copy);
  }
  const size_t per_chunk = static_cast<size_t>(MetricState::kChunkNodes) * state_->metric_count;
  MetricChunk copy = std::make_shared_for_overwrite<int64_t[]>(per_chunk);
  std::copy_n(own->chunks[slot].get(), per_chunk, copy.get());
  own->chunks[slot] = std::move(copy);
  owned_chunks_[page] |= uint64_t{1} << slot;
}

int32_t MetricEditor::AddUp(std::span<const int32_t> parents, int32_t node, size_t metric, int64_t delta) {
  for (int32_t v = node; v >= 0; v = parents[v]) {
    int64_t& x = Cell(v, metric);
    if (__builtin_add_overflow(x, delta, &x)) return v;
  }
  return -1;
}

}  // namespace gridtree::internal
