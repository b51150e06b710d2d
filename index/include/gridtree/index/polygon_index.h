// PolygonIndex: point location over a fixed set of (multi)polygons.
//
// The index knows nothing of what the polygons mean: it maps a position to
// the number of the polygon that holds it. Built once and immutable.
// Thread safety: const methods may be called concurrently; the object is
// never mutated after Build.
//
// Boundary rule (docs/boundaries.md): a point is located as if it were moved
// by an infinitesimal step right (east) and an even smaller step up (north).
// A point on an edge shared by two polygons therefore belongs to exactly one
// of them, decided exactly (robust orientation predicate), whatever the
// floating-point coordinates.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/index/flat_polygons.h"
#include "gridtree/index/geometry.h"

namespace gridtree::index {

struct PolygonIndexOptions {
  // Target number of cells in the lookup grid per polygon edge. A cell that
  // no edge touches answers without any polygon test; more cells mean fewer
  // edges per mixed cell and more memory (docs/index.md).
  // DEFAULT: 4.0
  double cells_per_edge = 4.0;
  // Upper bound on the lookup grid size (cells). The grid is held in two
  // levels (blocks of 8 x 8 cells that answer alike take one value), so
  // its memory follows the leaf borders and this cap only guards against
  // degenerate input; the build needs about 12 bytes per cell while it runs.
  // DEFAULT: 1 << 29 (512 Mi cells; a national dataset of 61 M edges
  // needs 246 Mi at 4 cells per edge)
  int64_t max_cells = int64_t{1} << 29;
  // Edges per horizontal slab in the per-part edge buckets that classify
  // grid cells while building (build time only).
  // DEFAULT: 4
  int edges_per_slab = 4;
  // Threads that build the lookup grid; the result is the same for any
  // count. 0: one per hardware thread.
  // DEFAULT: 0
  int threads = 0;
  // Runs task(i) for every i in [0, n) and returns when all are done. An
  // embedding program passes its own thread pool here (the engine passes
  // its Executor), so that the build runs on it and `threads` is unused.
  // DEFAULT: empty (the build starts up to `threads` threads of its own)
  std::function<void(size_t n, const std::function<void(size_t)>& task)> parallel_for;
};

struct IndexStats {
  size_t polygons = 0;
  size_t parts = 0;
  size_t edges = 0;
  int64_t grid_cells = 0;
  int64_t grid_mixed_cells = 0;
  size_t memory_bytes = 0;
};

class PolygonIndex {
 public:
  // polygons[i] becomes polygon number i. Rings must be closed implicitly
  // (no repeated last vertex) and oriented as Ring says.
  // Returns null, with the reason in *error when error is given, when the
  // index cannot hold the polygons: 2^32 points or more, a lookup grid of
  // more than 2^32 cells (lower cells_per_edge or max_cells), or no memory
  // left. Nothing is thrown.
  static std::unique_ptr<PolygonIndex> Build(std::vector<MultiPolygon> polygons,
                                             const PolygonIndexOptions& options = {}, std::string* error = nullptr);
  ~PolygonIndex();
  PolygonIndex(const PolygonIndex&) = delete;
  PolygonIndex& operator=(const PolygonIndex&) = delete;

  // The polygon holding p, or -1 when p is in none. Where polygons overlap
  // the lowest number wins. NaN or infinite input returns -1; callers that
  // want an error check IsFinite first. No allocation.
  int32_t Locate(Point p) const;

  // Locate for many points; out[i] answers points[i]. Single-threaded.
  void LocateMany(std::span<const double> xs, std::span<const double> ys, std::span<int32_t> out) const;

  // The polygon nearest to p within max_distance_m metres (ground distance
  // to its boundary), when p is in none of them.
  struct Nearest {
    int32_t polygon = -1;
    double distance_m = 0;
  };
  std::optional<Nearest> NearestWithin(Point p, double max_distance_m) const;

  // Calls visit(polygon) for every polygon whose part boxes intersect box;
  // a polygon with several such parts is reported once per part. Stops when
  // visit returns false.
  template <typename Visit>
  void VisitBoxCandidates(const Box& box, Visit&& visit) const {
    CandidateSink sink{&visit, [](void* v, int32_t id) { return (*static_cast<Visit*>(v))(id); }};
    QueryBox(box, sink);
  }

  // Brute-force point location over every part of every polygon with the
  // same boundary rule; used by tests and as a baseline.
  int32_t LocateBruteForce(Point p) const;

  // Polygon i as nested vectors (allocates); geometry() reads it in place.
  MultiPolygon polygon(int32_t i) const;
  const FlatPolygons& geometry() const;
  size_t size() const;
  Box extent() const;
  IndexStats stats() const;

  // The index as named byte arrays, for an engine image to store
  // (docs/image.md). The spans stay valid as long as the index.
  struct Section {
    std::string_view name;
    std::span<const std::byte> bytes;
  };
  std::vector<Section> Sections() const;
  // An index over sections that Sections() wrote, borrowed in place (they
  // must outlive the index and be aligned as their elements): nothing is
  // built. Sizes, offsets and every cell's entries are checked so that no
  // lookup reads past them, and the geometry's rings as FlatPolygons::Borrow
  // checks them; on failure returns null, says what is wrong in *error and,
  // when the fault lies in one polygon's geometry and bad_polygon is given,
  // its number there. Data that passes these checks but was altered (bit
  // flips) gives wrong answers, not crashes: the image's checksums catch
  // those.
  static std::unique_ptr<PolygonIndex> FromSections(std::span<const Section> sections, std::string* error,
                                                    size_t* bad_polygon = nullptr);

 private:
  struct CandidateSink {
    void* ctx;
    bool (*fn)(void*, int32_t);
  };
  void QueryBox(const Box& box, CandidateSink sink) const;

  struct Impl;
  explicit PolygonIndex(std::unique_ptr<Impl> impl);
  // Build, with its limits thrown as std::length_error (Build catches them).
  static std::unique_ptr<PolygonIndex> BuildOrThrow(std::vector<MultiPolygon> polygons,
                                                    const PolygonIndexOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gridtree::index
