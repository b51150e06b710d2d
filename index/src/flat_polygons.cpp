#include "gridtree/index/flat_polygons.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace gridtree::index {
namespace {

// Offsets must start at 0, never decrease and end at `total`.
template <typename T>
bool CheckOffsets(std::span<const T> offsets, uint64_t total, const char* what, std::string* error) {
  if (offsets.empty() || offsets.front() != 0 || offsets.back() != total) {
    *error = std::string(what) + ": offsets do not run from 0 to " + std::to_string(total);
    return false;
  }
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] < offsets[i - 1]) {
      *error = std::string(what) + ": offset " + std::to_string(i) + " decreases";
      return false;
    }
  return true;
}

}  // namespace

FlatPolygons::FlatPolygons() { ViewOwned(); }

void FlatPolygons::ViewOwned() {
  borrowed_ = false;
  polygon_part_begin_ = owned_.polygon_part_begin;
  part_ring_begin_ = owned_.part_ring_begin;
  ring_point_begin_ = owned_.ring_point_begin;
  points_ = owned_.points;
}

FlatPolygons::FlatPolygons(const FlatPolygons& other) { *this = other; }

FlatPolygons& FlatPolygons::operator=(const FlatPolygons& other) {
  if (this == &other) return *this;
  owned_ = other.owned_;
  if (other.borrowed_) {
    borrowed_ = true;
    polygon_part_begin_ = other.polygon_part_begin_;
    part_ring_begin_ = other.part_ring_begin_;
    ring_point_begin_ = other.ring_point_begin_;
    points_ = other.points_;
  } else {
    ViewOwned();
  }
  return *this;
}

// Moving a vector keeps its buffer, so the spans of an owned object stay valid.
FlatPolygons::FlatPolygons(FlatPolygons&& other) noexcept
    : owned_(std::move(other.owned_)),
      borrowed_(other.borrowed_),
      polygon_part_begin_(other.polygon_part_begin_),
      part_ring_begin_(other.part_ring_begin_),
      ring_point_begin_(other.ring_point_begin_),
      points_(other.points_) {
  other.owned_ = Owned{};
  other.ViewOwned();
}

FlatPolygons& FlatPolygons::operator=(FlatPolygons&& other) noexcept {
  if (this == &other) return *this;
  owned_ = std::move(other.owned_);
  borrowed_ = other.borrowed_;
  polygon_part_begin_ = other.polygon_part_begin_;
  part_ring_begin_ = other.part_ring_begin_;
  ring_point_begin_ = other.ring_point_begin_;
  points_ = other.points_;
  other.owned_ = Owned{};
  other.ViewOwned();
  return *this;
}

FlatPolygons FlatPolygons::From(const std::vector<MultiPolygon>& polygons) {
  FlatPolygons f;
  Owned& o = f.owned_;
  size_t parts = 0, rings = 0, points = 0;
  for (const MultiPolygon& mp : polygons)
    for (const Polygon& part : mp.parts) {
      ++parts;
      for (const Ring& r : part.rings) ++rings, points += r.size() + 1;
    }
  if (parts >= std::numeric_limits<uint32_t>::max() || rings >= std::numeric_limits<uint32_t>::max())
    throw std::length_error("FlatPolygons: more than 2^32 parts or rings");
  o.polygon_part_begin.reserve(polygons.size() + 1);
  o.part_ring_begin.reserve(parts + 1);
  o.ring_point_begin.reserve(rings + 1);
  o.points.reserve(points);
  for (const MultiPolygon& mp : polygons) {
    for (const Polygon& part : mp.parts) {
      for (const Ring& r : part.rings) {
        o.points.insert(o.points.end(), r.begin(), r.end());
        o.points.push_back(r.empty() ? Point{} : r.front());  // closes the ring
        o.ring_point_begin.push_back(o.points.size());
      }
      o.part_ring_begin.push_back(static_cast<uint32_t>(o.ring_point_begin.size() - 1));
    }
    o.polygon_part_begin.push_back(static_cast<uint32_t>(o.part_ring_begin.size() - 1));
  }
  f.ViewOwned();
  return f;
}

bool FlatPolygons::Borrow(std::span<const uint32_t> polygon_part_begin, std::span<const uint32_t> part_ring_begin,
                          std::span<const uint64_t> ring_point_begin, std::span<const Point> points,
                          FlatPolygons* out, std::string* error, size_t* bad_polygon) {
  if (part_ring_begin.empty() || ring_point_begin.empty()) {
    *error = "empty offset arrays";
    return false;
  }
  if (!CheckOffsets(polygon_part_begin, part_ring_begin.size() - 1, "polygon parts", error) ||
      !CheckOffsets(part_ring_begin, ring_point_begin.size() - 1, "part rings", error) ||
      !CheckOffsets(ring_point_begin, points.size(), "ring points", error))
    return false;
  // Every part has an outer ring, and every ring three corners or more,
  // closed, with finite coordinates: what the exact tests, exports and
  // tiles rely on (a ring of one point divides by zero in a tile). One pass
  // over the points.
  for (size_t poly = 0; poly + 1 < polygon_part_begin.size(); ++poly)
    for (uint32_t part = polygon_part_begin[poly]; part < polygon_part_begin[poly + 1]; ++part) {
      auto fail = [&](const std::string& what) {
        *error = "polygon " + std::to_string(poly) + " part " + std::to_string(part) + ": " + what;
        if (bad_polygon) *bad_polygon = poly;
        return false;
      };
      if (part_ring_begin[part] == part_ring_begin[part + 1]) return fail("no ring");
      for (uint32_t r = part_ring_begin[part]; r < part_ring_begin[part + 1]; ++r) {
        const uint64_t begin = ring_point_begin[r], end = ring_point_begin[r + 1];
        if (end - begin < 4)
          return fail("ring " + std::to_string(r) + " has " + std::to_string(end - begin) +
                      " positions; a ring needs at least 4 (3 corners and the first repeated at the end)");
        for (uint64_t q = begin; q < end; ++q)
          if (!std::isfinite(points[q].x) || !std::isfinite(points[q].y))
            return fail("ring " + std::to_string(r) + " has a coordinate that is not a finite number at point " +
                        std::to_string(q - begin));
        if (points[begin].x != points[end - 1].x || points[begin].y != points[end - 1].y)
          return fail("ring " + std::to_string(r) + " is not closed (its last position differs from its first)");
      }
    }
  FlatPolygons f;
  f.owned_ = Owned{};
  f.borrowed_ = true;
  f.polygon_part_begin_ = polygon_part_begin;
  f.part_ring_begin_ = part_ring_begin;
  f.ring_point_begin_ = ring_point_begin;
  f.points_ = points;
  *out = std::move(f);
  return true;
}

MultiPolygon FlatPolygons::Get(size_t polygon) const {
  MultiPolygon mp;
  for (uint32_t p = parts_begin(polygon); p < parts_end(polygon); ++p) {
    Polygon& part = mp.parts.emplace_back();
    for (uint32_t r = rings_begin(p); r < rings_end(p); ++r) {
      const std::span<const Point> pts = ring(r);
      part.rings.emplace_back(pts.begin(), pts.end());
    }
  }
  return mp;
}

Box FlatPolygons::Bounds(size_t polygon) const {
  Box b = Box::Empty();
  for (uint32_t p = parts_begin(polygon); p < parts_end(polygon); ++p)
    if (rings_begin(p) < rings_end(p))
      for (const Point& q : ring(rings_begin(p))) b.Extend(q);
  return b;
}

size_t FlatPolygons::memory_bytes() const {
  return polygon_part_begin_.size_bytes() + part_ring_begin_.size_bytes() + ring_point_begin_.size_bytes() +
         points_.size_bytes();
}

}  // namespace gridtree::index
