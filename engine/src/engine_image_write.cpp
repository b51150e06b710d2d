// Writing an engine image of a View (image.h, docs/image.md): which arrays a
// View answers from go where; storage/engine_image.cpp reads them back.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "state/topology.h"
#include "state/view_access.h"
#include "storage/engine_image.h"
#include "storage/image_file.h"

namespace gridtree {
namespace {

template <typename T>
std::span<const T> One(const T& v) {
  return std::span<const T>(&v, 1);
}

}  // namespace

Status WriteEngineImage(const View& view, const std::string& path) {
  using namespace internal;
  const Dataset& ds = view.dataset();
  const size_t n = ds.node_count(), m = ds.metric_count(), leaves = ds.leaf_count();
  auto created = ImageWriter::Create(path);
  if (!created.ok()) return created.status();
  ImageWriter& w = *created.value();
  const ImageMeta meta{ds.fingerprint, n, leaves, m};
  // The string columns share one text section: their offsets move by the
  // length of the text before them.
  const StringColumn metric_names = StringColumn::From(ds.metric_names);  // offsets, as every string column
  std::vector<char> text;
  auto append = [&](const StringColumn& c) {
    // A borrowed column's offsets may start past 0 (its own image's text).
    const std::span<const uint32_t> from = c.offsets();
    const uint64_t base = text.size(), first = from.front(), length = from.back() - first;
    if (base + length > UINT32_MAX) throw std::length_error("more than 4 GiB of ids and names");
    std::vector<uint32_t> offsets(from.size());
    for (size_t i = 0; i < from.size(); ++i) offsets[i] = static_cast<uint32_t>(from[i] - first + base);
    text.insert(text.end(), c.bytes().begin() + first, c.bytes().begin() + from.back());
    return offsets;
  };
  std::vector<uint32_t> metric_offsets, id_offsets, name_offsets, kind_offsets;
  try {
    metric_offsets = append(metric_names);
    id_offsets = append(ds.ids);
    name_offsets = append(ds.names);
    kind_offsets = append(ds.kinds);
  } catch (const std::length_error& e) {
    return InvalidArgument(path + ": " + e.what());
  }
  const Topology& topology = *ViewAccess::topology(view);
  std::vector<int64_t> values(PaddedNodeCount(n) * m, 0);
  for (size_t k = 0; k < n; ++k)
    for (size_t j = 0; j < m; ++j)
      values[k * m + j] = view.Metric(NodeId(static_cast<int32_t>(k)), static_cast<int>(j));
  std::vector<int64_t> leaf_values(leaves * m);
  for (size_t l = 0; l < leaves; ++l)
    for (size_t j = 0; j < m; ++j) leaf_values[l * m + j] = values[static_cast<size_t>(ds.leaf_nodes[l]) * m + j];

  Status s = w.Add("dataset.meta", One(meta));
  auto add = [&](std::string_view name, auto span) {
    if (s.ok()) s = w.Add(name, span);
  };
  add("strings.text", std::span<const char>(text));
  add("strings.metric_names", std::span<const uint32_t>(metric_offsets));
  add("strings.ids", std::span<const uint32_t>(id_offsets));
  add("strings.names", std::span<const uint32_t>(name_offsets));
  add("strings.kinds", std::span<const uint32_t>(kind_offsets));
  add("dataset.id_table", ds.node_by_id.slots());
  add("dataset.levels", ds.levels.span());
  add("dataset.parents", ds.parents.span());
  add("dataset.subtree_end", ds.subtree_end.span());
  add("dataset.child_begin", ds.child_begin.span());
  add("dataset.children", ds.children.span());
  add("dataset.leaf_of_node", ds.leaf_of_node.span());
  add("dataset.leaf_nodes", ds.leaf_nodes.span());
  add("dataset.node_bounds", ds.node_bounds.span());
  add("dataset.node_area_km2", ds.node_area_km2.span());
  add("dataset.leaf_metrics", std::span<const int64_t>(leaf_values));
  add("dataset.names_sorted", topology.names_sorted.span());
  add("dataset.first_leaf", topology.first_leaf.span());
  add("metrics.node_values", std::span<const int64_t>(values));
  add("inner.polygon_parts", ds.inner_geometry.polygon_part_begin());
  add("inner.part_rings", ds.inner_geometry.part_ring_begin());
  add("inner.ring_points", ds.inner_geometry.ring_point_begin());
  add("inner.points", ds.inner_geometry.points());
  for (const auto& section : view.spatial_index().Sections())
    if (s.ok()) s = w.Add(section.name, section.bytes);
  if (!s.ok()) return s;
  return w.Finish();
}

}  // namespace gridtree
