// Binary dataset snapshots ("GTDSET01"): every column of a Dataset written
// flat, little-endian, with a CRC32C at the end. Loading is a few memcpy's
// and one hash map build instead of parsing and checking GeoJSON.
//
// Layout: magic, u64 fingerprint, u64 node/leaf/metric counts, then
// sections, each a u64 byte length followed by the bytes:
//   metric names, ids, names, kinds (strings: u32 offsets + bytes),
//   levels (u8), parents (i32), node bounds (4 x f64), node areas (f64),
//   leaf metrics (i64), geometry of every node: part offsets (u32 per node+1),
//   ring offsets (u32 per part+1), point offsets (u64 per ring+1), points.
#include <algorithm>
#include <cstring>

#include "gridtree/engine/dataset.h"
#include "raw_feature.h"
#include "wal.h"

namespace gridtree {
namespace {

constexpr char kMagic[8] = {'G', 'T', 'D', 'S', 'E', 'T', '0', '1'};

class Writer {
 public:
  template <typename T>
  void Pod(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <typename T>
  void Column(const std::vector<T>& v) {
    Pod(static_cast<uint64_t>(v.size() * sizeof(T)));
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void Strings(const std::vector<std::string>& v) {
    std::vector<uint32_t> offsets{0};
    std::string bytes;
    for (const auto& s : v) bytes += s, offsets.push_back(static_cast<uint32_t>(bytes.size()));
    Column(offsets);
    Pod(static_cast<uint64_t>(bytes.size()));
    out_ += bytes;
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  template <typename T>
  T Pod() {
    T v{};
    if (pos_ + sizeof v > s_.size()) return ok_ = false, v;
    std::memcpy(&v, s_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  template <typename T>
  std::vector<T> Column(size_t expect) {
    const uint64_t bytes = Pod<uint64_t>();
    std::vector<T> v;
    if (!ok_ || bytes % sizeof(T) != 0 || bytes > s_.size() - pos_ || (expect != SIZE_MAX && bytes / sizeof(T) != expect))
      return ok_ = false, v;
    v.resize(bytes / sizeof(T));
    std::memcpy(v.data(), s_.data() + pos_, bytes);
    pos_ += bytes;
    return v;
  }
  // A section's bytes in place, for columns copied piecewise (the points go
  // straight into their rings: no second copy of the largest column).
  std::string_view Raw(size_t element_size) {
    const uint64_t bytes = Pod<uint64_t>();
    if (!ok_ || bytes % element_size != 0 || bytes > s_.size() - pos_) return ok_ = false, std::string_view();
    const std::string_view v = s_.substr(pos_, bytes);
    pos_ += bytes;
    return v;
  }
  std::vector<std::string> Strings(size_t count) {
    const auto offsets = Column<uint32_t>(count + 1);
    const uint64_t bytes = Pod<uint64_t>();
    std::vector<std::string> v;
    if (!ok_ || bytes > s_.size() - pos_ || offsets.empty() || offsets.back() != bytes) return ok_ = false, v;
    v.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (offsets[i] > offsets[i + 1]) return ok_ = false, v;
      v.emplace_back(s_.data() + pos_ + offsets[i], offsets[i + 1] - offsets[i]);
    }
    pos_ += bytes;
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 8;
  bool ok_ = true;
};

}  // namespace

Status SaveDatasetSnapshot(const Dataset& ds, const std::string& path) {
  if (ds.leaf_geometry.size() != ds.leaf_count())
    return InvalidArgument("SaveDatasetSnapshot: the dataset no longer holds its leaf geometry");
  const size_t n = ds.node_count();
  Writer w;
  w.bytes().append(kMagic, 8);
  w.Pod(ds.fingerprint);
  w.Pod(static_cast<uint64_t>(n));
  w.Pod(static_cast<uint64_t>(ds.leaf_count()));
  w.Pod(static_cast<uint64_t>(ds.metric_count()));
  w.Strings(ds.metric_names);
  w.Strings(ds.ids);
  w.Strings(ds.names);
  w.Strings(ds.kinds);
  w.Column(ds.levels);
  w.Column(ds.parents);
  w.Column(ds.node_bounds);
  w.Column(ds.node_area_km2);
  w.Column(ds.leaf_metrics);
  std::vector<uint32_t> part_begin{0}, ring_begin{0};
  std::vector<uint64_t> point_begin{0};
  std::vector<index::Point> points;
  for (size_t k = 0; k < n; ++k) {
    const int32_t leaf = ds.leaf_of_node[k];
    const index::MultiPolygon* mp =
        leaf >= 0 ? &ds.leaf_geometry[leaf] : (ds.inner_geometry[k] ? &*ds.inner_geometry[k] : nullptr);
    if (mp)
      for (const auto& part : mp->parts) {
        for (const auto& ring : part.rings) {
          points.insert(points.end(), ring.begin(), ring.end());
          point_begin.push_back(points.size());
        }
        ring_begin.push_back(static_cast<uint32_t>(point_begin.size() - 1));
      }
    part_begin.push_back(static_cast<uint32_t>(ring_begin.size() - 1));
  }
  w.Column(part_begin);
  w.Column(ring_begin);
  w.Column(point_begin);
  w.Column(points);
  w.Pod(internal::Crc32c(w.bytes().data(), w.bytes().size()));
  // Temporary file, fsync, rename: a failed write never replaces a good snapshot.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (Status s = internal::WriteFileAtomically(dir.empty() ? "/" : dir, name, w.bytes()); !s.ok()) return s;
  return Status::Ok();
}

namespace internal {

bool IsDatasetSnapshot(std::string_view text) { return text.size() >= 8 && std::memcmp(text.data(), kMagic, 8) == 0; }

std::optional<Dataset> ReadDatasetSnapshot(std::string_view bytes, FindingSink& sink) {
  auto corrupt = [&](const std::string& what) {
    sink.Error(-1, "", "bad-snapshot", "binary snapshot is corrupt or truncated (" + what + ")");
    return std::optional<Dataset>();
  };
  if (bytes.size() < 12) return corrupt("too short");
  uint32_t crc;
  std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
  if (Crc32c(bytes.data(), bytes.size() - 4) != crc) return corrupt("checksum mismatch");
  Reader r(bytes);
  Dataset ds;
  ds.fingerprint = r.Pod<uint64_t>();
  const size_t n = r.Pod<uint64_t>(), leaves = r.Pod<uint64_t>(), m = r.Pod<uint64_t>();
  if (!r.ok() || n > bytes.size() || leaves > n || m > bytes.size()) return corrupt("counts");
  ds.metric_names = r.Strings(m);
  ds.ids = r.Strings(n);
  ds.names = r.Strings(n);
  ds.kinds = r.Strings(n);
  ds.levels = r.Column<Level>(n);
  ds.parents = r.Column<int32_t>(n);
  ds.node_bounds = r.Column<index::Box>(n);
  ds.node_area_km2 = r.Column<double>(n);
  ds.leaf_metrics = r.Column<int64_t>(leaves * m);
  const auto part_begin = r.Column<uint32_t>(n + 1);
  const auto ring_begin = r.Column<uint32_t>(SIZE_MAX);
  const auto point_begin = r.Column<uint64_t>(SIZE_MAX);
  const std::string_view points = r.Raw(sizeof(index::Point));
  if (!r.ok() || ring_begin.empty() || point_begin.empty() || part_begin.back() + 1 != ring_begin.size() ||
      ring_begin.back() + 1 != point_begin.size() || point_begin.back() != points.size() / sizeof(index::Point))
    return corrupt("geometry sections");
  // Every offset array starts at 0 and never decreases; rings have 3+ points.
  auto monotone = [](const auto& v) { return v.front() == 0 && std::is_sorted(v.begin(), v.end()); };
  if (!monotone(part_begin) || !monotone(ring_begin) || !monotone(point_begin)) return corrupt("geometry offsets");
  for (size_t q = 0; q + 1 < point_begin.size(); ++q)
    if (point_begin[q + 1] - point_begin[q] < 3) return corrupt("a ring with fewer than 3 points");
  for (int64_t v : ds.leaf_metrics)
    if (v < 0) return corrupt("a negative metric");
  // Derived columns: children, subtree ends, leaves.
  ds.child_begin.assign(n + 1, 0);
  // Pre-order: each node's parent is the previous node or one of its ancestors.
  for (size_t k = 0; k < n; ++k) {
    const int32_t p = ds.parents[k];
    if (p >= static_cast<int32_t>(k) || static_cast<uint8_t>(ds.levels[k]) >= kLevelCount) return corrupt("order");
    if (p >= 0) {
      int32_t a = static_cast<int32_t>(k) - 1;
      while (a >= 0 && a != p) a = ds.parents[a];
      if (a != p) return corrupt("order");
      ++ds.child_begin[p + 1];
    }
  }
  for (size_t k = 0; k < n; ++k) ds.child_begin[k + 1] += ds.child_begin[k];
  ds.children.resize(ds.child_begin[n]);
  std::vector<int32_t> fill(ds.child_begin.begin(), ds.child_begin.end() - 1);
  for (size_t k = 0; k < n; ++k)
    if (ds.parents[k] >= 0) ds.children[fill[ds.parents[k]]++] = NodeId(static_cast<int32_t>(k));
  ds.subtree_end.resize(n);
  for (size_t k = n; k-- > 0;) {
    int32_t end = static_cast<int32_t>(k) + 1;
    for (int32_t i = ds.child_begin[k]; i < ds.child_begin[k + 1]; ++i) end = std::max(end, ds.subtree_end[ds.children[i].value]);
    ds.subtree_end[k] = end;
  }
  ds.leaf_of_node.assign(n, -1);
  ds.inner_geometry.resize(n);
  ds.leaf_nodes.reserve(leaves);
  ds.leaf_geometry.reserve(leaves);
  ds.node_by_id.reserve(n * 2);
  for (size_t k = 0; k < n; ++k) {
    ds.node_by_id.emplace(ds.ids[k], static_cast<int32_t>(k));
    index::MultiPolygon mp;
    for (uint32_t p = part_begin[k]; p < part_begin[k + 1]; ++p) {
      auto& part = mp.parts.emplace_back();
      for (uint32_t q = ring_begin[p]; q < ring_begin[p + 1]; ++q) {
        index::Ring& ring = part.rings.emplace_back(point_begin[q + 1] - point_begin[q]);
        std::memcpy(ring.data(), points.data() + point_begin[q] * sizeof(index::Point), ring.size() * sizeof(index::Point));
      }
    }
    if (ds.child_begin[k] == ds.child_begin[k + 1]) {
      ds.leaf_of_node[k] = static_cast<int32_t>(ds.leaf_nodes.size());
      ds.leaf_nodes.push_back(static_cast<int32_t>(k));
      ds.leaf_geometry.push_back(std::move(mp));
    } else if (!mp.parts.empty()) {
      ds.inner_geometry[k] = std::move(mp);
    }
  }
  if (ds.leaf_nodes.size() != leaves) return corrupt("leaf count");
  return ds;
}

}  // namespace internal
}  // namespace gridtree
