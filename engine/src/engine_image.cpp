// Engine images: which arrays a View answers from go where (docs/image.md).
#include "engine_image.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine_state.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "image_file.h"

namespace gridtree {
namespace internal {
namespace {

// The scalars of a dataset, one section.
struct ImageMeta {
  uint64_t fingerprint;
  uint64_t nodes;
  uint64_t leaves;
  uint64_t metrics;
};

template <typename T>
std::span<const T> One(const T& v) {
  return std::span<const T>(&v, 1);
}

}  // namespace

bool IsEngineImage(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char head[8];
  const size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  return LooksLikeImage(std::string_view(head, n));
}

Result<ImageContents> ReadEngineImage(const std::string& path) {
  auto mapped = MappedImage::Open(path);
  if (!mapped.ok()) return mapped.status();
  std::shared_ptr<const MappedImage> img = std::move(mapped).value();
  ImageContents out;
  Dataset& ds = out.dataset;
  ds.source = path;
  ds.storage = img;
  std::string error;
  auto bad = [&](const std::string& section, const std::string& what) {
    return InvalidArgument(path + ": engine image section " + section + ": " + what);
  };
#define GT_ARRAY(var, T, name)                \
  auto var##_r = img->Array<T>(name);         \
  if (!var##_r.ok()) return var##_r.status(); \
  const std::span<const T> var = var##_r.value();
  GT_ARRAY(meta, ImageMeta, "dataset.meta");
  if (meta.size() != 1) return bad("dataset.meta", "not one record");
  const size_t n = meta[0].nodes, leaves = meta[0].leaves, m = meta[0].metrics;
  // Node and leaf numbers are int32_t, and the sizes below are products of
  // these counts: bound them before any is used.
  if (n > INT32_MAX || leaves > n || m > UINT32_MAX)
    return bad("dataset.meta", std::to_string(n) + " nodes, " + std::to_string(leaves) + " leaves, " +
                                   std::to_string(m) + " metrics: out of range");
  ds.fingerprint = meta[0].fingerprint;
  GT_ARRAY(text, char, "strings.text");
  GT_ARRAY(metric_offsets, uint32_t, "strings.metric_names");
  GT_ARRAY(id_offsets, uint32_t, "strings.ids");
  GT_ARRAY(name_offsets, uint32_t, "strings.names");
  GT_ARRAY(kind_offsets, uint32_t, "strings.kinds");
  StringColumn metric_names;
  if (metric_offsets.size() != m + 1 || !StringColumn::Borrow(metric_offsets, text, &metric_names, &error))
    return bad("strings.metric_names", error.empty() ? "count differs from the metric count" : error);
  for (size_t j = 0; j < m; ++j) ds.metric_names.emplace_back(metric_names[j]);
  if (id_offsets.size() != n + 1 || !StringColumn::Borrow(id_offsets, text, &ds.ids, &error))
    return bad("strings.ids", error.empty() ? "count differs from the node count" : error);
  if (name_offsets.size() != n + 1 || !StringColumn::Borrow(name_offsets, text, &ds.names, &error))
    return bad("strings.names", error.empty() ? "count differs from the node count" : error);
  if (kind_offsets.size() != n + 1 || !StringColumn::Borrow(kind_offsets, text, &ds.kinds, &error))
    return bad("strings.kinds", error.empty() ? "count differs from the node count" : error);
  GT_ARRAY(id_slots, int32_t, "dataset.id_table");
  if (!IdTable::Borrow(id_slots, n, &ds.node_by_id, &error)) return bad("dataset.id_table", error);

  GT_ARRAY(levels, Level, "dataset.levels");
  GT_ARRAY(parents, int32_t, "dataset.parents");
  GT_ARRAY(subtree_end, int32_t, "dataset.subtree_end");
  GT_ARRAY(child_begin, int32_t, "dataset.child_begin");
  GT_ARRAY(children, NodeId, "dataset.children");
  GT_ARRAY(leaf_of_node, int32_t, "dataset.leaf_of_node");
  GT_ARRAY(leaf_nodes, int32_t, "dataset.leaf_nodes");
  GT_ARRAY(node_bounds, index::Box, "dataset.node_bounds");
  GT_ARRAY(node_area, double, "dataset.node_area_km2");
  GT_ARRAY(leaf_metrics, int64_t, "dataset.leaf_metrics");
  GT_ARRAY(names_sorted, int32_t, "dataset.names_sorted");
  GT_ARRAY(first_leaf, int32_t, "dataset.first_leaf");
  GT_ARRAY(node_values, int64_t, "metrics.node_values");
  // Shapes and every cross reference, so that no read goes out of bounds.
  auto sized = [&](size_t got, size_t want, const char* section) -> Status {
    if (got == want) return Status::Ok();
    return bad(section, std::to_string(got) + " values, expected " + std::to_string(want));
  };
  for (const Status& s : {sized(levels.size(), n, "dataset.levels"), sized(parents.size(), n, "dataset.parents"),
                          sized(subtree_end.size(), n, "dataset.subtree_end"),
                          sized(child_begin.size(), n + 1, "dataset.child_begin"),
                          sized(leaf_of_node.size(), n, "dataset.leaf_of_node"),
                          sized(leaf_nodes.size(), leaves, "dataset.leaf_nodes"),
                          sized(node_bounds.size(), n, "dataset.node_bounds"),
                          sized(node_area.size(), n, "dataset.node_area_km2"),
                          sized(leaf_metrics.size(), leaves * m, "dataset.leaf_metrics"),
                          sized(names_sorted.size(), n, "dataset.names_sorted"),
                          sized(first_leaf.size(), n + 1, "dataset.first_leaf"),
                          sized(node_values.size(), PaddedNodeCount(n) * m, "metrics.node_values")})
    if (!s.ok()) return s;
  // The hierarchy's structure: everything the walks of the queries rely on
  // (docs/image.md, "Checks and errors"), each property in one linear pass.
  const auto count = static_cast<int64_t>(n);
  auto node = [&](int64_t k) {
    std::string s = "node " + std::to_string(k);
    if (k >= 0 && k < count) s += " (id \"" + std::string(ds.ids[static_cast<size_t>(k)]) + "\")";
    return s;
  };
  for (size_t k = 0; k < n; ++k) {
    if (static_cast<uint8_t>(levels[k]) >= kLevelCount)
      return bad("dataset.levels", node(k) + ": level " + std::to_string(static_cast<int>(levels[k])) + " out of range");
    if (parents[k] < -1 || parents[k] >= static_cast<int64_t>(k))
      return bad("dataset.parents", node(k) + " has parent " + std::to_string(parents[k]) + " (not before it)");
    if (subtree_end[k] <= static_cast<int64_t>(k) || subtree_end[k] > count)
      return bad("dataset.subtree_end", node(k) + ": subtree end " + std::to_string(subtree_end[k]) + " out of range");
    if (child_begin[k + 1] < child_begin[k])
      return bad("dataset.child_begin", node(k) + ": offsets decrease");
    if (leaf_of_node[k] < -1 || leaf_of_node[k] >= static_cast<int64_t>(leaves))
      return bad("dataset.leaf_of_node", node(k) + ": leaf " + std::to_string(leaf_of_node[k]) + " out of range");
  }
  if (child_begin[0] != 0 || static_cast<size_t>(child_begin[n]) != children.size())
    return bad("dataset.child_begin", "does not span dataset.children");
  // A pre-order layout: the roots' subtrees tile [0, n); within node k's
  // subtree [k, subtree_end[k]), k's children come in order, the first at
  // k + 1, each next one where the previous one's subtree ends, the last
  // one's subtree ending with k's, each naming k as its parent and lying a
  // level deeper. By induction on the subtree sizes every node is then
  // reached exactly once from the roots: no cycle, no node its own child
  // or listed twice, no child under the wrong parent.
  for (int64_t root = 0; root < count; root = subtree_end[root])
    if (parents[root] != -1)
      return bad("dataset.parents", node(root) + " is where a top-level subtree starts but has parent " +
                                        std::to_string(parents[root]));
  for (size_t k = 0; k < n; ++k) {
    const int32_t first = child_begin[k], last = child_begin[k + 1];
    const int64_t self = static_cast<int64_t>(k);
    if ((leaf_of_node[k] >= 0) != (first == last))
      return bad("dataset.children", node(self) + (first == last ? " has no children but is not a leaf"
                                                                  : " is a leaf but has children"));
    int64_t expect = self + 1;
    for (int32_t i = first; i < last; ++i) {
      const int64_t c = children[static_cast<size_t>(i)].value;
      // In range first: `expect` reaches `count` when k's subtree (or an
      // earlier child's) claims to end there, and a child id equal to it
      // would index one past parents, levels and subtree_end.
      if (c <= self || c >= count)
        return bad("dataset.children", node(self) + " lists " + (c >= 0 && c < count ? node(c) : "node " + std::to_string(c)) +
                                           " as child " + std::to_string(i - first) + ", out of range (" +
                                           std::to_string(self + 1) + " to " + std::to_string(count - 1) + ")" +
                                           (c == self ? " (a node its own child)" : ""));
      if (c != expect)
        return bad("dataset.children", node(self) + " lists " + (c >= 0 && c < count ? node(c) : "node " + std::to_string(c)) +
                                           " as child " + std::to_string(i - first) + " where its subtree layout puts " +
                                           node(expect < count ? expect : -1) +
                                           (c == self ? " (a node its own child)" : ""));
      if (parents[c] != self)
        return bad("dataset.children", node(self) + " lists " + node(c) + " as its child, but its parent is " +
                                           (parents[c] < 0 ? std::string("none") : node(parents[c])));
      if (static_cast<uint8_t>(levels[c]) <= static_cast<uint8_t>(levels[k]))
        return bad("dataset.levels", node(c) + " is not a level below its parent " + node(self));
      expect = subtree_end[c];
    }
    if (expect != subtree_end[k])
      return bad("dataset.subtree_end", node(self) + ": subtree ends at " + std::to_string(subtree_end[k]) +
                                            ", its children's subtrees at " + std::to_string(expect));
  }
  // Leaves numbered in node order, so that a subtree's leaves are the run
  // [first_leaf[k], first_leaf[subtree_end[k]]).
  int64_t next_leaf = 0;
  for (size_t k = 0; k < n; ++k)
    if (leaf_of_node[k] >= 0 && leaf_of_node[k] != next_leaf++)
      return bad("dataset.leaf_of_node", node(static_cast<int64_t>(k)) + " is leaf " + std::to_string(leaf_of_node[k]) +
                                             ", not leaf " + std::to_string(next_leaf - 1) + " in node order");
  if (static_cast<size_t>(next_leaf) != leaves)
    return bad("dataset.leaf_of_node", std::to_string(next_leaf) + " leaves, dataset.meta says " + std::to_string(leaves));
  for (size_t l = 0; l < leaves; ++l)
    if (leaf_nodes[l] < 0 || leaf_nodes[l] >= count || leaf_of_node[leaf_nodes[l]] != static_cast<int32_t>(l))
      return bad("dataset.leaf_nodes", "leaf " + std::to_string(l) + " and its node disagree");
  for (size_t k = n + 1; k-- > 0;) {
    const int64_t want = k == n ? static_cast<int64_t>(leaves) : leaf_of_node[k] >= 0 ? leaf_of_node[k] : first_leaf[k + 1];
    if (first_leaf[k] != want)
      return bad("dataset.first_leaf", node(k < n ? static_cast<int64_t>(k) : -1) + ": first leaf " +
                                           std::to_string(first_leaf[k]) + ", expected " + std::to_string(want));
  }
  // Name search reads names_sorted as a permutation of the nodes.
  std::vector<bool> named(n, false);
  for (size_t i = 0; i < n; ++i) {
    const int32_t k = names_sorted[i];
    if (k < 0 || k >= count || named[static_cast<size_t>(k)])
      return bad("dataset.names_sorted", "entry " + std::to_string(i) + " names " +
                                             (k >= 0 && k < count ? node(k) + " a second time" : "node " + std::to_string(k) + ", out of range"));
    named[static_cast<size_t>(k)] = true;
  }
  ds.levels = Column<Level>::Borrow(levels);
  ds.parents = Column<int32_t>::Borrow(parents);
  ds.subtree_end = Column<int32_t>::Borrow(subtree_end);
  ds.child_begin = Column<int32_t>::Borrow(child_begin);
  ds.children = Column<NodeId>::Borrow(children);
  ds.leaf_of_node = Column<int32_t>::Borrow(leaf_of_node);
  ds.leaf_nodes = Column<int32_t>::Borrow(leaf_nodes);
  ds.node_bounds = Column<index::Box>::Borrow(node_bounds);
  ds.node_area_km2 = Column<double>::Borrow(node_area);
  ds.leaf_metrics = Column<int64_t>::Borrow(leaf_metrics);
  out.names_sorted = Column<int32_t>::Borrow(names_sorted);
  out.first_leaf = Column<int32_t>::Borrow(first_leaf);
  out.node_values = node_values;

  GT_ARRAY(inner_parts, uint32_t, "inner.polygon_parts");
  GT_ARRAY(inner_rings, uint32_t, "inner.part_rings");
  GT_ARRAY(inner_points_at, uint64_t, "inner.ring_points");
  GT_ARRAY(inner_points, index::Point, "inner.points");
  size_t bad_polygon = SIZE_MAX;
  if (inner_parts.size() != n + 1) return bad("inner.polygon_parts", "not one outline per node");
  if (!index::FlatPolygons::Borrow(inner_parts, inner_rings, inner_points_at, inner_points, &ds.inner_geometry, &error,
                                   &bad_polygon))
    return bad("inner.*", (bad_polygon < n ? node(static_cast<int64_t>(bad_polygon)) + ": " : "") + error);
#undef GT_ARRAY

  std::vector<index::PolygonIndex::Section> sections;
  for (const auto& s : img->sections()) sections.push_back({s.name, s.bytes});
  out.index = index::PolygonIndex::FromSections(sections, &error, &bad_polygon);
  if (!out.index) {
    if (bad_polygon < leaves)  // the leaf's geometry: name its node
      return bad("geometry.*", "leaf " + std::to_string(bad_polygon) + ", " + node(leaf_nodes[bad_polygon]) + ": " + error);
    return InvalidArgument(path + ": engine image section " + error);  // the index's errors start with the section's name
  }
  if (out.index->size() != leaves) return bad("geometry.*", "not one polygon per leaf");
  return out;
}

}  // namespace internal

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
    const Topology* topology = &view.topology();
  std::vector<int64_t> values(PaddedNodeCount(n) * m, 0);
  for (size_t k = 0; k < n; ++k)
    for (size_t j = 0; j < m; ++j) values[k * m + j] = view.Metric(NodeId(static_cast<int32_t>(k)), static_cast<int>(j));
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
  add("dataset.names_sorted", topology->names_sorted.span());
  add("dataset.first_leaf", topology->first_leaf.span());
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
