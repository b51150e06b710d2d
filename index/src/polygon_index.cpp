// PolygonIndex: filter, then refine.
//
// Three layers, chosen by measurement (docs/index.md):
//  1. A uniform lookup grid over the extent. A cell that no edge touches is
//     wholly inside one polygon (or none) and answers directly.
//  2. A cell that edges touch keeps the short list of parts touching it
//     (plus the lowest polygon covering it whole, for overlapping data);
//     each is tested exactly with its slab-bucketed edges (PartEdges).
//  3. A Boost.Geometry R-tree of part boxes, bulk-loaded, for box queries,
//     nearest-leaf snapping and the brute-force paths.
#include "gridtree/index/polygon_index.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <utility>

#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/point.hpp>
#include <boost/geometry/index/rtree.hpp>

#include "part_edges.h"

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

namespace gridtree::index {
namespace {

using BPoint = bg::model::point<double, 2, bg::cs::cartesian>;
using BBox = bg::model::box<BPoint>;
using RValue = std::pair<BBox, uint32_t>;  // part number
using RTree = bgi::rtree<RValue, bgi::quadratic<16>>;

constexpr uint32_t kCoverBit = 0x80000000u;

BBox ToBBox(const Box& b) { return BBox(BPoint(b.min_x, b.min_y), BPoint(b.max_x, b.max_y)); }

// Liang-Barsky: does segment a-b meet the closed box?
bool SegmentTouchesBox(Point a, Point b, double x0, double y0, double x1, double y1) {
  double t0 = 0, t1 = 1;
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {a.x - x0, x1 - a.x, a.y - y0, y1 - a.y};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double r = q[i] / p[i];
    if (p[i] < 0) {
      if (r > t1) return false;
      if (r > t0) t0 = r;
    } else {
      if (r < t0) return false;
      if (r < t1) t1 = r;
    }
  }
  return true;
}

// Metres per degree of longitude and latitude at a latitude (WGS84 series).
std::pair<double, double> MetresPerDegree(double lat_deg) {
  const double phi = lat_deg * M_PI / 180;
  const double m_lat = 111132.954 - 559.822 * std::cos(2 * phi) + 1.175 * std::cos(4 * phi);
  const double m_lon = 111412.84 * std::cos(phi) - 93.5 * std::cos(3 * phi);
  return {std::max(m_lon, 1e-6), m_lat};
}

double SegmentDistanceSq(double px, double py, double ax, double ay, double bx, double by) {
  const double dx = bx - ax, dy = by - ay;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = ax + t * dx - px, ey = ay + t * dy - py;
  return ex * ex + ey * ey;
}

}  // namespace

struct PolygonIndex::Impl {
  struct PartRef {
    int32_t polygon;
    uint32_t part;  // index within the polygon's parts
    Box box;
  };

  std::vector<MultiPolygon> polygons;
  std::vector<Box> polygon_bounds;
  std::vector<PartRef> parts;
  std::vector<internal::PartEdges> part_edges;
  RTree rtree;
  Box extent = Box::Empty();
  size_t edge_count = 0;

  // Lookup grid. cells[c] >= 0: that polygon covers the cell; -1: none;
  // <= -2: mixed, entries mixed_begin[k]..mixed_begin[k+1] with k = -2 - v.
  double gx0 = 0, gy0 = 0, cell = 1, inv_cell = 1;
  int nx = 0, ny = 0;
  std::vector<int32_t> cells;
  std::vector<uint32_t> mixed_begin;
  std::vector<uint32_t> mixed_entries;  // part number, or kCoverBit | polygon

  void BuildGrid(const PolygonIndexOptions& options);

  int32_t LocateInGrid(Point p) const {
    const double fx = (p.x - gx0) * inv_cell;
    const double fy = (p.y - gy0) * inv_cell;
    if (!(fx >= 0 && fx <= nx && fy >= 0 && fy <= ny)) return -1;  // also NaN
    const int cx = std::min(static_cast<int>(fx), nx - 1);
    const int cy = std::min(static_cast<int>(fy), ny - 1);
    const int32_t v = cells[static_cast<size_t>(cy) * nx + cx];
    if (v >= -1) return v;
    const uint32_t k = static_cast<uint32_t>(-2 - v);
    for (uint32_t i = mixed_begin[k], end = mixed_begin[k + 1]; i < end; ++i) {
      const uint32_t e = mixed_entries[i];
      if (e & kCoverBit) return static_cast<int32_t>(e & ~kCoverBit);
      if (part_edges[e].Contains(p)) return parts[e].polygon;
    }
    return -1;
  }
};

void PolygonIndex::Impl::BuildGrid(const PolygonIndexOptions& options) {
  const double w = std::max(extent.max_x - extent.min_x, 1e-9);
  const double h = std::max(extent.max_y - extent.min_y, 1e-9);
  const double target = std::clamp(options.cells_per_edge * static_cast<double>(edge_count), 1.0,
                                    static_cast<double>(options.max_cells));
  cell = std::sqrt(w * h / target);
  nx = std::max(1, static_cast<int>(std::ceil(w / cell)));
  ny = std::max(1, static_cast<int>(std::ceil(h / cell)));
  while (static_cast<int64_t>(nx) * ny > options.max_cells) {  // rounding up may overshoot the cap
    cell *= 1.01;
    nx = std::max(1, static_cast<int>(std::ceil(w / cell)));
    ny = std::max(1, static_cast<int>(std::ceil(h / cell)));
  }
  gx0 = extent.min_x;
  gy0 = extent.min_y;
  inv_cell = 1 / cell;
  const size_t ncells = static_cast<size_t>(nx) * ny;
  const double eps = cell * 1e-6;  // cells are tested slightly enlarged: never miss a touch

  std::vector<int32_t> cover(ncells, INT32_MAX);  // lowest polygon covering the whole cell
  std::vector<uint64_t> touches;                   // (cell << 32) | part
  std::vector<uint32_t> touched;
  std::vector<double> xs;
  auto col = [&](double x) { return std::clamp(static_cast<int>(std::floor((x - gx0) * inv_cell)), 0, nx - 1); };
  auto row = [&](double y) { return std::clamp(static_cast<int>(std::floor((y - gy0) * inv_cell)), 0, ny - 1); };

  for (uint32_t pi = 0; pi < parts.size(); ++pi) {
    const Polygon& part = polygons[parts[pi].polygon].parts[parts[pi].part];
    touched.clear();
    // 1. Cells that the part's edges touch.
    for (const Ring& ring : part.rings) {
      const size_t n = ring.size();
      for (size_t i = 0; i < n; ++i) {
        const Point a = ring[i], b = ring[(i + 1) % n];
        const int c0 = col(std::min(a.x, b.x) - eps), c1 = col(std::max(a.x, b.x) + eps);
        const int r0 = row(std::min(a.y, b.y) - eps), r1 = row(std::max(a.y, b.y) + eps);
        for (int r = r0; r <= r1; ++r)
          for (int c = c0; c <= c1; ++c) {
            const double x0 = gx0 + c * cell - eps, y0 = gy0 + r * cell - eps;
            if (SegmentTouchesBox(a, b, x0, y0, x0 + cell + 2 * eps, y0 + cell + 2 * eps))
              touched.push_back(static_cast<uint32_t>(static_cast<size_t>(r) * nx + c));
          }
      }
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint32_t c : touched) touches.push_back((static_cast<uint64_t>(c) << 32) | pi);
    // 2. Cells whose centre is inside the part and that no edge touches lie
    //    wholly inside it: scan each cell row along its centre line.
    const Box& box = parts[pi].box;
    for (int r = row(box.min_y), r1 = row(box.max_y); r <= r1; ++r) {
      const double yc = gy0 + (r + 0.5) * cell;
      xs.clear();
      part_edges[pi].CrossingsAt(yc, xs);
      std::sort(xs.begin(), xs.end());
      for (size_t k = 0; k + 1 < xs.size(); k += 2) {
        int c = std::max(0, static_cast<int>(std::ceil((xs[k] - gx0) * inv_cell - 0.5)));
        for (; c < nx; ++c) {
          const double xc = gx0 + (c + 0.5) * cell;
          if (xc <= xs[k]) continue;
          if (xc >= xs[k + 1]) break;
          const uint32_t id = static_cast<uint32_t>(static_cast<size_t>(r) * nx + c);
          if (std::binary_search(touched.begin(), touched.end(), id)) continue;
          cover[id] = std::min(cover[id], parts[pi].polygon);
        }
      }
    }
  }

  std::sort(touches.begin(), touches.end());
  cells.assign(ncells, -1);
  for (size_t c = 0; c < ncells; ++c)
    if (cover[c] != INT32_MAX) cells[c] = cover[c];
  mixed_begin.clear();
  mixed_entries.clear();
  mixed_begin.push_back(0);
  std::vector<std::pair<int32_t, uint32_t>> list;  // (polygon, entry)
  for (size_t i = 0; i < touches.size();) {
    const uint32_t c = static_cast<uint32_t>(touches[i] >> 32);
    list.clear();
    for (; i < touches.size() && static_cast<uint32_t>(touches[i] >> 32) == c; ++i) {
      const uint32_t pi = static_cast<uint32_t>(touches[i]);
      list.emplace_back(parts[pi].polygon, pi);
    }
    if (cover[c] != INT32_MAX) list.emplace_back(cover[c], kCoverBit | static_cast<uint32_t>(cover[c]));
    // Lowest polygon first; a cover entry ends the list (nothing after it can win).
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return (a.second & kCoverBit) > (b.second & kCoverBit);
    });
    for (const auto& [poly, entry] : list) {
      mixed_entries.push_back(entry);
      if (entry & kCoverBit) break;
    }
    cells[c] = -2 - static_cast<int32_t>(mixed_begin.size() - 1);
    mixed_begin.push_back(static_cast<uint32_t>(mixed_entries.size()));
  }
}

PolygonIndex::PolygonIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolygonIndex::~PolygonIndex() = default;

std::unique_ptr<PolygonIndex> PolygonIndex::Build(std::vector<MultiPolygon> polygons,
                                                  const PolygonIndexOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->polygons = std::move(polygons);
  std::vector<RValue> values;
  for (int32_t i = 0; i < static_cast<int32_t>(impl->polygons.size()); ++i) {
    const MultiPolygon& mp = impl->polygons[i];
    impl->polygon_bounds.push_back(BoundsOf(mp));
    for (uint32_t k = 0; k < mp.parts.size(); ++k) {
      const Polygon& part = mp.parts[k];
      if (part.rings.empty() || part.rings[0].size() < 3) continue;
      const Box box = BoundsOf(part.rings[0]);
      values.emplace_back(ToBBox(box), static_cast<uint32_t>(impl->parts.size()));
      impl->parts.push_back({i, k, box});
      impl->part_edges.emplace_back(part, options.edges_per_slab);
      impl->extent.Extend(box);
      for (const Ring& r : part.rings) impl->edge_count += r.size();
    }
  }
  impl->rtree = RTree(values.begin(), values.end());  // packing constructor
  if (!impl->parts.empty()) impl->BuildGrid(options);
  return std::unique_ptr<PolygonIndex>(new PolygonIndex(std::move(impl)));
}

int32_t PolygonIndex::Locate(Point p) const { return impl_->LocateInGrid(p); }

void PolygonIndex::LocateMany(std::span<const double> xs, std::span<const double> ys, std::span<int32_t> out) const {
  const size_t n = std::min({xs.size(), ys.size(), out.size()});
  for (size_t i = 0; i < n; ++i) out[i] = impl_->LocateInGrid(Point{xs[i], ys[i]});
}

int32_t PolygonIndex::LocateBruteForce(Point p) const {
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) return -1;
  for (size_t pi = 0; pi < impl_->parts.size(); ++pi) {
    // Parts are stored in polygon order, so the first hit is the lowest polygon.
    if (impl_->parts[pi].box.Contains(p) && impl_->part_edges[pi].Contains(p)) return impl_->parts[pi].polygon;
  }
  return -1;
}

std::optional<PolygonIndex::Nearest> PolygonIndex::NearestWithin(Point p, double max_distance_m) const {
  if (!std::isfinite(p.x) || !std::isfinite(p.y) || !(max_distance_m >= 0)) return std::nullopt;
  const auto [m_lon, m_lat] = MetresPerDegree(p.y);
  const double dlon = max_distance_m / m_lon, dlat = max_distance_m / m_lat;
  const BBox query(BPoint(p.x - dlon, p.y - dlat), BPoint(p.x + dlon, p.y + dlat));
  Nearest best{-1, INFINITY};
  for (auto it = impl_->rtree.qbegin(bgi::intersects(query)); it != impl_->rtree.qend(); ++it) {
    const Impl::PartRef& ref = impl_->parts[it->second];
    const Polygon& part = impl_->polygons[ref.polygon].parts[ref.part];
    double best_sq = INFINITY;
    for (const Ring& ring : part.rings)
      for (size_t i = 0, n = ring.size(); i < n; ++i) {
        const Point a = ring[i], b = ring[(i + 1) % n];
        best_sq = std::min(best_sq, SegmentDistanceSq(0, 0, (a.x - p.x) * m_lon, (a.y - p.y) * m_lat,
                                                      (b.x - p.x) * m_lon, (b.y - p.y) * m_lat));
      }
    const double d = std::sqrt(best_sq);
    if (d < best.distance_m || (d == best.distance_m && ref.polygon < best.polygon)) best = {ref.polygon, d};
  }
  if (best.polygon < 0 || best.distance_m > max_distance_m) return std::nullopt;
  return best;
}

void PolygonIndex::QueryBox(const Box& box, CandidateSink sink) const {
  for (auto it = impl_->rtree.qbegin(bgi::intersects(ToBBox(box))); it != impl_->rtree.qend(); ++it)
    if (!sink.fn(sink.ctx, impl_->parts[it->second].polygon)) return;
}

const MultiPolygon& PolygonIndex::polygon(int32_t i) const { return impl_->polygons[i]; }
const Box& PolygonIndex::bounds(int32_t i) const { return impl_->polygon_bounds[i]; }
size_t PolygonIndex::size() const { return impl_->polygons.size(); }
Box PolygonIndex::extent() const { return impl_->extent; }

IndexStats PolygonIndex::stats() const {
  IndexStats s;
  s.polygons = impl_->polygons.size();
  s.parts = impl_->parts.size();
  s.edges = impl_->edge_count;
  s.grid_cells = static_cast<int64_t>(impl_->nx) * impl_->ny;
  s.grid_mixed_cells = impl_->mixed_begin.empty() ? 0 : static_cast<int64_t>(impl_->mixed_begin.size() - 1);
  size_t bytes = impl_->cells.size() * 4 + impl_->mixed_begin.size() * 4 + impl_->mixed_entries.size() * 4;
  for (const auto& pe : impl_->part_edges) bytes += pe.memory_bytes();
  bytes += impl_->parts.size() * (sizeof(Impl::PartRef) + sizeof(RValue) * 2);
  for (const auto& mp : impl_->polygons) bytes += VertexCount(mp) * sizeof(Point);
  s.memory_bytes = bytes;
  return s;
}

}  // namespace gridtree::index
