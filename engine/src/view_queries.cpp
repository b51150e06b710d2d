// View reads: node navigation, aggregates by node, name search, top-k.
#include <algorithm>
#include <queue>

#include "engine_state.h"

namespace gridtree {

std::vector<int64_t> View::Aggregate(int32_t node) const {
  std::vector<int64_t> out(metrics().metric_count);
  for (size_t j = 0; j < out.size(); ++j) out[j] = metrics().Get(node, static_cast<int>(j));
  return out;
}

std::span<const int32_t> View::Children(int32_t node) const {
  const Dataset& ds = dataset();
  return std::span<const int32_t>(ds.children.data() + ds.child_begin[node],
                                  static_cast<size_t>(ds.child_begin[node + 1] - ds.child_begin[node]));
}

int32_t View::Parent(int32_t node) const { return dataset().parents[node]; }
std::string_view View::kind(int32_t node) const { return dataset().kinds[node]; }
double View::AreaKm2(int32_t node) const { return dataset().node_area_km2[node]; }

std::vector<int32_t> View::FindByNamePrefix(std::string_view prefix, size_t limit) const {
  const auto& names = topology().names_sorted;
  auto it = std::lower_bound(names.begin(), names.end(), prefix,
                             [](const auto& entry, std::string_view p) { return entry.first < p; });
  std::vector<int32_t> out;
  for (; it != names.end() && it->first.substr(0, prefix.size()) == prefix; ++it) out.push_back(it->second);
  std::sort(out.begin(), out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::vector<TopEntry> View::TopK(const TopKQuery& q) const {
  const Dataset& ds = dataset();
  std::vector<TopEntry> out;
  if (q.metric < 0 || static_cast<size_t>(q.metric) >= ds.metric_count() || q.k == 0) return out;
  const int32_t begin = q.within >= 0 ? q.within : 0;
  const int32_t end = q.within >= 0 ? ds.subtree_end[q.within] : static_cast<int32_t>(ds.node_count());
  // Best first; ties go to the lower node number. A bounded min-heap keeps
  // the k best seen so far.
  auto worse = [](const TopEntry& a, const TopEntry& b) {
    return a.value != b.value ? a.value > b.value : a.node < b.node;
  };
  std::priority_queue<TopEntry, std::vector<TopEntry>, decltype(worse)> heap(worse);
  for (int32_t v = begin; v < end; ++v) {
    if (ds.levels[v] != q.level) continue;
    double value = static_cast<double>(metrics().Get(v, q.metric));
    if (q.density) {
      const double area = ds.node_area_km2[v];
      if (area <= 0) continue;
      value /= area;
    }
    heap.push({v, value});
    if (heap.size() > q.k) heap.pop();
  }
  while (!heap.empty()) out.push_back(heap.top()), heap.pop();
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace gridtree
