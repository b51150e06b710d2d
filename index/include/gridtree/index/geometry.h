// Plain geometry values shared by the index and its users: lon/lat points,
// rings, polygons with holes, multipolygons and boxes. No Boost types here so
// that embedders compile these headers quickly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gridtree::index {

// A WGS84 position in degrees. x is longitude, y is latitude.
struct Point {
  double x = 0;
  double y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

// A closed ring stored without the repeated closing vertex: the edge from
// back() to front() is implied. Outer rings run counter-clockwise, holes
// clockwise (RFC 7946); the loader repairs files that do not.
using Ring = std::vector<Point>;

// One polygon: rings[0] is the outer ring, the rest are holes inside it.
struct Polygon {
  std::vector<Ring> rings;
};

// The geometry of one indexed item: one or more polygon parts (islands).
struct MultiPolygon {
  std::vector<Polygon> parts;
};

struct Box {
  double min_x = 0, min_y = 0, max_x = 0, max_y = 0;

  bool Contains(Point p) const { return p.x >= min_x && p.x <= max_x && p.y >= min_y && p.y <= max_y; }
  bool Intersects(const Box& o) const {
    return min_x <= o.max_x && o.min_x <= max_x && min_y <= o.max_y && o.min_y <= max_y;
  }
  bool Covers(const Box& o) const {
    return min_x <= o.min_x && o.max_x <= max_x && min_y <= o.min_y && o.max_y <= max_y;
  }
  void Extend(Point p);
  void Extend(const Box& o);
  static Box Empty();
  bool IsEmpty() const { return min_x > max_x; }
};

// Whether segment a-b meets the closed box (Liang-Barsky clipping).
bool SegmentMeetsBox(Point a, Point b, const Box& box);

Box BoundsOf(const Ring& ring);
Box BoundsOf(const MultiPolygon& mp);
size_t VertexCount(const MultiPolygon& mp);

// Signed planar area in square degrees (positive for counter-clockwise).
double SignedArea(const Ring& ring);

// Area on the WGS84 ellipsoid in square kilometres (holes subtracted).
double GeodesicAreaKm2(const MultiPolygon& mp);

// Metres per degree of longitude and of latitude at a latitude (WGS84
// ellipsoid series); the local scale used for short distances.
struct MetresPerDegree {
  double lon = 0;
  double lat = 0;
};
MetresPerDegree MetresPerDegreeAt(double lat_deg);

// Distance in metres between two lon/lat points on the WGS84 ellipsoid
// (Vincenty/Andoyer via Boost.Geometry).
double GeodesicDistanceM(Point a, Point b);

}  // namespace gridtree::index
