// Region aggregates. The tree does most of the work: a node whose box lies
// wholly inside the region adds its precomputed rollup without visiting its
// leaves, a node whose box misses the region is skipped, and only leaves on
// the region's border get geometry work (in parallel when there are many).
//
// Geometry per region kind:
//  - box: planar in lon/lat; area fractions by clipping each ring to the box;
//  - circle: a local projection around the centre in metres (longitude scale
//    taken at each point's own latitude, so distances from the centre are
//    ellipsoidal to ~1e-5 at 20 km); exact circle-polygon area edge by edge;
//  - polygon: planar in lon/lat; edges bucketed in a grid, exact
//    point-in-region through a PolygonIndex, areas by Green's theorem.
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <span>


#include "query/tree_walk.h"
#include "state/topology.h"
#include "gridtree/engine/region.h"


namespace gridtree {
namespace {

// Adds with wrap-around, not undefined behaviour, where a sum passes int64:
// a dataset's own sums are checked when it loads, but an image holds the
// values it was written with (found by the image fuzzer).
inline void WrappingAdd(int64_t& sum, int64_t v) {
  sum = static_cast<int64_t>(static_cast<uint64_t>(sum) + static_cast<uint64_t>(v));
}


using index::Box;
using index::MultiPolygon;
using index::Point;

enum class Rel { kDisjoint, kInside, kPartial };

class PreparedRegion {
 public:
  virtual ~PreparedRegion() = default;
  virtual Rel Relation(const Box& b) const = 0;
  virtual bool Contains(const MultiPolygon& leaf) const = 0;
  virtual bool Intersects(const MultiPolygon& leaf) const = 0;
  virtual double Fraction(const MultiPolygon& leaf) const = 0;  // area inside / leaf area
};

bool PointInLeaf(const MultiPolygon& mp, Point p) {
  bool inside = false;
  for (const auto& part : mp.parts)
    for (const auto& ring : part.rings)
      for (size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++)
        if ((ring[i].y > p.y) != (ring[j].y > p.y) &&
            p.x < (ring[j].x - ring[i].x) * (p.y - ring[i].y) / (ring[j].y - ring[i].y) + ring[i].x)
          inside = !inside;
  return inside;
}

// Regions drawn from the leaves' own vertices (a town's outline) meet them
// exactly on shared borders; within this many degrees (about 0.1 mm) a
// point counts as on a border.
constexpr double kTouch = 1e-9;

// Whether p lies within kTouch of segment a-b (squared, no square root).
bool Touches(Point p, Point a, Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  const double t = len2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
  const double ex = p.x - (a.x + t * dx), ey = p.y - (a.y + t * dy);
  return ex * ex + ey * ey <= kTouch * kTouch;
}

// Signed distance of r from the line through p-q (left positive).
double SideOf(Point p, Point q, Point r) {
  const double len = std::sqrt((q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y));
  return len > 0 ? ((q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x)) / len : 0.0;
}

bool SegmentsCrossProperly(Point p, Point q, Point r, Point s) {
  const double a = SideOf(p, q, r), b = SideOf(p, q, s), c = SideOf(r, s, p), d = SideOf(r, s, q);
  auto opposite = [](double u, double v) {
    return (u > kTouch && v < -kTouch) || (u < -kTouch && v > kTouch);
  };
  return opposite(a, b) && opposite(c, d);
}

// ---- box ------------------------------------------------------------------

// Sutherland-Hodgman against one half-plane of the box; exact in area even
// for non-convex rings (degenerate bridges along the box edge add nothing).
template <typename Inside, typename Cut>
void ClipRing(std::vector<Point>& ring, std::vector<Point>& tmp, Inside inside, Cut cut) {
  tmp.clear();
  for (size_t i = 0; i < ring.size(); ++i) {
    const Point a = ring[i], b = ring[(i + 1) % ring.size()];
    const bool ia = inside(a), ib = inside(b);
    if (ia) tmp.push_back(a);
    if (ia != ib) tmp.push_back(cut(a, b));
  }
  ring.swap(tmp);
}

class BoxImpl : public PreparedRegion {
 public:
  explicit BoxImpl(const Box& b) : b_(b) {}
  Rel Relation(const Box& n) const override {
    if (!b_.Intersects(n)) return Rel::kDisjoint;
    return b_.Covers(n) ? Rel::kInside : Rel::kPartial;
  }
  bool Contains(const MultiPolygon& leaf) const override { return b_.Covers(index::BoundsOf(leaf)); }
  bool Intersects(const MultiPolygon& leaf) const override {
    if (!b_.Intersects(index::BoundsOf(leaf))) return false;
    for (const auto& part : leaf.parts)
      for (const auto& ring : part.rings)
        for (size_t i = 0; i < ring.size(); ++i)
          if (index::SegmentMeetsBox(ring[i], ring[(i + 1) % ring.size()], b_)) return true;
    return PointInLeaf(leaf, {b_.min_x, b_.min_y});
  }
  double Fraction(const MultiPolygon& leaf) const override {
    double inside = 0, total = 0;
    std::vector<Point> ring, tmp;
    for (const auto& part : leaf.parts)
      for (const auto& r : part.rings) {
        total += index::SignedArea(r);
        ring.assign(r.begin(), r.end());
        const Box b = b_;
        auto at_x = [](Point a, Point c, double x) { return Point{x, a.y + (x - a.x) * (c.y - a.y) / (c.x - a.x)}; };
        auto at_y = [](Point a, Point c, double y) { return Point{a.x + (y - a.y) * (c.x - a.x) / (c.y - a.y), y}; };
        ClipRing(ring, tmp, [&](Point p) { return p.x >= b.min_x; }, [&](Point a, Point c) { return at_x(a, c, b.min_x); });
        ClipRing(ring, tmp, [&](Point p) { return p.x <= b.max_x; }, [&](Point a, Point c) { return at_x(a, c, b.max_x); });
        ClipRing(ring, tmp, [&](Point p) { return p.y >= b.min_y; }, [&](Point a, Point c) { return at_y(a, c, b.min_y); });
        ClipRing(ring, tmp, [&](Point p) { return p.y <= b.max_y; }, [&](Point a, Point c) { return at_y(a, c, b.max_y); });
        if (ring.size() >= 3) inside += index::SignedArea(ring);
      }
    return total > 0 ? std::clamp(inside / total, 0.0, 1.0) : 0;
  }

 private:
  Box b_;
};

// ---- circle ---------------------------------------------------------------

struct XY {
  double x, y;
};

double Cross(XY a, XY b) { return a.x * b.y - a.y * b.x; }

// Signed area of the intersection of the disk (origin, r) with the triangle
// (origin, a, b).
double TriangleDiskArea(XY a, XY b, double r) {
  const double r2 = r * r;
  auto sector = [&](XY u, XY v) { return 0.5 * r2 * std::atan2(Cross(u, v), u.x * v.x + u.y * v.y); };
  const double aa = a.x * a.x + a.y * a.y, bb = b.x * b.x + b.y * b.y;
  if (aa <= r2 && bb <= r2) return 0.5 * Cross(a, b);
  const XY d{b.x - a.x, b.y - a.y};
  const double A = d.x * d.x + d.y * d.y;
  if (A == 0) return 0;
  const double B = a.x * d.x + a.y * d.y, C = aa - r2;
  const double disc = B * B - A * C;
  if (disc <= 0) return sector(a, b);
  const double s = std::sqrt(disc);
  double t1 = (-B - s) / A, t2 = (-B + s) / A;
  if (t2 <= 0 || t1 >= 1) return sector(a, b);
  t1 = std::max(t1, 0.0);
  t2 = std::min(t2, 1.0);
  const XY p1{a.x + t1 * d.x, a.y + t1 * d.y}, p2{a.x + t2 * d.x, a.y + t2 * d.y};
  return sector(a, p1) + 0.5 * Cross(p1, p2) + sector(p2, b);
}

class CircleImpl : public PreparedRegion {
 public:
  CircleImpl(Point c, double r) : c_(c), r_(r) {
    const auto m = index::MetresPerDegreeAt(c.y);
    m_lat_ = m.lat;
    // Metres per degree of longitude as a quadratic in (lat - lat0): the
    // cubic term is below a millimetre within 0.5 degree of the centre.
    const double h = 0.01;
    const double f0 = m.lon, fp = index::MetresPerDegreeAt(c.y + h).lon, fm = index::MetresPerDegreeAt(c.y - h).lon;
    lon_a_ = f0;
    lon_b_ = (fp - fm) / (2 * h);
    lon_c_ = (fp - 2 * f0 + fm) / (2 * h * h);
    // A box around the circle, slightly enlarged, for quick rejection.
    const double dlat = r / m.lat * 1.001, dlon = r / index::MetresPerDegreeAt(std::abs(c.y) + dlat).lon * 1.001;
    bounds_ = {c.x - dlon, c.y - dlat, c.x + dlon, c.y + dlat};
  }
  XY Project(Point p) const {
    const double d = p.y - c_.y;
    return {(p.x - c_.x) * (lon_a_ + d * (lon_b_ + d * lon_c_)), d * m_lat_};
  }
  double Dist2(Point p) const {
    const XY q = Project(p);
    return q.x * q.x + q.y * q.y;
  }
  Rel Relation(const Box& b) const override {
    if (!bounds_.Intersects(b)) return Rel::kDisjoint;
    const Point nearest{std::clamp(c_.x, b.min_x, b.max_x), std::clamp(c_.y, b.min_y, b.max_y)};
    // Clamping in lon/lat finds the nearest point only up to the projection's
    // curvature: about 2 m at 100 km, so a margin of 1 m + 1e-4 r.
    const double margin = 1.0 + 1e-4 * r_;
    if (Dist2(nearest) > (r_ + margin) * (r_ + margin)) return Rel::kDisjoint;
    const double in = std::max(0.0, r_ - margin);
    for (Point p : {Point{b.min_x, b.min_y}, Point{b.max_x, b.min_y}, Point{b.min_x, b.max_y}, Point{b.max_x, b.max_y}})
      if (Dist2(p) > in * in) return Rel::kPartial;
    return Rel::kInside;
  }
  bool Contains(const MultiPolygon& leaf) const override {
    for (const auto& part : leaf.parts)
      for (const auto& p : part.rings[0])
        if (Dist2(p) > r_ * r_) return false;
    return true;
  }
  // Calls edge(a, b) for every edge of the leaf, projected around the
  // centre, until it returns false; returns whether it went through all.
  template <typename Edge>
  bool ForEachEdge(const MultiPolygon& leaf, Edge&& edge) const {
    for (const auto& part : leaf.parts)
      for (const auto& ring : part.rings) {
        XY a = Project(ring.back());
        for (const Point& pt : ring) {
          const XY b = Project(pt);
          if (!edge(a, b)) return false;
          a = b;
        }
      }
    return true;
  }
  bool Intersects(const MultiPolygon& leaf) const override {
    const double r2 = r_ * r_;
    const bool far = ForEachEdge(leaf, [&](XY a, XY b) {
      const XY d{b.x - a.x, b.y - a.y};
      const double len2 = d.x * d.x + d.y * d.y;
      const double t = len2 > 0 ? std::clamp(-(a.x * d.x + a.y * d.y) / len2, 0.0, 1.0) : 0;
      const XY q{a.x + t * d.x, a.y + t * d.y};
      return q.x * q.x + q.y * q.y > r2;  // stop at the first edge within the circle
    });
    return !far || PointInLeaf(leaf, c_);
  }
  double Fraction(const MultiPolygon& leaf) const override {
    double inside = 0, total = 0;
    bool all_in = true;
    const double r2 = r_ * r_;
    ForEachEdge(leaf, [&](XY a, XY b) {
      total += 0.5 * Cross(a, b);
      if (b.x * b.x + b.y * b.y > r2) all_in = false;
      inside += TriangleDiskArea(a, b, r_);
      return true;
    });
    if (all_in) return 1;
    return total > 0 ? std::clamp(inside / total, 0.0, 1.0) : 0;
  }

 private:
  Point c_;
  double r_;
  double m_lat_;
  double lon_a_ = 0, lon_b_ = 0, lon_c_ = 0;
  Box bounds_;
};

// ---- polygon --------------------------------------------------------------

// A polygon region prepared once per query: its edges bucketed in a uniform
// grid (to find the few edges near a box or a leaf) and a point index over
// it (exact point-in-region). Area fractions use Green's theorem: the area of
// A ∩ B is the boundary integral over (∂A inside B) + (∂B inside A), so only
// the edges near a border leaf are split and summed; no general clipping.
class PolygonImpl : public PreparedRegion {
 public:
  // Why the polygon could not be prepared (its index's limits); empty when it was.
  const std::string& error() const { return error_; }

  explicit PolygonImpl(const MultiPolygon& mp) : bounds_(index::BoundsOf(mp)) {
    for (const auto& part : mp.parts)
      for (const auto& ring : part.rings)
        for (size_t i = 0; i < ring.size(); ++i) edges_.push_back({ring[i], ring[(i + 1) % ring.size()]});
    // Built once per query on the calling thread: a query must not start threads.
    index::PolygonIndexOptions one_thread;
    one_thread.threads = 1;
    inside_ = index::PolygonIndex::Build({mp}, one_thread, &error_);
    const int g = std::clamp(static_cast<int>(std::sqrt(static_cast<double>(edges_.size()))), 1, 512);
    gx_ = gy_ = g;
    cw_ = std::max(bounds_.max_x - bounds_.min_x, 1e-12) / g;
    ch_ = std::max(bounds_.max_y - bounds_.min_y, 1e-12) / g;
    std::vector<std::vector<uint32_t>> cells(static_cast<size_t>(g) * g);
    for (uint32_t e = 0; e < edges_.size(); ++e) {
      const auto [c0, r0, c1, r1] = CellRange(SegmentBox(edges_[e]));
      for (int r = r0; r <= r1; ++r)
        for (int c = c0; c <= c1; ++c) cells[static_cast<size_t>(r) * gx_ + c].push_back(e);
    }
    cell_begin_.push_back(0);
    for (const auto& c : cells) {
      cell_edges_.insert(cell_edges_.end(), c.begin(), c.end());
      cell_begin_.push_back(static_cast<uint32_t>(cell_edges_.size()));
    }
  }

  Rel Relation(const Box& b) const override {
    if (!bounds_.Intersects(b)) return Rel::kDisjoint;
    bool touched = false;
    ForEdgesNear(b, [&](const Seg& e) { return !(touched = index::SegmentMeetsBox(e.a, e.b, b)); });
    if (touched) return Rel::kPartial;
    // No region edge meets the box: it is wholly inside or wholly outside,
    // unless the whole region sits inside the box.
    if (InRegion({(b.min_x + b.max_x) / 2, (b.min_y + b.max_y) / 2})) return Rel::kInside;
    return b.Covers(bounds_) ? Rel::kPartial : Rel::kDisjoint;
  }
  // "Boundary included" (docs/aggregates.md): a leaf whose border runs
  // along the region's border (a town's outline drawn from its leaves) is
  // inside it, and a leaf that only touches the region intersects it.
  // The region's edges near a leaf are gathered once per leaf and every
  // test below reads them (Relation has already answered for leaves far
  // from the border).
  bool Contains(const MultiPolygon& leaf) const override {
    const Box lb = index::BoundsOf(leaf);
    const Rel rel = Relation(lb);
    if (rel != Rel::kPartial) return rel == Rel::kInside;
    const std::vector<Seg> near = EdgesNear(Grown(lb));
    for (const auto& part : leaf.parts) {
      const auto& ring = part.rings[0];
      std::vector<At> at(ring.size());
      for (size_t i = 0; i < ring.size(); ++i)
        if ((at[i] = Where(ring[i], near)) == At::kOutside) return false;
      // An edge between two border vertices may still run outside (a leaf
      // in a notch of the region) without crossing it: its midpoint tells.
      for (size_t i = 0; i < ring.size(); ++i) {
        const size_t j = (i + 1) % ring.size();
        if (at[i] == At::kBorder && at[j] == At::kBorder &&
            !Covers({(ring[i].x + ring[j].x) / 2, (ring[i].y + ring[j].y) / 2}, near))
          return false;
      }
    }
    // A hole of the region inside the leaf: some region vertex lies
    // strictly inside it.
    for (const Seg& e : near)
      if (lb.Contains(e.a) && PointInLeaf(leaf, e.a) && !OnLeafBorder(leaf, e.a)) return false;
    return !EdgesCrossProperly(leaf, near);
  }
  bool Intersects(const MultiPolygon& leaf) const override {
    const Box lb = index::BoundsOf(leaf);
    const Rel rel = Relation(lb);
    if (rel != Rel::kPartial) return rel == Rel::kInside;
    const std::vector<Seg> near = EdgesNear(Grown(lb));
    for (const auto& part : leaf.parts)
      for (const auto& p : part.rings[0])
        if (Covers(p, near)) return true;
    for (const Seg& e : near)
      if (lb.Contains(e.a) && (PointInLeaf(leaf, e.a) || OnLeafBorder(leaf, e.a))) return true;
    return EdgesCross(leaf, near);
  }
  double Fraction(const MultiPolygon& leaf) const override {
    const Box lb = index::BoundsOf(leaf);
    const Rel rel = Relation(lb);
    if (rel != Rel::kPartial) return rel == Rel::kInside ? 1 : 0;
    // Coordinates relative to the leaf's corner keep the cross products small.
    const Point o{lb.min_x, lb.min_y};
    auto cross = [&](Point p, Point q) { return 0.5 * ((p.x - o.x) * (q.y - o.y) - (q.x - o.x) * (p.y - o.y)); };
    const std::vector<Seg> near = EdgesNear(lb);
    double total = 0, inside = 0;
    std::vector<double> ts;
    // ∂leaf inside the region.
    for (const auto& part : leaf.parts)
      for (const auto& ring : part.rings)
        for (size_t i = 0; i < ring.size(); ++i) {
          const Point p = ring[i], q = ring[(i + 1) % ring.size()];
          total += cross(p, q);
          ts.assign({0.0, 1.0});
          for (const Seg& e : near) Cut(p, q, e.a, e.b, ts);
          // A piece along the region's border (a shared border) counts once,
          // here, when both run the same way (their insides on the same
          // side); run opposite ways, the insides lie apart and it adds
          // nothing. The region's own pieces along the leaf's border never
          // count (below).
          inside += SumInside(p, q, ts, cross, [&](Point m) {
            for (const Seg& e : near)
              if (Touches(m, e.a, e.b))
                return (q.x - p.x) * (e.b.x - e.a.x) + (q.y - p.y) * (e.b.y - e.a.y) > 0;
            return InRegion(m);
          });
        }
    // ∂region inside the leaf.
    for (const Seg& e : near) {
      ts.assign({0.0, 1.0});
      for (const auto& part : leaf.parts)
        for (const auto& ring : part.rings)
          for (size_t i = 0; i < ring.size(); ++i) Cut(e.a, e.b, ring[i], ring[(i + 1) % ring.size()], ts);
      inside += SumInside(e.a, e.b, ts, cross,
                          [&](Point m) { return lb.Contains(m) && PointInLeaf(leaf, m) && !OnLeafBorder(leaf, m); });
    }
    return total > 0 ? std::clamp(inside / total, 0.0, 1.0) : 0;
  }

 private:
  struct Seg {
    Point a, b;
  };
  static Box SegmentBox(const Seg& e) {
    return {std::min(e.a.x, e.b.x), std::min(e.a.y, e.b.y), std::max(e.a.x, e.b.x), std::max(e.a.y, e.b.y)};
  }
  std::array<int, 4> CellRange(const Box& b) const {
    // Clamp in double before the cast: a far box would overflow an int.
    auto cx = [&](double x) { return static_cast<int>(std::clamp((x - bounds_.min_x) / cw_, 0.0, gx_ - 1.0)); };
    auto cy = [&](double y) { return static_cast<int>(std::clamp((y - bounds_.min_y) / ch_, 0.0, gy_ - 1.0)); };
    return {cx(b.min_x), cy(b.min_y), cx(b.max_x), cy(b.max_y)};
  }
  // Calls f(edge) once for each region edge whose cells overlap b, until f
  // returns false.
  template <typename F>
  void ForEdgesNear(const Box& b, F&& f) const {
    if (!bounds_.Intersects(b)) return;
    const auto [c0, r0, c1, r1] = CellRange(b);
    std::vector<uint32_t> ids;
    for (int r = r0; r <= r1; ++r)
      for (int c = c0; c <= c1; ++c) {
        const size_t cell = static_cast<size_t>(r) * gx_ + c;
        ids.insert(ids.end(), cell_edges_.begin() + cell_begin_[cell], cell_edges_.begin() + cell_begin_[cell + 1]);
      }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (uint32_t e : ids)
      if (SegmentBox(edges_[e]).Intersects(b) && !f(edges_[e])) return;
  }
  bool InRegion(Point p) const { return inside_->Locate(p) == 0; }
  std::vector<Seg> EdgesNear(const Box& b) const {
    std::vector<Seg> near;
    ForEdgesNear(b, [&](const Seg& e) {
      near.push_back(e);
      return true;
    });
    return near;
  }
  static Box Grown(const Box& b) { return {b.min_x - kTouch, b.min_y - kTouch, b.max_x + kTouch, b.max_y + kTouch}; }
  // Inside, or on the border within kTouch (where the point index's
  // half-open rule may answer either side); `near`: the region's edges
  // near the point.
  enum class At { kInside, kBorder, kOutside };
  At Where(Point p, std::span<const Seg> near) const {
    if (InRegion(p)) return At::kInside;
    for (const Seg& e : near)
      if (NearBox(e, p) && Touches(p, e.a, e.b)) return At::kBorder;
    return At::kOutside;
  }
  bool Covers(Point p, std::span<const Seg> near) const { return Where(p, near) != At::kOutside; }
  // Cheap rejections before the exact tests: p within kTouch of e's box,
  // and two segments' boxes overlapping.
  static bool NearBox(const Seg& e, Point p) {
    return p.x >= std::min(e.a.x, e.b.x) - kTouch && p.x <= std::max(e.a.x, e.b.x) + kTouch &&
           p.y >= std::min(e.a.y, e.b.y) - kTouch && p.y <= std::max(e.a.y, e.b.y) + kTouch;
  }
  static bool BoxesMeet(Point p, Point q, const Seg& e) {
    return std::max(p.x, q.x) >= std::min(e.a.x, e.b.x) && std::min(p.x, q.x) <= std::max(e.a.x, e.b.x) &&
           std::max(p.y, q.y) >= std::min(e.a.y, e.b.y) && std::min(p.y, q.y) <= std::max(e.a.y, e.b.y);
  }
  static bool OnLeafBorder(const MultiPolygon& leaf, Point p) {
    for (const auto& part : leaf.parts)
      for (const auto& ring : part.rings)
        for (size_t i = 0; i < ring.size(); ++i)
          if (Touches(p, ring[i], ring[(i + 1) % ring.size()])) return true;
    return false;
  }
  // Whether a leaf edge and a region edge cross at a point inside both,
  // farther than kTouch from either's line at the other's ends (touching
  // and running along each other are not crossing).
  static bool EdgesCrossProperly(const MultiPolygon& leaf, std::span<const Seg> near) {
    for (const Seg& e : near)
      for (const auto& part : leaf.parts)
        for (const auto& ring : part.rings)
          for (size_t i = 0; i < ring.size(); ++i)
            if (const Point& q = ring[(i + 1) % ring.size()];
                BoxesMeet(ring[i], q, e) && SegmentsCrossProperly(ring[i], q, e.a, e.b))
              return true;
    return false;
  }
  // Whether any leaf edge crosses or touches a region edge inside it.
  static bool EdgesCross(const MultiPolygon& leaf, std::span<const Seg> near) {
    std::vector<double> ts;
    for (const Seg& e : near)
      for (const auto& part : leaf.parts)
        for (const auto& ring : part.rings)
          for (size_t i = 0; i < ring.size(); ++i) {
            const Point& q = ring[(i + 1) % ring.size()];
            if (!BoxesMeet(ring[i], q, e)) continue;
            ts.clear();
            Cut(ring[i], q, e.a, e.b, ts);
            for (double t : ts)
              if (t > 0 && t < 1) return true;
          }
    return false;
  }
  // Appends the parameter t on p-q where segment r-s crosses it.
  static void Cut(Point p, Point q, Point r, Point s, std::vector<double>& ts) {
    const double dx = q.x - p.x, dy = q.y - p.y, ex = s.x - r.x, ey = s.y - r.y;
    const double den = dx * ey - dy * ex;
    if (den == 0) return;  // parallel
    const double fx = r.x - p.x, fy = r.y - p.y;
    const double t = (fx * ey - fy * ex) / den, u = (fx * dy - fy * dx) / den;
    if (t >= 0 && t <= 1 && u >= 0 && u <= 1) ts.push_back(t);
  }
  // Sum of cross/2 over the pieces of p-q (split at ts) whose midpoints pass in().
  template <typename Cross, typename In>
  static double SumInside(Point p, Point q, std::vector<double>& ts, Cross&& cross, In&& in) {
    std::sort(ts.begin(), ts.end());
    double sum = 0;
    for (size_t k = 0; k + 1 < ts.size(); ++k) {
      if (ts[k + 1] <= ts[k]) continue;
      const Point a{p.x + ts[k] * (q.x - p.x), p.y + ts[k] * (q.y - p.y)};
      const Point b{p.x + ts[k + 1] * (q.x - p.x), p.y + ts[k + 1] * (q.y - p.y)};
      if (in(Point{(a.x + b.x) / 2, (a.y + b.y) / 2})) sum += cross(a, b);
    }
    return sum;
  }

  Box bounds_;
  std::vector<Seg> edges_;
  std::unique_ptr<index::PolygonIndex> inside_;
  std::string error_;
  int gx_ = 1, gy_ = 1;
  double cw_ = 1, ch_ = 1;
  std::vector<uint32_t> cell_begin_, cell_edges_;
};

Result<std::unique_ptr<PreparedRegion>> Prepare(const Region& r) {
  switch (r.kind) {
    case Region::Kind::kBox:
      if (!(r.box.min_x <= r.box.max_x && r.box.min_y <= r.box.max_y) || !std::isfinite(r.box.min_x) ||
          !std::isfinite(r.box.max_x) || !std::isfinite(r.box.min_y) || !std::isfinite(r.box.max_y))
        return InvalidArgument("box region: need finite west <= east and south <= north");
      return std::unique_ptr<PreparedRegion>(new BoxImpl(r.box));
    case Region::Kind::kCircle:
      if (!std::isfinite(r.center.x) || !std::isfinite(r.center.y) || std::abs(r.center.y) > 89)
        return InvalidArgument("circle region: centre must be a finite lon/lat (|lat| <= 89)");
      // The local projection is accurate to ~1e-5 up to 20 km; 100 km is the cap.
      if (!(r.radius_m > 0) || r.radius_m > 1e5)
        return InvalidArgument("circle region: radius_m must be in (0, 100000] metres");
      return std::unique_ptr<PreparedRegion>(new CircleImpl(r.center, r.radius_m));
    case Region::Kind::kPolygon: {
      if (r.polygon.parts.empty()) return InvalidArgument("polygon region: no polygon");
      auto polygon = std::make_unique<PolygonImpl>(r.polygon);
      if (!polygon->error().empty()) return InvalidArgument("polygon region: " + polygon->error());
      return std::unique_ptr<PreparedRegion>(std::move(polygon));
    }
  }
  return InvalidArgument("unknown region kind");
}

}  // namespace

Result<RegionResult> View::RegionAggregate(const RegionQuery& query) const {
  auto prepared = Prepare(query.region);
  if (!prepared.ok()) return prepared.status();
  const PreparedRegion& region = *prepared.value();
  const Dataset& ds = dataset();
  const auto& idx = spatial_index();
  const size_t m = metric_count();
  // Without group-by any inside node counts whole; with it, only nodes at or
  // below the grouping level (so that each row gets its share).
  const int group_level = query.group_by ? static_cast<int>(*query.group_by) : -1;

  // 1. Walk the tree: whole nodes and border leaves.
  std::vector<int32_t> whole, border;
  internal::WalkTree(ds, [&](int32_t v) {
    const Rel rel = region.Relation(ds.node_bounds[v]);
    if (rel == Rel::kDisjoint) return false;
    const bool leaf = ds.leaf_of_node[v] >= 0;
    // A whole node above the grouping level is split so that each row gets its share.
    if (rel == Rel::kInside && (leaf || static_cast<int>(ds.levels[v]) >= group_level)) {
      whole.push_back(v);
      return false;
    }
    if (leaf) {
      border.push_back(ds.leaf_of_node[v]);
      return false;
    }
    return true;
  });
  // 2. Geometry on border leaves, in parallel when there are many.
  std::vector<double> weight(border.size());
  auto measure = [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const auto& geom = idx.polygon(border[i]);
      switch (query.mode) {
        case RegionMode::kContained: weight[i] = region.Contains(geom) ? 1 : 0; break;
        case RegionMode::kIntersecting: weight[i] = region.Intersects(geom) ? 1 : 0; break;
        case RegionMode::kAreaWeighted: weight[i] = region.Fraction(geom); break;
      }
    }
  };
  if (border.size() >= 256) topology().executor->For(border.size(), 32, measure);
  else measure(0, border.size());
  // 3. Combine, single-threaded. Whole counts add up as integers, so that
  // they stay exact past 2^53; area-weighted shares as doubles.
  const bool exact = query.mode != RegionMode::kAreaWeighted;
  RegionResult result;
  result.dataset_version = dataset_version();
  result.version = version();
  result.total.assign(m, 0);
  if (exact) result.counts.assign(m, 0);
  std::vector<int32_t> row_of(query.group_by ? ds.node_count() : 0, -1);
  auto add = [&](int32_t node, double w) {
    for (size_t j = 0; j < m; ++j) {
      const int64_t v = Metric(NodeId(node), static_cast<int>(j));
      if (exact) WrappingAdd(result.counts[j], v);
      else result.total[j] += w * static_cast<double>(v);
    }
    if (!query.group_by) return;
    int32_t g = node;
    while (g >= 0 && static_cast<int>(ds.levels[g]) > group_level) g = ds.parents[g];
    if (g < 0 || static_cast<int>(ds.levels[g]) != group_level) return;  // no node of that level above
    if (row_of[g] < 0) {
      row_of[g] = static_cast<int32_t>(result.rows.size());
      result.rows.push_back({NodeId(g), std::vector<double>(m, 0), std::vector<int64_t>(exact ? m : 0, 0)});
    }
    RegionRow& row = result.rows[row_of[g]];
    for (size_t j = 0; j < m; ++j) {
      const int64_t v = Metric(NodeId(node), static_cast<int>(j));
      if (exact) WrappingAdd(row.counts[j], v);
      else row.values[j] += w * static_cast<double>(v);
    }
  };
  for (int32_t v : whole) {
    add(v, 1);
    result.leaves += topology().first_leaf[ds.subtree_end[v]] - topology().first_leaf[v];
  }
  for (size_t i = 0; i < border.size(); ++i) {
    if (weight[i] <= 0) continue;
    add(ds.leaf_nodes[border[i]], weight[i]);
    ++result.leaves;
  }
  if (exact) {
    for (size_t j = 0; j < m; ++j) result.total[j] = static_cast<double>(result.counts[j]);
    for (RegionRow& row : result.rows)
      for (size_t j = 0; j < m; ++j) row.values[j] = static_cast<double>(row.counts[j]);
  }
  std::sort(result.rows.begin(), result.rows.end(), [](const RegionRow& a, const RegionRow& b) { return a.node < b.node; });
  return result;
}

}  // namespace gridtree
