// FlatPolygons: many multipolygons in four flat arrays, the form that an
// engine image maps from disk (docs/image.md): polygon i has parts
// [polygon_part_begin[i], polygon_part_begin[i + 1]), part j has rings
// [part_ring_begin[j], part_ring_begin[j + 1]), ring r has the points
// [ring_point_begin[r], ring_point_begin[r + 1]), the last of which repeats
// its first: edge e of the whole array runs from points[e] to
// points[e + 1], so an index can name an edge with one number. One
// allocation per array instead of three per polygon, and nothing to build
// when mapped.
//
// The arrays are either owned (From) or borrowed from memory that the
// caller keeps alive (Borrow). A polygon with no parts stands for "no
// geometry".
// Thread safety: const methods may be called concurrently; the object is
// never mutated after construction.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gridtree/index/geometry.h"

namespace gridtree::index {

class FlatPolygons {
 public:
  FlatPolygons();
  // Copies polygons into flat arrays.
  static FlatPolygons From(const std::vector<MultiPolygon>& polygons);
  // Views arrays that outlive the object. Checks that every offset array
  // is non-decreasing, starts at 0 and ends at the size of the next one, so
  // that no access reaches past them, that every part has a ring and every
  // ring at least 4 positions, finite, the last repeating the first; on
  // failure returns false, says what is wrong in *error and, when the fault
  // lies in one polygon and bad_polygon is given, its number there.
  static bool Borrow(std::span<const uint32_t> polygon_part_begin, std::span<const uint32_t> part_ring_begin,
                     std::span<const uint64_t> ring_point_begin, std::span<const Point> points,
                     FlatPolygons* out, std::string* error, size_t* bad_polygon = nullptr);

  FlatPolygons(const FlatPolygons& other);
  FlatPolygons& operator=(const FlatPolygons& other);
  FlatPolygons(FlatPolygons&& other) noexcept;
  FlatPolygons& operator=(FlatPolygons&& other) noexcept;

  size_t size() const { return polygon_part_begin_.size() - 1; }
  bool empty(size_t polygon) const { return polygon_part_begin_[polygon] == polygon_part_begin_[polygon + 1]; }

  // Parts of polygon i, as global part numbers.
  uint32_t parts_begin(size_t polygon) const { return polygon_part_begin_[polygon]; }
  uint32_t parts_end(size_t polygon) const { return polygon_part_begin_[polygon + 1]; }
  // Rings of part j, as global ring numbers; the first is the outer ring.
  uint32_t rings_begin(uint32_t part) const { return part_ring_begin_[part]; }
  uint32_t rings_end(uint32_t part) const { return part_ring_begin_[part + 1]; }
  // Ring r without its closing point (as index::Ring holds it).
  std::span<const Point> ring(uint32_t r) const {
    return points_.subspan(ring_point_begin_[r], ring_point_begin_[r + 1] - ring_point_begin_[r] - 1);
  }
  // Where ring r starts in points(): its edges are numbered from there.
  uint64_t ring_start(uint32_t r) const { return ring_point_begin_[r]; }
  size_t part_count() const { return part_ring_begin_.size() - 1; }
  size_t vertex_count() const { return points_.size() - (ring_point_begin_.size() - 1); }

  // Polygon i as nested vectors, for code that wants them (exports, exact
  // region areas); allocates.
  MultiPolygon Get(size_t polygon) const;
  Box Bounds(size_t polygon) const;

  // The four arrays, for writing them out.
  std::span<const uint32_t> polygon_part_begin() const { return polygon_part_begin_; }
  std::span<const uint32_t> part_ring_begin() const { return part_ring_begin_; }
  std::span<const uint64_t> ring_point_begin() const { return ring_point_begin_; }
  std::span<const Point> points() const { return points_; }  // closing points included
  size_t memory_bytes() const;

 private:
  void ViewOwned();

  struct Owned {
    std::vector<uint32_t> polygon_part_begin{0};
    std::vector<uint32_t> part_ring_begin{0};
    std::vector<uint64_t> ring_point_begin{0};
    std::vector<Point> points;
  } owned_;
  bool borrowed_ = false;
  std::span<const uint32_t> polygon_part_begin_;
  std::span<const uint32_t> part_ring_begin_;
  std::span<const uint64_t> ring_point_begin_;
  std::span<const Point> points_;
};

}  // namespace gridtree::index
