// Aggregates on the default Jiangmen dataset: node aggregates, and region
// aggregates (circles of 200 m, 2 km, 20 km and a county-sized polygon) in
// each mode, next to a brute-force baseline in the same binary: R-tree
// candidates, then Boost.Geometry covered_by / intersects / intersection on
// every one. Single-threaded engines; per-query p50 and p99 as counters.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include <boost/geometry/algorithms/area.hpp>
#include <boost/geometry/algorithms/covered_by.hpp>
#include <boost/geometry/algorithms/intersection.hpp>
#include <boost/geometry/algorithms/intersects.hpp>
#include <boost/geometry/geometries/multi_polygon.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "bench_data.h"
#include "gridtree/engine/region.h"

namespace bg = boost::geometry;

namespace gridtree::bench {
namespace {

using BPoint = bg::model::d2::point_xy<double>;
using BPolygon = bg::model::polygon<BPoint, false, false>;
using BMulti = bg::model::multi_polygon<BPolygon>;

BMulti ToBoost(const index::MultiPolygon& mp) {
  BMulti out;
  for (const auto& part : mp.parts) {
    BPolygon& p = out.emplace_back();
    for (const auto& q : part.rings[0]) p.outer().push_back(BPoint(q.x, q.y));
    for (size_t r = 1; r < part.rings.size(); ++r) {
      p.inners().emplace_back();
      for (const auto& q : part.rings[r]) p.inners().back().push_back(BPoint(q.x, q.y));
    }
  }
  return out;
}

// Circle centres: fixed, around the dense centre of the city.
const std::vector<index::Point>& Centres() {
  static const std::vector<index::Point> c = [] {
    std::mt19937_64 rng(77);
    std::normal_distribution<double> x(113.06, 0.04), y(22.56, 0.04);
    std::vector<index::Point> v(64);
    for (auto& p : v) p = {x(rng), y(rng)};
    return v;
  }();
  return c;
}

Region MakeRegion(int kind, size_t i) {
  if (kind == 3) {  // county-sized polygon: Pengjiang's published border
    const auto& ds = LoadedDataset();
    return PolygonRegion(ds.inner_geometry.Get(*ds.Find("440703"))).value();
  }
  const double radius = kind == 0 ? 200 : kind == 1 ? 2000 : 20000;
  const auto& c = Centres()[i % Centres().size()];
  return CircleRegion(c.x, c.y, radius);
}

const char* kKindNames[] = {"circle_200m", "circle_2km", "circle_20km", "county_polygon"};

void ReportLatency(benchmark::State& state, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  if (us.empty()) return;
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}

void BM_NodeAggregate(benchmark::State& state) {
  const Engine& engine = SharedEngine();
  auto view = engine.Read();
  const size_t n = view->dataset().node_count(), m = view->dataset().metric_count();
  std::mt19937 rng(3);
  std::vector<int32_t> nodes(4096);
  for (auto& v : nodes) v = static_cast<int32_t>(rng() % n);
  size_t i = 0;
  int64_t sink = 0;
  for (auto _ : state) {
    const NodeId node(nodes[i++ & 4095]);
    for (size_t j = 0; j < m; ++j) sink += view->Metric(node, static_cast<int>(j));
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NodeAggregate);

void BM_RegionAggregate(benchmark::State& state) {
  const int kind = static_cast<int>(state.range(0));
  const auto mode = static_cast<RegionMode>(state.range(1));
  const Engine& engine = SharedEngine();
  std::vector<RegionQuery> queries;
  for (size_t i = 0; i < (kind == 3 ? 1u : Centres().size()); ++i) queries.push_back({MakeRegion(kind, i), mode, {}});
  std::vector<double> us;
  size_t i = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = engine.Read()->RegionAggregate(queries[i++ % queries.size()]);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    benchmark::DoNotOptimize(r);
  }
  ReportLatency(state, us);
  state.SetLabel(std::string(kKindNames[kind]) + "/" + RegionModeName(mode));
}
BENCHMARK(BM_RegionAggregate)->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);

// Thread scaling of one large query, split over the subtrees it touches
// inside the engine: one Engine per worker count (built before the timed
// loop), 20 km circles or the county polygon, area-weighted. Wall time.
void BM_RegionAggregateThreads(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int kind = static_cast<int>(state.range(1));
  const std::unique_ptr<Engine> engine = MakeEngine(threads);
  std::vector<RegionQuery> queries;
  for (size_t i = 0; i < (kind == 3 ? 1u : Centres().size()); ++i)
    queries.push_back({MakeRegion(kind, i), RegionMode::kAreaWeighted, {}});
  size_t i = 0;
  for (auto _ : state) {
    auto r = engine->Read()->RegionAggregate(queries[i++ % queries.size()]);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["workers"] = threads;
  state.SetLabel(std::string(kKindNames[kind]) + "/area_weighted");
}
BENCHMARK(BM_RegionAggregateThreads)
    ->ArgNames({"threads", "kind"})
    ->ArgsProduct({{1, 2, 4, 8, 16}, {2, 3}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Many callers at once: N benchmark threads each asking 2 km circles
// (area-weighted) of one shared engine with a worker per hardware thread.
// Throughput is the sum over the callers (items/s on wall time).
void BM_RegionAggregateCallers(benchmark::State& state) {
  static const std::unique_ptr<Engine> engine = MakeEngine(0);
  std::vector<RegionQuery> queries;
  for (size_t i = 0; i < Centres().size(); ++i) queries.push_back({MakeRegion(1, i), RegionMode::kAreaWeighted, {}});
  size_t i = static_cast<size_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    auto r = engine->Read()->RegionAggregate(queries[i++ % queries.size()]);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("circle_2km/area_weighted");
}
BENCHMARK(BM_RegionAggregateCallers)->ThreadRange(1, 16)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The baseline: R-tree candidates by the region's box, then Boost.Geometry
// on each candidate leaf; circles as 64-gons in lon/lat (as a buffer would).
void BM_RegionBruteForce(benchmark::State& state) {
  const int kind = static_cast<int>(state.range(0));
  const auto mode = static_cast<RegionMode>(state.range(1));
  const Engine& engine = SharedEngine();
  auto view = engine.Read();
  const auto& idx = view->spatial_index();
  static std::vector<BMulti> leaves;
  if (leaves.empty())
    for (size_t l = 0; l < idx.size(); ++l) leaves.push_back(ToBoost(idx.polygon(static_cast<int32_t>(l))));
  struct Shape {
    BMulti poly;
    index::Box box;
  };
  std::vector<Shape> shapes;
  for (size_t i = 0; i < (kind == 3 ? 1u : Centres().size()); ++i) {
    const Region r = MakeRegion(kind, i);
    Shape s;
    if (r.kind == Region::Kind::kCircle) {
      const auto mpd = index::MetresPerDegreeAt(r.center.y);
      BPolygon disk;
      for (int k = 0; k < 64; ++k)
        disk.outer().push_back(BPoint(r.center.x + r.radius_m / mpd.lon * std::cos(2 * M_PI * k / 64),
                                      r.center.y + r.radius_m / mpd.lat * std::sin(2 * M_PI * k / 64)));
      s.poly.push_back(disk);
      s.box = {r.center.x - r.radius_m / mpd.lon, r.center.y - r.radius_m / mpd.lat, r.center.x + r.radius_m / mpd.lon,
               r.center.y + r.radius_m / mpd.lat};
    } else {
      s.poly = ToBoost(r.polygon);
      s.box = index::BoundsOf(r.polygon);
    }
    shapes.push_back(std::move(s));
  }
  const size_t m = view->dataset().metric_count();
  std::vector<double> total(m), us;
  std::vector<int32_t> cand;
  size_t i = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const Shape& s = shapes[i++ % shapes.size()];
    cand.clear();
    idx.VisitBoxCandidates(s.box, [&](int32_t leaf) {
      cand.push_back(leaf);
      return true;
    });
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    std::fill(total.begin(), total.end(), 0);
    for (int32_t leaf : cand) {
      double w;
      if (mode == RegionMode::kContained) w = bg::covered_by(leaves[leaf], s.poly);
      else if (mode == RegionMode::kIntersecting) w = bg::intersects(leaves[leaf], s.poly);
      else {
        BMulti out;
        bg::intersection(leaves[leaf], s.poly, out);
        w = bg::area(out) / bg::area(leaves[leaf]);
      }
      if (w > 0)
        for (size_t j = 0; j < m; ++j) total[j] += w * view->Metric(NodeId(view->dataset().leaf_nodes[leaf]), static_cast<int>(j));
    }
    benchmark::DoNotOptimize(total.data());
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  ReportLatency(state, us);
  state.SetLabel(std::string("baseline ") + kKindNames[kind] + "/" + RegionModeName(mode));
}
BENCHMARK(BM_RegionBruteForce)->ArgsProduct({{0, 1, 2, 3}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gridtree::bench
