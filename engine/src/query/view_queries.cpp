// View reads: node navigation, aggregates by node, name search, top-k.
#include <algorithm>
#include <queue>
#include <tuple>

#include "state/topology.h"

namespace gridtree {

std::vector<int64_t> View::Aggregate(NodeId node) const {
  std::vector<int64_t> out(metric_count());
  for (size_t j = 0; j < out.size(); ++j) out[j] = Metric(node, static_cast<int>(j));
  return out;
}

std::span<const NodeId> View::Children(NodeId node) const {
  const Dataset& ds = dataset();
  return std::span<const NodeId>(ds.children.data() + ds.child_begin[node.value],
                                 static_cast<size_t>(ds.child_begin[node.value + 1] - ds.child_begin[node.value]));
}

NodeId View::Parent(NodeId node) const { return NodeId(dataset().parents[node.value]); }
std::string_view View::kind(NodeId node) const { return dataset().kinds[node.value]; }
double View::AreaKm2(NodeId node) const { return dataset().node_area_km2[node.value]; }

std::vector<NodeId> View::FindByNamePrefix(std::string_view prefix, size_t limit) const {
  const Column<int32_t>& by_name = topology().names_sorted;
  const StringColumn& names = dataset().names;
  auto it = std::lower_bound(by_name.begin(), by_name.end(), prefix,
                             [&](int32_t node, std::string_view p) { return names[node] < p; });
  std::vector<NodeId> out;
  for (; it != by_name.end() && names[*it].substr(0, prefix.size()) == prefix; ++it) out.push_back(NodeId(*it));
  std::sort(out.begin(), out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::vector<NodeId> View::FindByName(std::string_view text, size_t limit) const {
  std::vector<NodeId> out;
  if (text.empty() || limit == 0) return out;
  const Dataset& ds = dataset();
  // (rank, level, node): rank 0 id equal, 1 name prefix, 2 name or id contains.
  std::vector<std::tuple<int, int, int32_t>> hits;
  const auto n = static_cast<int32_t>(ds.node_count());
  for (int32_t v = 0; v < n; ++v) {
    const std::string_view node_name = name(NodeId(v));
    const std::string_view node_id = id(NodeId(v));
    int rank;
    if (node_id == text) {
      rank = 0;
    } else if (node_name.starts_with(text)) {
      rank = 1;
    } else if (node_name.find(text) != std::string_view::npos || node_id.find(text) != std::string_view::npos) {
      rank = 2;
    } else {
      continue;
    }
    hits.emplace_back(rank, static_cast<int>(ds.levels[v]), v);
  }
  const size_t keep = std::min(limit, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end());
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i) out.push_back(NodeId(std::get<2>(hits[i])));
  return out;
}

Result<TopKResult> View::TopK(const TopKQuery& q) const {
  const Dataset& ds = dataset();
  if (q.metric < 0 || static_cast<size_t>(q.metric) >= metric_count())
    return InvalidArgument("top-k: metric number " + std::to_string(q.metric) + " is not one of the view's " +
                           std::to_string(metric_count()) + " metrics");
  if (q.within.valid() && static_cast<size_t>(q.within.value) >= ds.node_count())
    return InvalidArgument("top-k: within node " + std::to_string(q.within.value) + " is not in this dataset");
  TopKResult result;
  result.dataset_version = dataset_version();
  result.version = version();
  if (q.k == 0) return result;
  const int32_t begin = q.within.valid() ? q.within.value : 0;
  const int32_t end = q.within.valid() ? ds.subtree_end[q.within.value] : static_cast<int32_t>(ds.node_count());
  // Best first; ties go to the lower node number. A bounded min-heap keeps
  // the k best seen so far. Counts compare exactly as integers; densities
  // as doubles.
  auto better = [density = q.density](const TopEntry& a, const TopEntry& b) {
    if (density ? a.density != b.density : a.value != b.value)
      return density ? a.density > b.density : a.value > b.value;
    return a.node < b.node;
  };
  std::priority_queue<TopEntry, std::vector<TopEntry>, decltype(better)> heap(better);
  for (int32_t v = begin; v < end; ++v) {
    if (ds.levels[v] != q.level) continue;
    TopEntry entry{NodeId(v), Metric(NodeId(v), q.metric), 0};
    if (q.density) {
      const double area = ds.node_area_km2[v];
      if (area <= 0) continue;
      entry.density = static_cast<double>(entry.value) / area;
    }
    heap.push(entry);
    if (heap.size() > q.k) heap.pop();
  }
  while (!heap.empty()) result.entries.push_back(heap.top()), heap.pop();
  std::reverse(result.entries.begin(), result.entries.end());
  return result;
}

}  // namespace gridtree
