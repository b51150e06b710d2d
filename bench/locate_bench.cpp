// Point-in-grid throughput on the default Jiangmen dataset.
//
//  - BM_EngineLocate / BM_EngineLocateColumns: the engine, one thread, on
//    one million points of each distribution (uniform over the city's box,
//    uniform inside the city only, clustered in the dense centre).
//  - BM_NaiveLocate: the baseline in the same binary: a bulk-loaded Boost
//    R-tree of part boxes, then boost::geometry::covered_by on every
//    candidate (the lowest covering leaf wins, as in the engine).
//  - BM_LocateColumnsThreads: LocateColumns speed-up over worker counts, one
//    Engine per count built before the timed loop, wall-clock time.
//  - BM_LocateCellsPerEdge: the grid resolution sweep (lookups/s, memory).
//  - BM_IndexBuild/threads:N: PolygonIndex::Build wall time on N threads, and IndexStats.
//
// Point sets, engines and the baseline are built outside the timed loops.
#include <benchmark/benchmark.h>

#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/algorithms/envelope.hpp>
#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <boost/geometry/index/rtree.hpp>

#include "bench_data.h"

namespace gridtree::bench {
namespace {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

// The naive baseline: filter with an R-tree of part boxes, refine with
// covered_by on every candidate part.
class NaiveLocator {
 public:
  using BPoint = bg::model::d2::point_xy<double>;
  using BBox = bg::model::box<BPoint>;
  using BPolygon = bg::model::polygon<BPoint, /*clockwise=*/false, /*closed=*/false>;

  explicit NaiveLocator(const std::vector<index::MultiPolygon>& leaves) {
    std::vector<std::pair<BBox, uint32_t>> boxes;
    for (size_t leaf = 0; leaf < leaves.size(); ++leaf)
      for (const index::Polygon& part : leaves[leaf].parts) {
        if (part.rings.empty()) continue;
        BPolygon bp;
        for (const index::Point& p : part.rings[0]) bp.outer().push_back(BPoint(p.x, p.y));
        for (size_t r = 1; r < part.rings.size(); ++r) {
          bp.inners().emplace_back();
          for (const index::Point& p : part.rings[r]) bp.inners().back().push_back(BPoint(p.x, p.y));
        }
        BBox box;
        bg::envelope(bp, box);
        boxes.emplace_back(box, static_cast<uint32_t>(polygons_.size()));
        polygons_.push_back(std::move(bp));
        owner_.push_back(static_cast<int32_t>(leaf));
      }
    tree_ = Tree(boxes.begin(), boxes.end());  // packing constructor
  }

  int32_t Locate(double x, double y) const {
    const BPoint p(x, y);
    int32_t best = -1;
    for (auto it = tree_.qbegin(bgi::intersects(p)); it != tree_.qend(); ++it) {
      const int32_t leaf = owner_[it->second];
      if ((best < 0 || leaf < best) && bg::covered_by(p, polygons_[it->second])) best = leaf;
    }
    return best;
  }

 private:
  using Tree = bgi::rtree<std::pair<BBox, uint32_t>, bgi::quadratic<16>>;
  std::vector<BPolygon> polygons_;
  std::vector<int32_t> owner_;
  Tree tree_;
};

const NaiveLocator& SharedNaive() {
  static const NaiveLocator naive(LoadedDataset().leaf_geometry);
  return naive;
}

// The bare spatial index, one point at a time: the baseline of
// BM_EngineLocate (what the View adds is the leaf's node number).
void BM_IndexLocate(benchmark::State& state, Distribution d) {
  const PointSet& pts = Points(d);
  auto view = SharedEngine().Read();
  const index::PolygonIndex& idx = view->spatial_index();
  int64_t hits = 0;
  for (auto _ : state) {
    hits = LocateAll(idx, pts);
    benchmark::DoNotOptimize(hits);
  }
  state.SetLabel(DistributionName(d));
  SetPointCounters(state, pts.size(), hits);
}

// One point at a time through the View, as an embedding program calls it:
// the index lookup and the leaf's node.
void BM_EngineLocate(benchmark::State& state, Distribution d) {
  const PointSet& pts = Points(d);
  auto view = SharedEngine().Read();
  int64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (size_t i = 0; i < pts.size(); ++i) hits += view->Locate({pts.lon[i], pts.lat[i]}).hit();
    benchmark::DoNotOptimize(hits);
  }
  state.SetLabel(DistributionName(d));
  SetPointCounters(state, pts.size(), hits);
}

void BM_EngineLocateColumns(benchmark::State& state, Distribution d) {
  const PointSet& pts = Points(d);
  const Engine& engine = SharedEngine();  // one worker thread
  std::vector<LeafId> out(pts.size());
  for (auto _ : state) {
    if (Status s = engine.Read()->LocateColumns(pts.lon, pts.lat, out); !s.ok())
      state.SkipWithError(s.ToString().c_str());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(DistributionName(d));
  SetPointCounters(state, pts.size(), std::count_if(out.begin(), out.end(), [](LeafId v) { return v.valid(); }));
}

void BM_NaiveLocate(benchmark::State& state, Distribution d) {
  const PointSet& pts = Points(d);
  const NaiveLocator& naive = SharedNaive();
  int64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (size_t i = 0; i < pts.size(); ++i) hits += naive.Locate(pts.lon[i], pts.lat[i]) >= 0;
    benchmark::DoNotOptimize(hits);
  }
  state.SetLabel(DistributionName(d));
  SetPointCounters(state, pts.size(), hits);
}

GRIDTREE_PER_DISTRIBUTION(BM_IndexLocate);
GRIDTREE_PER_DISTRIBUTION(BM_EngineLocate);
GRIDTREE_PER_DISTRIBUTION(BM_EngineLocateColumns);
GRIDTREE_PER_DISTRIBUTION(BM_NaiveLocate);

// Thread scaling of LocateColumns on the points uniform inside the city.
// Each run builds its own Engine (EngineOptions.threads = the argument)
// before the timed loop.
void BM_LocateColumnsThreads(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const PointSet& pts = Points(Distribution::kInside);
  const std::unique_ptr<Engine> engine = MakeEngine(threads);
  std::vector<LeafId> out(pts.size());
  for (auto _ : state) {
    if (Status s = engine->Read()->LocateColumns(pts.lon, pts.lat, out); !s.ok())
      state.SkipWithError(s.ToString().c_str());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * pts.size()));
  state.counters["workers"] = threads;
}
BENCHMARK(BM_LocateColumnsThreads)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->Arg(16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Grid resolution sweep on the points uniform inside the city: lookups/s
// and memory for PolygonIndexOptions.cells_per_edge = the argument.
void BM_LocateCellsPerEdge(benchmark::State& state) {
  const PointSet& pts = Points(Distribution::kInside);
  index::PolygonIndexOptions options;
  options.cells_per_edge = static_cast<double>(state.range(0));
  const std::unique_ptr<index::PolygonIndex> idx = index::PolygonIndex::Build(LoadedDataset().leaf_geometry, options);
  int64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (size_t i = 0; i < pts.size(); ++i) hits += idx->Locate({pts.lon[i], pts.lat[i]}) >= 0;
    benchmark::DoNotOptimize(hits);
  }
  SetPointCounters(state, pts.size(), hits);
  const index::IndexStats stats = idx->stats();
  state.counters["memory_MiB"] = static_cast<double>(stats.memory_bytes) / (1024.0 * 1024.0);
  state.counters["mixed_cells"] = static_cast<double>(stats.grid_mixed_cells);
}
BENCHMARK(BM_LocateCellsPerEdge)->ArgName("cells_per_edge")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Unit(benchmark::kMillisecond);

// Index build (grid, row-clipped cell edges, R-tree) from the leaf geometry; the copy of the
// geometry and the destruction of the index are not timed.
void BM_IndexBuild(benchmark::State& state) {
  index::IndexStats stats;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<index::MultiPolygon> leaves = LoadedDataset().leaf_geometry;
    state.ResumeTiming();
    index::PolygonIndexOptions options;
    options.threads = static_cast<int>(state.range(0));
    std::unique_ptr<index::PolygonIndex> idx = index::PolygonIndex::Build(std::move(leaves), options);
    state.PauseTiming();
    stats = idx->stats();
    idx.reset();
    state.ResumeTiming();
  }
  state.counters["polygons"] = static_cast<double>(stats.polygons);
  state.counters["parts"] = static_cast<double>(stats.parts);
  state.counters["edges"] = static_cast<double>(stats.edges);
  state.counters["grid_cells"] = static_cast<double>(stats.grid_cells);
  state.counters["mixed_cells"] = static_cast<double>(stats.grid_mixed_cells);
  state.counters["memory_MiB"] = static_cast<double>(stats.memory_bytes) / (1024.0 * 1024.0);
}
// Wall-clock time: the build runs on state.range(0) threads.
BENCHMARK(BM_IndexBuild)->ArgName("threads")->RangeMultiplier(2)->Range(1, 16)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gridtree::bench
