// PolygonIndex: filter, then refine.
//
// Three layers, chosen by measurement (docs/index.md):
//  1. A uniform lookup grid over the extent. A cell that no edge touches is
//     wholly inside one polygon (or none) and answers directly.
//  2. A cell that edges touch keeps, in one contiguous run, an entry per
//     part touching it (plus the lowest polygon covering it whole, for
//     overlapping data), each followed by the few edges that decide the
//     crossing test inside that cell; the rest of the part's edges in the
//     cell's row are pre-counted into a parity bit at build time.
//  3. A packed R-tree of part boxes (packed_rtree.h), for box queries and
//     nearest-leaf snapping.
// Every array is flat, so that an engine image maps the whole index
// (Sections / FromSections) instead of building it.
#include "gridtree/index/polygon_index.h"

#include <algorithm>
#include <functional>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include <cstring>

#include "orient.h"
#include "packed_rtree.h"
#include "part_edges.h"

namespace gridtree::index {
namespace {

double SegmentDistanceSq(double px, double py, double ax, double ay, double bx, double by) {
  const double dx = bx - ax, dy = by - ay;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = ax + t * dx - px, ey = ay + t * dy - py;
  return ex * ex + ey * ey;
}

// The mixed-cell stream is a run of 32-bit words per cell: for each entry
// two header words (polygon; edge count << kFlagBits | flags) followed by
// its edges, one word each: the number e of the edge from point e to point
// e + 1 of the leaf geometry (FlatPolygons closes its rings), so that each
// edge's coordinates are stored once, in the geometry, instead of once per
// cell it crosses (docs/index.md measures both layouts). A cell's words
// are contiguous, and a part's edges in a cell are mostly consecutive
// points: a lookup reads a few cache lines of points.
constexpr int kHeadWords = 2;

// An upward edge (y0 < y1) with the number of the geometry point it starts
// from in ring order (the number the stream stores).
struct NumberedEdge {
  double x0, y0, x1, y1;
  uint32_t number;
};

constexpr uint32_t kParity = 1;  // the part's edges east of the cell, pre-counted, are odd in number
constexpr uint32_t kLast = 2;    // the last entry of the cell
constexpr uint32_t kCover = 4;   // the polygon covers the whole cell: answer without a test
constexpr int kFlagBits = 3;

// The grid is held in two levels: blocks of 8 x 8 cells. `top` names each
// block's 64 cell values in `blocks`, and blocks whose cells all answer
// the same (empty sea, the inside of a large leaf) share one copy per
// value. So the grid's memory follows the borders, not the extent, and the
// cell size can follow the edge count (cells_per_edge) at national scale,
// where one flat array of cells had to be capped. Every lookup reads top
// then blocks, with no branch between them (a "uniform block" test
// mispredicted often enough to cost a quarter of the lookup rate).
constexpr int kBlockShift = 3;
constexpr int kBlockMask = (1 << kBlockShift) - 1;
constexpr int kBlockCells = 1 << (2 * kBlockShift);

// What phase 1 of BuildGrid finds for one run of parts: the cells each
// part's edges touch and its upward edges by grid row.
struct Run {
  std::vector<uint64_t> touches;  // (cell << 32) | part
  std::vector<NumberedEdge> up_edges;
  std::vector<uint32_t> row_edge_begin;  // per (part, row) of the run: offset into row_edges
  std::vector<uint32_t> row_edges;       // indices into this run's up_edges
};

// One entry of a mixed cell while its words are written.
struct Item {
  int32_t polygon;
  uint32_t part;  // UINT32_MAX: a cover entry
};

// The working data of one BuildGrid, handed from phase to phase.
struct GridBuild {
  GridBuild(const PolygonIndexOptions& options, const std::vector<Box>& part_boxes)
      : options(options), part_boxes(part_boxes) {}

  const PolygonIndexOptions& options;
  const std::vector<Box>& part_boxes;  // part_boxes[i]: the box of parts[i] over all its rings
  size_t ncells = 0, nparts = 0, nruns = 0;
  int threads = 1;
  double eps = 0;  // how much cells are enlarged when they are classified
  // Phase 1, per run and per part.
  std::vector<Run> runs;
  std::vector<int32_t> cover;  // lowest polygon covering the whole cell
  std::vector<uint32_t> part_row0, part_rows;
  // The runs joined: edge and row numbers global.
  std::vector<uint32_t> part_rows_begin;  // per part: its first row in row_edge_begin
  std::vector<NumberedEdge> up_edges;
  std::vector<uint32_t> row_edges, row_edge_begin;
  // Phase 2: the parts touching each cell, cell_parts[cell_begin[c] .. cell_begin[c + 1]).
  std::vector<uint32_t> cell_begin, cell_parts;
  // Phase 3: each cell's value (the polygon, -1, or -2 - its first word in the stream).
  std::vector<int32_t> cells;
};

}  // namespace

struct PolygonIndex::Impl {
  // A part with at least one ring of three points; its box is its R-tree
  // leaf's (rtree.boxes, level 0), not repeated here.
  struct PartRef {
    int32_t polygon;
    uint32_t part;  // global part number in `geometry`
  };
  // The scalars of an index, one section of an image.
  struct Params {
    uint64_t polygons;
    uint64_t edge_count;
    int64_t mixed_cells;
    Box extent;
    double gx0, gy0, cell, inv_cell;
    int32_t nx, ny;
  };

  // A built index owns its arrays here; one from FromSections borrows them
  // and these stay empty. The spans below are what every query reads.
  struct Owned {
    std::vector<PartRef> parts;
    internal::PackedRTree::Storage rtree;
    std::vector<uint32_t> top;
    std::vector<int32_t> blocks;
    std::vector<uint32_t> stream;
  } owned;
  void ViewOwned() {
    parts = owned.parts;
    rtree = {owned.rtree.boxes, owned.rtree.refs, owned.rtree.level_begin};
    top = owned.top;
    blocks = owned.blocks;
    stream = owned.stream;
  }

  FlatPolygons geometry;
  Params params_record{};  // the scalars below as Sections() writes them
  void RecordParams() {
    params_record = {geometry.size(), edge_count, mixed_cells, extent, gx0, gy0, cell, inv_cell, nx, ny};
  }
  std::span<const PartRef> parts;
  internal::PackedRTreeArrays rtree;
  Box extent = Box::Empty();
  size_t edge_count = 0;

  // Lookup grid, nx x ny cells. A cell's value v >= 0: that polygon covers
  // the cell; -1: none; <= -2: mixed, its entries start at word -2 - v of
  // stream. The cell at (row, col) of block t is blocks[top[t] * 64 + row * 8 + col].
  //
  // A mixed cell holds one entry per part whose edges touch it, lowest
  // polygon first (plus a cover entry for the lowest polygon covering it
  // whole, which ends the list). An entry answers "is p in this part" with
  // the crossing test restricted to the cell's row: of the part's edges
  // whose y-range meets the row, those wholly west of the cell can never be
  // east of p and are dropped; those wholly east of the cell that span the
  // whole row always are, and are pre-counted in kParity; the rest are
  // stored after the entry and tested exactly. The answer is identical to
  // the crossing test over all of the part's edges.
  double gx0 = 0, gy0 = 0, cell = 1, inv_cell = 1;
  int nx = 0, ny = 0, top_nx = 0;
  std::span<const uint32_t> top;
  std::span<const int32_t> blocks;
  std::span<const uint32_t> stream;
  int64_t mixed_cells = 0;

  // part_boxes[i]: the box of parts[i] over all its rings.
  void BuildGrid(const PolygonIndexOptions& options, const std::vector<Box>& part_boxes);

  // The cell of p: false when p is outside the grid (or NaN).
  bool CellOf(Point p, int* cx, int* cy) const {
    const double fx = (p.x - gx0) * inv_cell;
    const double fy = (p.y - gy0) * inv_cell;
    if (!(fx >= 0 && fx <= nx && fy >= 0 && fy <= ny)) return false;
    *cx = std::min(static_cast<int>(fx), nx - 1);
    *cy = std::min(static_cast<int>(fy), ny - 1);
    return true;
  }
  size_t TopIndex(int cx, int cy) const { return static_cast<size_t>(cy >> kBlockShift) * top_nx + (cx >> kBlockShift); }
  size_t BlockIndex(uint32_t b, int cx, int cy) const {
    return (static_cast<size_t>(b) << (2 * kBlockShift)) + ((cy & kBlockMask) << kBlockShift) + (cx & kBlockMask);
  }

  int32_t LocateInGrid(Point p) const {
    int cx, cy;
    if (!CellOf(p, &cx, &cy)) return -1;
    const int32_t v = blocks[BlockIndex(top[TopIndex(cx, cy)], cx, cy)];
    return v >= -1 ? v : LocateInMixedCell(p, v);
  }

  // The answer for p in the mixed cell whose value is v (<= -2).
  int32_t LocateInMixedCell(Point p, int32_t v) const {
    const uint32_t* w = stream.data() + static_cast<uint32_t>(-2 - v);
    const Point* points = geometry.points().data();
    for (;;) {
      const auto polygon = static_cast<int32_t>(w[0]);
      const uint32_t meta = w[1];
      if (meta & kCover) return polygon;
      bool inside = meta & kParity;
      const uint32_t* e = w + kHeadWords;
      const uint32_t* end = e + (meta >> kFlagBits);
      for (; e != end; ++e) {
        Point a = points[*e], b = points[*e + 1];
        if (a.y > b.y) std::swap(a, b);  // upward, as the build classified it
        if (a.y <= p.y && p.y < b.y && internal::Orient(a.x, a.y, b.x, b.y, p.x, p.y) > 0) inside = !inside;
      }
      if (inside) return polygon;
      if (meta & kLast) return -1;
      w = end;
    }
  }

 private:
  // BuildGrid's phases, in the order it runs them, on the working data of
  // one build.
  void SizeGrid(const PolygonIndexOptions& options);
  int GridCol(double x) const { return std::clamp(static_cast<int>(std::floor((x - gx0) * inv_cell)), 0, nx - 1); }
  int GridRow(double y) const { return std::clamp(static_cast<int>(std::floor((y - gy0) * inv_cell)), 0, ny - 1); }
  void ScanRun(GridBuild& build, size_t run_index) const;
  void TouchedCells(uint32_t gpart, double eps, std::vector<uint32_t>& touched) const;
  void CoverCells(GridBuild& build, size_t pi, int row0, int row1, const std::vector<uint32_t>& touched,
                  std::vector<double>& xs) const;
  void RowEdges(const GridBuild& build, size_t pi, int row0, int row1, Run& run,
                std::vector<std::pair<uint32_t, uint32_t>>& pairs) const;
  void JoinRuns(GridBuild& build) const;
  void GroupTouchesByCell(GridBuild& build) const;
  size_t EmitCell(const GridBuild& build, size_t c, std::vector<Item>& list, uint32_t* out) const;
  void WriteMixedCells(GridBuild& build);
  void BuildBlocks(const std::vector<int32_t>& cells);
};

namespace {

// Runs task(i) for i in [0, n): on the caller's executor when the options
// name one (options.parallel_for), else on up to `threads` threads of its
// own (the caller is one of them), tasks handed out one at a time so that
// uneven tasks still keep every thread busy. The first exception is
// rethrown after all join.
template <typename Task>
void ParallelFor(size_t n, const PolygonIndexOptions& options, int threads, const Task& task) {
  if (options.parallel_for) {
    options.parallel_for(n, std::function<void(size_t)>(std::cref(task)));
    return;
  }
  const size_t workers = std::min<size_t>(n, static_cast<size_t>(std::max(threads, 1)));
  if (workers <= 1) {
    for (size_t i = 0; i < n; ++i) task(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    try {
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) task(i);
    } catch (...) {
      std::lock_guard lock(error_mu);
      if (!error) error = std::current_exception();
      next.store(n, std::memory_order_relaxed);  // the others stop after their current task
    }
  };
  {
    std::vector<std::jthread> pool;
    pool.reserve(workers - 1);
    try {
      for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
    } catch (const std::system_error&) {
      // No more threads (a process or container limit): the ones started
      // and this one share the tasks.
    }
    work();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

// The phases of BuildGrid: sizing, then three phases (classify the parts per
// run, group by cell, write the mixed cells), then the two levels.
void PolygonIndex::Impl::BuildGrid(const PolygonIndexOptions& options, const std::vector<Box>& part_boxes) {
  SizeGrid(options);
  GridBuild build(options, part_boxes);
  build.ncells = static_cast<size_t>(nx) * ny;
  if (build.ncells > UINT32_MAX) throw std::length_error("PolygonIndex: lookup grid too large");
  build.threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Cells are classified slightly enlarged, so that a point that rounding
  // puts in a neighbouring cell is still inside the cell it is looked up in.
  const double max_abs = std::max({std::abs(extent.min_x), std::abs(extent.max_x), std::abs(extent.min_y),
                                   std::abs(extent.max_y), 1.0});
  build.eps = std::max(cell * 1e-6, max_abs * 1e-12);

  // ---- Phase 1, parallel over runs of parts: the cells each part's edges
  // touch, the cells it covers whole, and its upward edges by grid row.
  // Each run writes its own vectors; they are joined in part order below,
  // so the result does not depend on the thread count.
  build.nparts = parts.size();
  build.nruns = std::min(build.nparts, static_cast<size_t>(build.threads) * 16);
  build.runs.resize(build.nruns);
  build.cover.assign(build.ncells, INT32_MAX);
  build.part_row0.resize(build.nparts);
  build.part_rows.resize(build.nparts);
  ParallelFor(build.nruns, options, build.threads, [&](size_t run_index) { ScanRun(build, run_index); });
  JoinRuns(build);

  // ---- Phase 2: the parts touching each cell, grouped by cell (a counting
  // sort; the order within a cell is fixed by the sort in phase 3).
  GroupTouchesByCell(build);

  // ---- Phase 3, parallel over blocks of cells: each mixed cell's entries.
  WriteMixedCells(build);

  // ---- Two levels: a block of equal cells becomes one top value.
  BuildBlocks(build.cells);
  ViewOwned();
}

// Sizes the grid over the extent: cell, nx, ny, its origin and inv_cell.
void PolygonIndex::Impl::SizeGrid(const PolygonIndexOptions& options) {
  const double w = std::max(extent.max_x - extent.min_x, 1e-9);
  const double h = std::max(extent.max_y - extent.min_y, 1e-9);
  const double target = std::clamp(options.cells_per_edge * static_cast<double>(edge_count), 1.0,
                                    static_cast<double>(options.max_cells));
  // Square cells of the target count, but never more than `target` along
  // one side: a long thin extent (a ring along one parallel, found by the
  // fuzzer as a region) would otherwise get tens of millions of cells.
  cell = std::max(std::sqrt(w * h / target), std::max(w, h) / target);
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
}

// Phase 1 for one run of parts: steps 1 to 3 for each part, into
// build.runs[run_index], build.cover and the part's rows.
void PolygonIndex::Impl::ScanRun(GridBuild& build, size_t run_index) const {
  Run& run = build.runs[run_index];
  std::vector<uint32_t> touched;
  std::vector<double> xs;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;  // (row - row0, edge)
  const size_t nparts = build.nparts, nruns = build.nruns;
  for (size_t pi = run_index * nparts / nruns, end = (run_index + 1) * nparts / nruns; pi < end; ++pi) {
    TouchedCells(parts[pi].part, build.eps, touched);
    for (uint32_t c : touched) run.touches.push_back((static_cast<uint64_t>(c) << 32) | pi);
    const Box& box = build.part_boxes[pi];
    const int row0 = GridRow(box.min_y - build.eps), row1 = GridRow(box.max_y + build.eps);
    CoverCells(build, pi, row0, row1, touched, xs);
    build.part_row0[pi] = static_cast<uint32_t>(row0);
    build.part_rows[pi] = static_cast<uint32_t>(row1 - row0 + 1);
    RowEdges(build, pi, row0, row1, run, pairs);
  }
}

// 1. Cells that the part's edges touch, sorted, once each.
void PolygonIndex::Impl::TouchedCells(uint32_t gpart, double eps, std::vector<uint32_t>& touched) const {
  touched.clear();
  for (uint32_t ri = geometry.rings_begin(gpart); ri < geometry.rings_end(gpart); ++ri) {
    const std::span<const Point> ring = geometry.ring(ri);
    const size_t n = ring.size();
    for (size_t i = 0; i < n; ++i) {
      const Point a = ring[i], b = ring[(i + 1) % n];
      const int c0 = GridCol(std::min(a.x, b.x) - eps), c1 = GridCol(std::max(a.x, b.x) + eps);
      const int r0 = GridRow(std::min(a.y, b.y) - eps), r1 = GridRow(std::max(a.y, b.y) + eps);
      for (int r = r0; r <= r1; ++r)
        for (int c = c0; c <= c1; ++c) {
          const double x0 = gx0 + c * cell - eps, y0 = gy0 + r * cell - eps;
          if (SegmentMeetsBox(a, b, Box{x0, y0, x0 + cell + 2 * eps, y0 + cell + 2 * eps}))
            touched.push_back(static_cast<uint32_t>(static_cast<size_t>(r) * nx + c));
        }
    }
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
}

// 2. Cells whose centre is inside the part and that no edge touches lie
//    wholly inside it: scan each cell row along its centre line.
void PolygonIndex::Impl::CoverCells(GridBuild& build, size_t pi, int row0, int row1,
                                    const std::vector<uint32_t>& touched, std::vector<double>& xs) const {
  const internal::PartEdges part_edges(geometry, parts[pi].part, build.options.edges_per_slab);
  const int32_t polygon = parts[pi].polygon;
  for (int r = row0; r <= row1; ++r) {
    const double yc = gy0 + (r + 0.5) * cell;
    xs.clear();
    part_edges.CrossingsAt(yc, xs);
    std::sort(xs.begin(), xs.end());
    for (size_t k = 0; k + 1 < xs.size(); k += 2) {
      int c = std::max(0, static_cast<int>(std::ceil((xs[k] - gx0) * inv_cell - 0.5)));
      for (; c < nx; ++c) {
        const double xc = gx0 + (c + 0.5) * cell;
        if (xc <= xs[k]) continue;
        if (xc >= xs[k + 1]) break;
        const uint32_t id = static_cast<uint32_t>(static_cast<size_t>(r) * nx + c);
        if (std::binary_search(touched.begin(), touched.end(), id)) continue;
        // Overlapping parts of other runs may cover the same cell: keep the lowest.
        std::atomic_ref<int32_t> slot(build.cover[id]);
        int32_t seen = slot.load(std::memory_order_relaxed);
        while (polygon < seen && !slot.compare_exchange_weak(seen, polygon, std::memory_order_relaxed)) {
        }
      }
    }
  }
}

// 3. The part's upward edges by row, appended to the run.
void PolygonIndex::Impl::RowEdges(const GridBuild& build, size_t pi, int row0, int row1, Run& run,
                                  std::vector<std::pair<uint32_t, uint32_t>>& pairs) const {
  const uint32_t gpart = parts[pi].part;
  const double eps = build.eps;
  pairs.clear();
  for (uint32_t ri = geometry.rings_begin(gpart); ri < geometry.rings_end(gpart); ++ri) {
    const std::span<const Point> ring = geometry.ring(ri);
    const size_t n = ring.size();
    for (size_t i = 0; i < n; ++i) {
      const Point a = ring[i], b = ring[(i + 1) % n];
      if (a.y == b.y) continue;  // horizontal edges never count
      const auto e = static_cast<uint32_t>(run.up_edges.size());
      const auto number = static_cast<uint32_t>(geometry.ring_start(ri) + i);
      run.up_edges.push_back(a.y < b.y ? NumberedEdge{a.x, a.y, b.x, b.y, number}
                                       : NumberedEdge{b.x, b.y, a.x, a.y, number});
      const NumberedEdge& u = run.up_edges.back();
      for (int r = std::max(row0, GridRow(u.y0 - eps)), r1 = std::min(row1, GridRow(u.y1 + eps)); r <= r1; ++r)
        pairs.emplace_back(static_cast<uint32_t>(r - row0), e);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  size_t k = 0;
  for (uint32_t r = 0; r < build.part_rows[pi]; ++r) {
    run.row_edge_begin.push_back(static_cast<uint32_t>(run.row_edges.size()));
    for (; k < pairs.size() && pairs[k].first == r; ++k) run.row_edges.push_back(pairs[k].second);
  }
}

// Joins the runs: edge and row numbers become global (all fit 32 bits, checked).
void PolygonIndex::Impl::JoinRuns(GridBuild& build) const {
  const size_t nparts = build.nparts, nruns = build.nruns;
  size_t total_rows = 0, total_touches = 0;
  for (size_t pi = 0; pi < nparts; ++pi) total_rows += build.part_rows[pi];
  for (const Run& run : build.runs) total_touches += run.touches.size();
  if (total_rows >= UINT32_MAX || total_touches >= UINT32_MAX)
    throw std::length_error("PolygonIndex: lookup grid too large");
  build.part_rows_begin.assign(nparts + 1, 0);
  for (size_t pi = 0; pi < nparts; ++pi)
    build.part_rows_begin[pi + 1] = build.part_rows_begin[pi] + build.part_rows[pi];
  std::vector<size_t> edge_offset(nruns + 1, 0), row_edge_offset(nruns + 1, 0), row_offset(nruns + 1, 0);
  for (size_t r = 0; r < nruns; ++r) {
    edge_offset[r + 1] = edge_offset[r] + build.runs[r].up_edges.size();
    row_edge_offset[r + 1] = row_edge_offset[r] + build.runs[r].row_edges.size();
    row_offset[r + 1] = row_offset[r] + build.runs[r].row_edge_begin.size();
  }
  if (edge_offset[nruns] > UINT32_MAX || row_edge_offset[nruns] > UINT32_MAX)
    throw std::length_error("PolygonIndex: too many edges");
  build.up_edges.resize(edge_offset[nruns]);
  build.row_edges.resize(row_edge_offset[nruns]);
  build.row_edge_begin.resize(row_offset[nruns] + 1);
  build.row_edge_begin.back() = static_cast<uint32_t>(build.row_edges.size());
  ParallelFor(nruns, build.options, build.threads, [&](size_t r) {
    Run& run = build.runs[r];
    std::copy(run.up_edges.begin(), run.up_edges.end(),
              build.up_edges.begin() + static_cast<ptrdiff_t>(edge_offset[r]));
    for (size_t k = 0; k < run.row_edges.size(); ++k)
      build.row_edges[row_edge_offset[r] + k] = run.row_edges[k] + static_cast<uint32_t>(edge_offset[r]);
    for (size_t k = 0; k < run.row_edge_begin.size(); ++k)
      build.row_edge_begin[row_offset[r] + k] = run.row_edge_begin[k] + static_cast<uint32_t>(row_edge_offset[r]);
    std::vector<NumberedEdge>().swap(run.up_edges);
    std::vector<uint32_t>().swap(run.row_edges);
    std::vector<uint32_t>().swap(run.row_edge_begin);
  });
}

// Phase 2: counts the parts touching each cell into build.cell_begin, then
// lists them in build.cell_parts; the runs' touches are freed.
void PolygonIndex::Impl::GroupTouchesByCell(GridBuild& build) const {
  const size_t ncells = build.ncells;
  std::vector<uint32_t>& cell_begin = build.cell_begin;
  cell_begin.assign(ncells + 1, 0);
  ParallelFor(build.nruns, build.options, build.threads, [&](size_t r) {
    for (uint64_t t : build.runs[r].touches)
      std::atomic_ref<uint32_t>(cell_begin[(t >> 32) + 1]).fetch_add(1, std::memory_order_relaxed);
  });
  for (size_t c = 0; c < ncells; ++c) cell_begin[c + 1] += cell_begin[c];
  build.cell_parts.resize(cell_begin[ncells]);
  std::vector<uint32_t> cursor(cell_begin.begin(), cell_begin.end() - 1);
  ParallelFor(build.nruns, build.options, build.threads, [&](size_t r) {
    for (uint64_t t : build.runs[r].touches) {
      const uint32_t at = std::atomic_ref<uint32_t>(cursor[t >> 32]).fetch_add(1, std::memory_order_relaxed);
      build.cell_parts[at] = static_cast<uint32_t>(t);
    }
    std::vector<uint64_t>().swap(build.runs[r].touches);
  });
}

// Writes the words of mixed cell c at out (or only counts them when out is
// null); list is the caller's scratch.
size_t PolygonIndex::Impl::EmitCell(const GridBuild& build, size_t c, std::vector<Item>& list, uint32_t* out) const {
  const double eps = build.eps;
  list.clear();
  for (uint32_t k = build.cell_begin[c]; k < build.cell_begin[c + 1]; ++k)
    list.push_back({parts[build.cell_parts[k]].polygon, build.cell_parts[k]});
  if (build.cover[c] != INT32_MAX) list.push_back({build.cover[c], UINT32_MAX});
  // Lowest polygon first; a cover entry ends the list (nothing after it can win).
  std::sort(list.begin(), list.end(), [](const Item& a, const Item& b) {
    if (a.polygon != b.polygon) return a.polygon < b.polygon;
    return a.part > b.part;  // the cover entry of a polygon before its parts
  });
  const int r = static_cast<int>(c / nx), cc = static_cast<int>(c % nx);
  const double x0 = gx0 + cc * cell - eps, x1 = gx0 + (cc + 1) * cell + eps;
  const double y0 = gy0 + r * cell - eps, y1 = gy0 + (r + 1) * cell + eps;
  size_t n = 0, head = 0;
  for (const Item& item : list) {
    head = n;
    n += kHeadWords;
    uint32_t meta = 0;
    if (out) out[head] = static_cast<uint32_t>(item.polygon);
    if (item.part == UINT32_MAX) {
      if (out) out[head + 1] = kCover;
      break;
    }
    const uint32_t pi = item.part;
    const uint32_t rr = build.part_rows_begin[pi] + static_cast<uint32_t>(r) - build.part_row0[pi];
    uint32_t edges = 0;
    for (uint32_t k = build.row_edge_begin[rr]; k < build.row_edge_begin[rr + 1]; ++k) {
      const NumberedEdge& u = build.up_edges[build.row_edges[k]];
      if (u.y1 < y0 || u.y0 > y1) continue;     // p.y is never in [y0, y1)
      if (std::max(u.x0, u.x1) < x0) continue;  // wholly west: p is right of it
      if (std::min(u.x0, u.x1) > x1 && u.y0 < y0 && u.y1 > y1) {
        meta ^= kParity;  // wholly east and spanning the row: always counts
        continue;
      }
      if (out) out[n] = u.number;
      ++n;
      ++edges;
    }
    meta |= edges << kFlagBits;
    if (out) out[head + 1] = meta;
  }
  if (out) out[head + 1] |= kLast;
  return n;
}

// Phase 3, parallel over blocks of cells: each mixed cell's entries (EmitCell),
// sized in a first pass and written in a second, so that the stream is
// allocated once at its final size; every cell's value into build.cells.
void PolygonIndex::Impl::WriteMixedCells(GridBuild& build) {
  const size_t ncells = build.ncells;
  const std::vector<uint32_t>& cell_begin = build.cell_begin;
  constexpr size_t kBlock = 1 << 14;
  const size_t nblocks = (ncells + kBlock - 1) / kBlock;
  std::vector<size_t> block_words(nblocks + 1, 0);
  ParallelFor(nblocks, build.options, build.threads, [&](size_t b) {
    std::vector<Item> list;
    size_t words = 0;
    for (size_t c = b * kBlock, end = std::min(ncells, c + kBlock); c < end; ++c)
      if (cell_begin[c] != cell_begin[c + 1]) words += EmitCell(build, c, list, nullptr);
    block_words[b + 1] = words;
  });
  for (size_t b = 0; b < nblocks; ++b) block_words[b + 1] += block_words[b];
  if (block_words[nblocks] > static_cast<size_t>(INT32_MAX) - 2)
    throw std::length_error("PolygonIndex: lookup grid too large");
  std::vector<uint32_t>& out_stream = owned.stream;
  std::vector<int32_t>& out_cells = build.cells;
  out_cells.assign(ncells, -1);
  out_stream.assign(block_words[nblocks], 0);
  std::atomic<int64_t> mixed{0};
  ParallelFor(nblocks, build.options, build.threads, [&](size_t b) {
    std::vector<Item> list;
    size_t at = block_words[b];
    int64_t count = 0;
    for (size_t c = b * kBlock, end = std::min(ncells, c + kBlock); c < end; ++c) {
      if (cell_begin[c] == cell_begin[c + 1]) {
        if (build.cover[c] != INT32_MAX) out_cells[c] = build.cover[c];
        continue;
      }
      out_cells[c] = -2 - static_cast<int32_t>(at);
      at += EmitCell(build, c, list, out_stream.data() + at);
      ++count;
    }
    mixed.fetch_add(count, std::memory_order_relaxed);
  });
  mixed_cells = mixed.load();
  std::vector<int32_t>().swap(build.cover);
  std::vector<uint32_t>().swap(build.cell_begin);
  std::vector<uint32_t>().swap(build.cell_parts);
}

// The two levels: each block of 8 x 8 cells into owned.top and owned.blocks,
// blocks whose cells are all equal shared per value.
void PolygonIndex::Impl::BuildBlocks(const std::vector<int32_t>& cells) {
  top_nx = (nx + kBlockMask) >> kBlockShift;
  const int top_ny = (ny + kBlockMask) >> kBlockShift;
  owned.top.assign(static_cast<size_t>(top_nx) * top_ny, 0);
  std::vector<int32_t> block(kBlockCells);
  std::unordered_map<int32_t, uint32_t> uniform_block;  // cell value -> its shared block
  for (int ty = 0; ty < top_ny; ++ty)
    for (int tx = 0; tx < top_nx; ++tx) {
      bool uniform = true;
      for (int r = 0; r < (1 << kBlockShift); ++r)
        for (int c = 0; c < (1 << kBlockShift); ++c) {
          const int cy = (ty << kBlockShift) + r, cx = (tx << kBlockShift) + c;
          const int32_t v = cx < nx && cy < ny ? cells[static_cast<size_t>(cy) * nx + cx] : -1;
          block[(r << kBlockShift) + c] = v;
          uniform &= v == block[0];
        }
      const size_t at = static_cast<size_t>(ty) * top_nx + tx;
      const size_t index = owned.blocks.size() / kBlockCells;
      if (index >= UINT32_MAX) throw std::length_error("PolygonIndex: lookup grid too large");
      if (uniform) {
        auto [it, added] = uniform_block.try_emplace(block[0], static_cast<uint32_t>(index));
        owned.top[at] = it->second;
        if (!added) continue;
      } else {
        owned.top[at] = static_cast<uint32_t>(index);
      }
      owned.blocks.insert(owned.blocks.end(), block.begin(), block.end());
    }
}

PolygonIndex::PolygonIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolygonIndex::~PolygonIndex() = default;

std::unique_ptr<PolygonIndex> PolygonIndex::Build(std::vector<MultiPolygon> polygons,
                                                  const PolygonIndexOptions& options, std::string* error) {
  // The limits below throw from deep inside the build (and from its worker
  // threads); they come back here as an error.
  try {
    return BuildOrThrow(std::move(polygons), options);
  } catch (const std::length_error& e) {
    if (error) *error = e.what();
  } catch (const std::bad_alloc&) {
    if (error) *error = "PolygonIndex: out of memory";
  }
  return nullptr;
}

std::unique_ptr<PolygonIndex> PolygonIndex::BuildOrThrow(std::vector<MultiPolygon> polygons,
                                                         const PolygonIndexOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->geometry = FlatPolygons::From(polygons);
  std::vector<MultiPolygon>().swap(polygons);  // the flat copy is the only one from here
  const FlatPolygons& g = impl->geometry;
  if (g.points().size() >= UINT32_MAX) throw std::length_error("PolygonIndex: more than 2^32 points");  // edge numbers
  std::vector<Box> part_boxes;
  for (int32_t i = 0; i < static_cast<int32_t>(g.size()); ++i) {
    for (uint32_t k = g.parts_begin(i); k < g.parts_end(i); ++k) {
      if (g.rings_begin(k) == g.rings_end(k) || g.ring(g.rings_begin(k)).size() < 3) continue;
      // Over all rings: a malformed hole may reach past the outer ring, and
      // the grid's rows and the box filters must cover every edge.
      Box box = Box::Empty();
      for (uint32_t r = g.rings_begin(k); r < g.rings_end(k); ++r) {
        for (const Point& q : g.ring(r)) box.Extend(q);
        impl->edge_count += g.ring(r).size();
      }
      impl->owned.parts.push_back({i, k});
      part_boxes.push_back(box);
      impl->extent.Extend(box);
    }
  }
  impl->owned.rtree = internal::PackedRTree::Build(part_boxes);
  impl->ViewOwned();
  if (!impl->parts.empty()) impl->BuildGrid(options, part_boxes);
  impl->RecordParams();
  return std::unique_ptr<PolygonIndex>(new PolygonIndex(std::move(impl)));
}

int32_t PolygonIndex::Locate(Point p) const { return impl_->LocateInGrid(p); }

void PolygonIndex::LocateMany(std::span<const double> xs, std::span<const double> ys, std::span<int32_t> out) const {
  const size_t n = std::min({xs.size(), ys.size(), out.size()});
  const Impl& m = *impl_;
  // Groups of points go through the lookup's dependent loads stage by
  // stage (top, block, stream), each stage prefetching what the next one
  // reads, so that the cache misses of a group overlap instead of adding
  // up. The answers are LocateInGrid's.
  constexpr size_t kGroup = 16;
  size_t i = 0;
  for (; i + kGroup <= n; i += kGroup) {
    int cx[kGroup], cy[kGroup];
    bool in[kGroup];
    size_t at[kGroup];
    for (size_t k = 0; k < kGroup; ++k) {
      in[k] = m.CellOf(Point{xs[i + k], ys[i + k]}, &cx[k], &cy[k]);
      if (!in[k]) continue;
      at[k] = m.TopIndex(cx[k], cy[k]);
      __builtin_prefetch(m.top.data() + at[k]);
    }
    for (size_t k = 0; k < kGroup; ++k) {
      if (!in[k]) continue;
      at[k] = m.BlockIndex(m.top[at[k]], cx[k], cy[k]);
      __builtin_prefetch(m.blocks.data() + at[k]);
    }
    int32_t v[kGroup];
    for (size_t k = 0; k < kGroup; ++k) {
      v[k] = in[k] ? m.blocks[at[k]] : -1;
      if (v[k] <= -2) __builtin_prefetch(m.stream.data() + static_cast<uint32_t>(-2 - v[k]));
    }
    for (size_t k = 0; k < kGroup; ++k)
      out[i + k] = v[k] >= -1 ? v[k] : m.LocateInMixedCell(Point{xs[i + k], ys[i + k]}, v[k]);
  }
  for (; i < n; ++i) out[i] = m.LocateInGrid(Point{xs[i], ys[i]});
}

int32_t PolygonIndex::LocateBruteForce(Point p) const {
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) return -1;
  // The crossing test over every edge of every part whose box holds p,
  // independent of the grid and of the tree's inner levels (a scan of its
  // leaf boxes); the lowest polygon holding p wins.
  const FlatPolygons& g = impl_->geometry;
  int32_t best = -1;
  for (size_t leaf = 0; leaf < impl_->parts.size(); ++leaf) {
    if (!impl_->rtree.boxes[leaf].Contains(p)) continue;
    const Impl::PartRef& ref = impl_->parts[impl_->rtree.refs[leaf]];
    if (best >= 0 && ref.polygon >= best) continue;
    bool inside = false;
    for (uint32_t r = g.rings_begin(ref.part); r < g.rings_end(ref.part); ++r)
      for (size_t i = 0, n = g.ring(r).size(); i < n; ++i) {
        const std::span<const Point> ring = g.ring(r);
        Point a = ring[i], b = ring[(i + 1) % n];
        if (a.y == b.y) continue;
        if (a.y > b.y) std::swap(a, b);
        if (a.y <= p.y && p.y < b.y && internal::Orient(a.x, a.y, b.x, b.y, p.x, p.y) > 0) inside = !inside;
      }
    if (inside) best = ref.polygon;
  }
  return best;
}

std::optional<PolygonIndex::Nearest> PolygonIndex::NearestWithin(Point p, double max_distance_m) const {
  if (!std::isfinite(p.x) || !std::isfinite(p.y) || !(max_distance_m >= 0)) return std::nullopt;
  const MetresPerDegree scale = MetresPerDegreeAt(p.y);
  const double m_lon = scale.lon, m_lat = scale.lat;
  const double dlon = max_distance_m / m_lon, dlat = max_distance_m / m_lat;
  const Box query{p.x - dlon, p.y - dlat, p.x + dlon, p.y + dlat};
  Nearest best{-1, INFINITY};
  const FlatPolygons& g = impl_->geometry;
  internal::PackedRTree::Query(impl_->rtree, query, [&](uint32_t part_number) {
    const Impl::PartRef& ref = impl_->parts[part_number];
    double best_sq = INFINITY;
    for (uint32_t r = g.rings_begin(ref.part); r < g.rings_end(ref.part); ++r)
      for (size_t i = 0, n = g.ring(r).size(); i < n; ++i) {
        const std::span<const Point> ring = g.ring(r);
        const Point a = ring[i], b = ring[(i + 1) % n];
        best_sq = std::min(best_sq, SegmentDistanceSq(0, 0, (a.x - p.x) * m_lon, (a.y - p.y) * m_lat,
                                                      (b.x - p.x) * m_lon, (b.y - p.y) * m_lat));
      }
    const double d = std::sqrt(best_sq);
    if (d < best.distance_m || (d == best.distance_m && ref.polygon < best.polygon)) best = {ref.polygon, d};
    return true;
  });
  if (best.polygon < 0 || best.distance_m > max_distance_m) return std::nullopt;
  return best;
}

void PolygonIndex::QueryBox(const Box& box, CandidateSink sink) const {
  internal::PackedRTree::Query(impl_->rtree, box,
                               [&](uint32_t part) { return sink.fn(sink.ctx, impl_->parts[part].polygon); });
}

MultiPolygon PolygonIndex::polygon(int32_t i) const { return impl_->geometry.Get(i); }
const FlatPolygons& PolygonIndex::geometry() const { return impl_->geometry; }
size_t PolygonIndex::size() const { return impl_->geometry.size(); }
Box PolygonIndex::extent() const { return impl_->extent; }

namespace {

template <typename T>
PolygonIndex::Section SectionOf(const char* name, std::span<const T> v) {
  return {name, std::as_bytes(v)};
}

// The section called name viewed as T, or false when it is missing or its
// size is not a whole number of T.
template <typename T>
bool Find(std::span<const PolygonIndex::Section> sections, const char* name, std::span<const T>* out,
          std::string* error) {
  for (const auto& s : sections)
    if (s.name == std::string_view(name)) {
      if (s.bytes.size() % sizeof(T) != 0 || reinterpret_cast<uintptr_t>(s.bytes.data()) % alignof(T) != 0) {
        *error = std::string(name) + ": size or alignment is not that of its elements";
        return false;
      }
      *out = std::span<const T>(reinterpret_cast<const T*>(s.bytes.data()), s.bytes.size() / sizeof(T));
      return true;
    }
  *error = std::string(name) + ": section missing";
  return false;
}

}  // namespace

std::vector<PolygonIndex::Section> PolygonIndex::Sections() const {
  const Impl& m = *impl_;
  const Impl::Params* params = &m.params_record;
  return {
      SectionOf("index.params", std::span<const Impl::Params>(params, 1)),
      SectionOf("index.parts", m.parts),
      SectionOf("index.rtree_boxes", m.rtree.boxes),
      SectionOf("index.rtree_refs", m.rtree.refs),
      SectionOf("index.rtree_levels", m.rtree.level_begin),
      SectionOf("index.top", m.top),
      SectionOf("index.blocks", m.blocks),
      SectionOf("index.stream", m.stream),
      SectionOf("geometry.polygon_parts", m.geometry.polygon_part_begin()),
      SectionOf("geometry.part_rings", m.geometry.part_ring_begin()),
      SectionOf("geometry.ring_points", m.geometry.ring_point_begin()),
      SectionOf("geometry.points", m.geometry.points()),
  };
}

std::unique_ptr<PolygonIndex> PolygonIndex::FromSections(std::span<const Section> sections, std::string* error,
                                                         size_t* bad_polygon) {
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  std::span<const Impl::Params> params;
  std::span<const uint32_t> polygon_parts, part_rings;
  std::span<const uint64_t> ring_points;
  std::span<const Point> points;
  if (!Find(sections, "index.params", &params, error) || 
      !Find(sections, "index.parts", &m.parts, error) || !Find(sections, "index.rtree_boxes", &m.rtree.boxes, error) ||
      !Find(sections, "index.rtree_refs", &m.rtree.refs, error) ||
      !Find(sections, "index.rtree_levels", &m.rtree.level_begin, error) || !Find(sections, "index.top", &m.top, error) ||
      !Find(sections, "index.blocks", &m.blocks, error) ||
      !Find(sections, "index.stream", &m.stream, error) || !Find(sections, "geometry.polygon_parts", &polygon_parts, error) ||
      !Find(sections, "geometry.part_rings", &part_rings, error) ||
      !Find(sections, "geometry.ring_points", &ring_points, error) || !Find(sections, "geometry.points", &points, error))
    return nullptr;
  auto fail = [&](const std::string& what) {
    *error = what;
    return nullptr;
  };
  if (params.size() != 1) return fail("index.params: not one record");
  const Impl::Params& p = params[0];
  if (!FlatPolygons::Borrow(polygon_parts, part_rings, ring_points, points, &m.geometry, error, bad_polygon)) {
    *error = "geometry.*: " + *error;
    return nullptr;
  }
  const size_t polygons = m.geometry.size();
  if (p.polygons != polygons)
    return fail("index.params: polygon count disagrees with the geometry");
  const uint64_t top_cells = p.nx < 0 || p.ny < 0 ? 0
                             : static_cast<uint64_t>((p.nx + kBlockMask) >> kBlockShift) * ((p.ny + kBlockMask) >> kBlockShift);
  if (p.nx < 0 || p.ny < 0 || top_cells != m.top.size() || m.blocks.size() % kBlockCells != 0)
    return fail("index.top: " + std::to_string(m.top.size()) + " blocks for a " + std::to_string(p.nx) + " x " +
                std::to_string(p.ny) + " grid");
  if (!m.parts.empty() && (p.nx == 0 || p.ny == 0 || !(p.inv_cell > 0) || !std::isfinite(p.inv_cell)))
    return fail("index.params: empty or invalid grid");
  for (const Impl::PartRef& ref : m.parts)
    if (ref.polygon < 0 || static_cast<size_t>(ref.polygon) >= polygons || ref.part < m.geometry.parts_begin(ref.polygon) ||
        ref.part >= m.geometry.parts_end(ref.polygon))
      return fail("index.parts: a part names a polygon or part out of range");
  if (!internal::PackedRTree::Check(m.rtree, m.parts.size(), error)) return fail("index." + *error);
  // Every cell's answer or entry list lies inside the arrays.
  const size_t words = m.stream.size();
  const uint64_t last_point = m.geometry.points().size();
  for (uint32_t t : m.top)
    if (t >= m.blocks.size() / kBlockCells) return fail("index.top: names block " + std::to_string(t) + " past index.blocks");
  for (size_t c = 0; c < m.blocks.size(); ++c) {
    const int32_t v = m.blocks[c];
    if (v >= -1) {
      if (v >= 0 && static_cast<size_t>(v) >= polygons) return fail("index.blocks: cell " + std::to_string(c) + " names polygon " + std::to_string(v));
      continue;
    }
    for (size_t at = static_cast<uint32_t>(-2 - v);;) {
      if (at >= words) return fail("index.stream: cell " + std::to_string(c) + " runs past the stream");
      if (at + kHeadWords > words) return fail("index.stream: cell " + std::to_string(c) + " runs past the stream");
      const auto polygon = static_cast<int32_t>(m.stream[at]);
      const uint32_t meta = m.stream[at + 1];
      if (polygon < 0 || static_cast<size_t>(polygon) >= polygons)
        return fail("index.stream: cell " + std::to_string(c) + " names polygon " + std::to_string(polygon));
      if (meta & kCover) break;
      const size_t edges_end = at + kHeadWords + (meta >> kFlagBits);
      if (edges_end > words) return fail("index.stream: cell " + std::to_string(c) + " runs past the stream");
      for (size_t e = at + kHeadWords; e < edges_end; ++e)
        if (m.stream[e] + uint64_t{1} >= last_point)  // the edge reads points e and e + 1
          return fail("index.stream: cell " + std::to_string(c) + " names edge " + std::to_string(m.stream[e]) +
                      " past the geometry");
      at = edges_end;
      if (meta & kLast) break;
    }
  }
  m.edge_count = p.edge_count;
  m.mixed_cells = p.mixed_cells;
  m.extent = p.extent;
  m.gx0 = p.gx0, m.gy0 = p.gy0, m.cell = p.cell, m.inv_cell = p.inv_cell;
  m.nx = p.nx, m.ny = p.ny;
  m.top_nx = (p.nx + kBlockMask) >> kBlockShift;
  m.RecordParams();
  return std::unique_ptr<PolygonIndex>(new PolygonIndex(std::move(impl)));
}

IndexStats PolygonIndex::stats() const {
  IndexStats s;
  s.polygons = impl_->geometry.size();
  s.parts = impl_->parts.size();
  s.edges = impl_->edge_count;
  s.grid_cells = static_cast<int64_t>(impl_->nx) * impl_->ny;
  s.grid_mixed_cells = impl_->mixed_cells;
  size_t bytes = impl_->top.size_bytes() + impl_->blocks.size_bytes() + impl_->stream.size_bytes();
  bytes += impl_->parts.size_bytes();
  bytes += impl_->rtree.boxes.size_bytes() + impl_->rtree.refs.size_bytes() + impl_->rtree.level_begin.size_bytes();
  bytes += impl_->geometry.memory_bytes();
  s.memory_bytes = bytes;
  return s;
}

}  // namespace gridtree::index
