// Reading engine images (docs/image.md): maps the file and checks every
// section before the engine relies on it.
#include "storage/engine_image.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "gridtree/engine/image.h"
#include "storage/image_file.h"

namespace gridtree {
namespace internal {

bool IsEngineImage(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char head[8];
  const size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  return LooksLikeImage(std::string_view(head, n));
}

namespace {

// The arrays of an image that the checks read, as mapped.
struct ImageArrays {
  std::span<const Level> levels;
  std::span<const int32_t> parents, subtree_end, child_begin, leaf_of_node, leaf_nodes, names_sorted, first_leaf;
  std::span<const NodeId> children;
  std::span<const index::Box> node_bounds;
  std::span<const double> node_area;
  std::span<const int64_t> leaf_metrics, node_values;
};

// Reads one image in named steps: every section is checked before anything
// relies on it, and each error names the file, the section and the node.
class ImageReader {
 public:
  ImageReader(const std::string& path, std::shared_ptr<const MappedImage> img) : path_(path), img_(std::move(img)) {
    out_.dataset.source = path;
    out_.dataset.storage = img_;
  }

  Result<ImageContents> Read() {
    using Step = Status (ImageReader::*)();
    for (Step step :
         {&ImageReader::ReadMeta, &ImageReader::ReadStrings, &ImageReader::MapArrays, &ImageReader::CheckSizes,
          &ImageReader::CheckNodes, &ImageReader::CheckChildren, &ImageReader::CheckLeaves,
          &ImageReader::CheckNamesSorted, &ImageReader::ReadInner, &ImageReader::ReadIndex})
      if (Status s = (this->*step)(); !s.ok()) return s;
    return std::move(out_);
  }

 private:
  Status Bad(const std::string& section, const std::string& what) const {
    return InvalidArgument(path_ + ": engine image section " + section + ": " + what);
  }
  std::string Node(int64_t k) const {
    std::string s = "node " + std::to_string(k);
    if (k >= 0 && k < count_) s += " (id \"" + std::string(out_.dataset.ids[static_cast<size_t>(k)]) + "\")";
    return s;
  }
  template <typename T>
  Status Map(std::span<const T>& out, const char* name) const {
    auto array = img_->Array<T>(name);
    if (!array.ok()) return array.status();
    out = array.value();
    return Status::Ok();
  }

  // The counts, bounded before any size below is computed from them: node
  // and leaf numbers are int32_t, and the sizes are products of the counts.
  Status ReadMeta() {
    std::span<const ImageMeta> meta;
    if (Status s = Map(meta, "dataset.meta"); !s.ok()) return s;
    if (meta.size() != 1) return Bad("dataset.meta", "not one record");
    n_ = meta[0].nodes, leaves_ = meta[0].leaves, m_ = meta[0].metrics;
    if (n_ > INT32_MAX || leaves_ > n_ || m_ > UINT32_MAX)
      return Bad("dataset.meta", std::to_string(n_) + " nodes, " + std::to_string(leaves_) + " leaves, " +
                                     std::to_string(m_) + " metrics: out of range");
    count_ = static_cast<int64_t>(n_);
    out_.dataset.fingerprint = meta[0].fingerprint;
    return Status::Ok();
  }

  // Metric names, ids, names and kinds share one text section.
  Status ReadStrings() {
    Dataset& ds = out_.dataset;
    std::span<const char> text;
    std::span<const uint32_t> metric_offsets, id_offsets, name_offsets, kind_offsets;
    std::span<const int32_t> id_slots;
    for (const Status& s :
         {Map(text, "strings.text"), Map(metric_offsets, "strings.metric_names"), Map(id_offsets, "strings.ids"),
          Map(name_offsets, "strings.names"), Map(kind_offsets, "strings.kinds"), Map(id_slots, "dataset.id_table")})
      if (!s.ok()) return s;
    std::string error;
    StringColumn metric_names;
    if (metric_offsets.size() != m_ + 1 || !StringColumn::Borrow(metric_offsets, text, &metric_names, &error))
      return Bad("strings.metric_names", error.empty() ? "count differs from the metric count" : error);
    for (size_t j = 0; j < m_; ++j) ds.metric_names.emplace_back(metric_names[j]);
    if (id_offsets.size() != n_ + 1 || !StringColumn::Borrow(id_offsets, text, &ds.ids, &error))
      return Bad("strings.ids", error.empty() ? "count differs from the node count" : error);
    if (name_offsets.size() != n_ + 1 || !StringColumn::Borrow(name_offsets, text, &ds.names, &error))
      return Bad("strings.names", error.empty() ? "count differs from the node count" : error);
    if (kind_offsets.size() != n_ + 1 || !StringColumn::Borrow(kind_offsets, text, &ds.kinds, &error))
      return Bad("strings.kinds", error.empty() ? "count differs from the node count" : error);
    if (!IdTable::Borrow(id_slots, n_, &ds.node_by_id, &error)) return Bad("dataset.id_table", error);
    return Status::Ok();
  }

  Status MapArrays() {
    ImageArrays& a = a_;
    for (const Status& s :
         {Map(a.levels, "dataset.levels"), Map(a.parents, "dataset.parents"), Map(a.subtree_end, "dataset.subtree_end"),
          Map(a.child_begin, "dataset.child_begin"), Map(a.children, "dataset.children"),
          Map(a.leaf_of_node, "dataset.leaf_of_node"), Map(a.leaf_nodes, "dataset.leaf_nodes"),
          Map(a.node_bounds, "dataset.node_bounds"), Map(a.node_area, "dataset.node_area_km2"),
          Map(a.leaf_metrics, "dataset.leaf_metrics"), Map(a.names_sorted, "dataset.names_sorted"),
          Map(a.first_leaf, "dataset.first_leaf"), Map(a.node_values, "metrics.node_values")})
      if (!s.ok()) return s;
    return Status::Ok();
  }

  // Shapes first, so that no check below reads out of bounds.
  Status CheckSizes() {
    const ImageArrays& a = a_;
    auto sized = [&](size_t got, size_t want, const char* section) -> Status {
      if (got == want) return Status::Ok();
      return Bad(section, std::to_string(got) + " values, expected " + std::to_string(want));
    };
    for (const Status& s :
         {sized(a.levels.size(), n_, "dataset.levels"), sized(a.parents.size(), n_, "dataset.parents"),
          sized(a.subtree_end.size(), n_, "dataset.subtree_end"),
          sized(a.child_begin.size(), n_ + 1, "dataset.child_begin"),
          sized(a.leaf_of_node.size(), n_, "dataset.leaf_of_node"),
          sized(a.leaf_nodes.size(), leaves_, "dataset.leaf_nodes"),
          sized(a.node_bounds.size(), n_, "dataset.node_bounds"),
          sized(a.node_area.size(), n_, "dataset.node_area_km2"),
          sized(a.leaf_metrics.size(), leaves_ * m_, "dataset.leaf_metrics"),
          sized(a.names_sorted.size(), n_, "dataset.names_sorted"),
          sized(a.first_leaf.size(), n_ + 1, "dataset.first_leaf"),
          sized(a.node_values.size(), PaddedNodeCount(n_) * m_, "metrics.node_values")})
      if (!s.ok()) return s;
    return Status::Ok();
  }

  // The hierarchy's structure: everything the walks of the queries rely on
  // (docs/image.md, "Checks and errors"), each property in one linear pass.
  // First each node's own fields.
  Status CheckNodes() {
    for (size_t k = 0; k < n_; ++k) {
      if (static_cast<uint8_t>(a_.levels[k]) >= kLevelCount)
        return Bad("dataset.levels",
                   Node(k) + ": level " + std::to_string(static_cast<int>(a_.levels[k])) + " out of range");
      if (a_.parents[k] < -1 || a_.parents[k] >= static_cast<int64_t>(k))
        return Bad("dataset.parents", Node(k) + " has parent " + std::to_string(a_.parents[k]) + " (not before it)");
      if (a_.subtree_end[k] <= static_cast<int64_t>(k) || a_.subtree_end[k] > count_)
        return Bad("dataset.subtree_end",
                   Node(k) + ": subtree end " + std::to_string(a_.subtree_end[k]) + " out of range");
      if (a_.child_begin[k + 1] < a_.child_begin[k]) return Bad("dataset.child_begin", Node(k) + ": offsets decrease");
      if (a_.leaf_of_node[k] < -1 || a_.leaf_of_node[k] >= static_cast<int64_t>(leaves_))
        return Bad("dataset.leaf_of_node", Node(k) + ": leaf " + std::to_string(a_.leaf_of_node[k]) + " out of range");
    }
    return Status::Ok();
  }

  Status CheckChildren() {
    if (a_.child_begin[0] != 0 || static_cast<size_t>(a_.child_begin[n_]) != a_.children.size())
      return Bad("dataset.child_begin", "does not span dataset.children");
    // A pre-order layout: the roots' subtrees tile [0, n); within node k's
    // subtree [k, a_.subtree_end[k]), k's children come in order, the first at
    // k + 1, each next one where the previous one's subtree ends, the last
    // one's subtree ending with k's, each naming k as its parent and lying a
    // level deeper. By induction on the subtree sizes every node is then
    // reached exactly once from the roots: no cycle, no node its own child
    // or listed twice, no child under the wrong parent.
    for (int64_t root = 0; root < count_; root = a_.subtree_end[root])
      if (a_.parents[root] != -1)
        return Bad("dataset.parents", Node(root) + " is where a top-level subtree starts but has parent " +
                                          std::to_string(a_.parents[root]));
    for (size_t k = 0; k < n_; ++k) {
      const int32_t first = a_.child_begin[k], last = a_.child_begin[k + 1];
      const int64_t self = static_cast<int64_t>(k);
      if ((a_.leaf_of_node[k] >= 0) != (first == last))
        return Bad("dataset.children",
                   Node(self) + (first == last ? " has no children but is not a leaf" : " is a leaf but has children"));
      int64_t expect = self + 1;
      for (int32_t i = first; i < last; ++i) {
        const int64_t c = a_.children[static_cast<size_t>(i)].value;
        // In range first: `expect` reaches `count_` when k's subtree (or an
        // earlier child's) claims to end there, and a child id equal to it
        // would index one past parents, levels and a_.subtree_end.
        if (c <= self || c >= count_)
          return Bad("dataset.children",
                     Node(self) + " lists " + (c >= 0 && c < count_ ? Node(c) : "node " + std::to_string(c)) +
                         " as child " + std::to_string(i - first) + ", out of range (" + std::to_string(self + 1) +
                         " to " + std::to_string(count_ - 1) + ")" + (c == self ? " (a node its own child)" : ""));
        if (c != expect)
          return Bad("dataset.children",
                     Node(self) + " lists " + (c >= 0 && c < count_ ? Node(c) : "node " + std::to_string(c)) +
                         " as child " + std::to_string(i - first) + " where its subtree layout puts " +
                         Node(expect < count_ ? expect : -1) + (c == self ? " (a node its own child)" : ""));
        if (a_.parents[c] != self)
          return Bad("dataset.children", Node(self) + " lists " + Node(c) + " as its child, but its parent is " +
                                             (a_.parents[c] < 0 ? std::string("none") : Node(a_.parents[c])));
        if (static_cast<uint8_t>(a_.levels[c]) <= static_cast<uint8_t>(a_.levels[k]))
          return Bad("dataset.levels", Node(c) + " is not a level below its parent " + Node(self));
        expect = a_.subtree_end[c];
      }
      if (expect != a_.subtree_end[k])
        return Bad("dataset.subtree_end", Node(self) + ": subtree ends at " + std::to_string(a_.subtree_end[k]) +
                                              ", its children's subtrees at " + std::to_string(expect));
    }
    return Status::Ok();
  }

  Status CheckLeaves() {
    // Leaves numbered in node order, so that a subtree's leaves are the run
    // [a_.first_leaf[k], a_.first_leaf[a_.subtree_end[k]]).
    int64_t next_leaf = 0;
    for (size_t k = 0; k < n_; ++k)
      if (a_.leaf_of_node[k] >= 0 && a_.leaf_of_node[k] != next_leaf++)
        return Bad("dataset.leaf_of_node", Node(static_cast<int64_t>(k)) + " is leaf " +
                                               std::to_string(a_.leaf_of_node[k]) + ", not leaf " +
                                               std::to_string(next_leaf - 1) + " in node order");
    if (static_cast<size_t>(next_leaf) != leaves_)
      return Bad("dataset.leaf_of_node",
                 std::to_string(next_leaf) + " leaves, dataset.meta says " + std::to_string(leaves_));
    for (size_t l = 0; l < leaves_; ++l)
      if (a_.leaf_nodes[l] < 0 || a_.leaf_nodes[l] >= count_ ||
          a_.leaf_of_node[a_.leaf_nodes[l]] != static_cast<int32_t>(l))
        return Bad("dataset.leaf_nodes", "leaf " + std::to_string(l) + " and its node disagree");
    for (size_t k = n_ + 1; k-- > 0;) {
      const int64_t want = k == n_                   ? static_cast<int64_t>(leaves_)
                           : a_.leaf_of_node[k] >= 0 ? a_.leaf_of_node[k]
                                                     : a_.first_leaf[k + 1];
      if (a_.first_leaf[k] != want)
        return Bad("dataset.first_leaf", Node(k < n_ ? static_cast<int64_t>(k) : -1) + ": first leaf " +
                                             std::to_string(a_.first_leaf[k]) + ", expected " + std::to_string(want));
    }
    return Status::Ok();
  }

  Status CheckNamesSorted() {
    // Name search reads names_sorted as a permutation of the nodes.
    std::vector<bool> named(n_, false);
    for (size_t i = 0; i < n_; ++i) {
      const int32_t k = a_.names_sorted[i];
      if (k < 0 || k >= count_ || named[static_cast<size_t>(k)])
        return Bad("dataset.names_sorted", "entry " + std::to_string(i) + " names " +
                                               (k >= 0 && k < count_ ? Node(k) + " a second time"
                                                                     : "node " + std::to_string(k) + ", out of range"));
      named[static_cast<size_t>(k)] = true;
    }
    BorrowColumns();
    return Status::Ok();
  }

  // Every checked array becomes a column of the dataset, borrowed from the mapping.
  void BorrowColumns() {
    Dataset& ds = out_.dataset;
    ds.levels = Column<Level>::Borrow(a_.levels);
    ds.parents = Column<int32_t>::Borrow(a_.parents);
    ds.subtree_end = Column<int32_t>::Borrow(a_.subtree_end);
    ds.child_begin = Column<int32_t>::Borrow(a_.child_begin);
    ds.children = Column<NodeId>::Borrow(a_.children);
    ds.leaf_of_node = Column<int32_t>::Borrow(a_.leaf_of_node);
    ds.leaf_nodes = Column<int32_t>::Borrow(a_.leaf_nodes);
    ds.node_bounds = Column<index::Box>::Borrow(a_.node_bounds);
    ds.node_area_km2 = Column<double>::Borrow(a_.node_area);
    ds.leaf_metrics = Column<int64_t>::Borrow(a_.leaf_metrics);
    out_.names_sorted = Column<int32_t>::Borrow(a_.names_sorted);
    out_.first_leaf = Column<int32_t>::Borrow(a_.first_leaf);
    out_.node_values = a_.node_values;
  }

  // The inner nodes' own outlines.
  Status ReadInner() {
    std::span<const uint32_t> parts, rings;
    std::span<const uint64_t> points_at;
    std::span<const index::Point> points;
    for (const Status& s : {Map(parts, "inner.polygon_parts"), Map(rings, "inner.part_rings"),
                            Map(points_at, "inner.ring_points"), Map(points, "inner.points")})
      if (!s.ok()) return s;
    if (parts.size() != n_ + 1) return Bad("inner.polygon_parts", "not one outline per node");
    std::string error;
    size_t bad_polygon = SIZE_MAX;
    if (!index::FlatPolygons::Borrow(parts, rings, points_at, points, &out_.dataset.inner_geometry, &error,
                                     &bad_polygon))
      return Bad("inner.*", (bad_polygon < n_ ? Node(static_cast<int64_t>(bad_polygon)) + ": " : "") + error);
    return Status::Ok();
  }

  // The spatial index over the leaves' geometry.
  Status ReadIndex() {
    std::string error;
    size_t bad_polygon = SIZE_MAX;
    std::vector<index::PolygonIndex::Section> sections;
    for (const auto& s : img_->sections()) sections.push_back({s.name, s.bytes});
    out_.index = index::PolygonIndex::FromSections(sections, &error, &bad_polygon);
    if (!out_.index) {
      if (bad_polygon < leaves_)  // the leaf's geometry: name its node
        return Bad("geometry.*",
                   "leaf " + std::to_string(bad_polygon) + ", " + Node(a_.leaf_nodes[bad_polygon]) + ": " + error);
      return InvalidArgument(path_ + ": engine image section " + error);  // the index's errors start with the section
    }
    if (out_.index->size() != leaves_) return Bad("geometry.*", "not one polygon per leaf");
    return Status::Ok();
  }

  const std::string& path_;
  std::shared_ptr<const MappedImage> img_;
  ImageContents out_;
  size_t n_ = 0, leaves_ = 0, m_ = 0;
  int64_t count_ = 0;  // n_, signed, for comparisons with node numbers
  ImageArrays a_;
};

}  // namespace

Result<ImageContents> ReadEngineImage(const std::string& path) {
  auto mapped = MappedImage::Open(path);
  if (!mapped.ok()) return mapped.status();
  return ImageReader(path, std::move(mapped).value()).Read();
}

}  // namespace internal
}  // namespace gridtree
