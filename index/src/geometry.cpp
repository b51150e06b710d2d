// Bounds, planar and ellipsoidal areas and distances of the plain geometry
// types. The only place in index/ that converts to Boost.Geometry's
// geographic models.
#include "gridtree/index/geometry.h"

#include <algorithm>
#include <cmath>

#include <boost/geometry/algorithms/area.hpp>
#include <boost/geometry/algorithms/distance.hpp>
#include <boost/geometry/geometries/point.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <boost/geometry/strategies/geographic/area.hpp>
#include <boost/geometry/strategies/geographic/distance.hpp>

namespace bg = boost::geometry;

namespace gridtree::index {
namespace {
using GeoPoint = bg::model::point<double, 2, bg::cs::geographic<bg::degree>>;
using GeoRing = bg::model::ring<GeoPoint, /*clockwise=*/false, /*closed=*/false>;
}  // namespace

void Box::Extend(Point p) {
  min_x = std::min(min_x, p.x);
  min_y = std::min(min_y, p.y);
  max_x = std::max(max_x, p.x);
  max_y = std::max(max_y, p.y);
}

void Box::Extend(const Box& o) {
  if (o.IsEmpty()) return;
  Extend(Point{o.min_x, o.min_y});
  Extend(Point{o.max_x, o.max_y});
}

Box Box::Empty() { return {INFINITY, INFINITY, -INFINITY, -INFINITY}; }

bool SegmentMeetsBox(Point a, Point b, const Box& box) {
  double t0 = 0, t1 = 1;
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {a.x - box.min_x, box.max_x - a.x, a.y - box.min_y, box.max_y - a.y};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double r = q[i] / p[i];
    if (p[i] < 0) t0 = std::max(t0, r);
    else t1 = std::min(t1, r);
    if (t0 > t1) return false;
  }
  return true;
}

Box BoundsOf(const Ring& ring) {
  Box b = Box::Empty();
  for (const Point& p : ring) b.Extend(p);
  return b;
}

Box BoundsOf(const MultiPolygon& mp) {
  Box b = Box::Empty();
  for (const Polygon& part : mp.parts)
    if (!part.rings.empty()) b.Extend(BoundsOf(part.rings[0]));
  return b;
}

size_t VertexCount(const MultiPolygon& mp) {
  size_t n = 0;
  for (const Polygon& part : mp.parts)
    for (const Ring& r : part.rings) n += r.size();
  return n;
}

double SignedArea(const Ring& ring) {
  double twice = 0;
  const size_t n = ring.size();
  for (size_t i = 0; i < n; ++i) {
    const Point& a = ring[i];
    const Point& b = ring[(i + 1) % n];
    twice += (a.x - b.x) * (a.y + b.y);  // shoelace, counter-clockwise positive
  }
  return twice / 2;
}

double GeodesicAreaKm2(const MultiPolygon& mp) {
  bg::strategy::area::geographic<> strategy;
  double m2 = 0;
  for (const Polygon& part : mp.parts) {
    for (size_t r = 0; r < part.rings.size(); ++r) {
      GeoRing ring;
      ring.reserve(part.rings[r].size());
      for (const Point& p : part.rings[r]) ring.push_back(GeoPoint(p.x, p.y));
      // Outer rings are counter-clockwise and holes clockwise, so the signed
      // areas already add up to outer minus holes.
      m2 += bg::area(ring, strategy);
    }
  }
  return m2 / 1e6;
}

MetresPerDegree MetresPerDegreeAt(double lat_deg) {
  const double phi = lat_deg * M_PI / 180;
  const double m_lat = 111132.954 - 559.822 * std::cos(2 * phi) + 1.175 * std::cos(4 * phi);
  const double m_lon = 111412.84 * std::cos(phi) - 93.5 * std::cos(3 * phi);
  return {std::max(m_lon, 1e-6), m_lat};
}

double GeodesicDistanceM(Point a, Point b) {
  return bg::distance(GeoPoint(a.x, a.y), GeoPoint(b.x, b.y), bg::strategy::distance::geographic<bg::strategy::andoyer>());
}

}  // namespace gridtree::index
