// Side by side: gridtree, GEOS and Google S2 locating the same points in the
// same leaves (gridtree_peers_bench, built with -DGRIDTREE_BENCH_PEERS=ON).
//
//  - BM_Gridtree: PolygonIndex::Locate through a View, as BM_EngineLocate.
//  - BM_Geos: GEOS STRtree of leaf envelopes + GEOSPreparedIntersects on
//    each candidate; query points built as GEOS geometries before the loop.
//  - BM_GeosNewPoint: the same, creating and destroying the GEOS point
//    inside the loop, as a GEOS 3.11 C API caller must.
//  - BM_S2: MutableS2ShapeIndex of S2LaxPolygonShapes + S2ContainsPointQuery
//    (SEMI_OPEN); lon/lat to S2Point conversion inside the loop.
//
// Leaves: Dataset::leaf_geometry of the default Jiangmen dataset; points:
// bench_data's fixed-seed distributions. Before a peer is timed on a
// distribution, CheckAgreement (peer_check.h) runs every point through both;
// a disagreement further than kAgreeToleranceM from an edge fails the run.
// Every engine returns the lowest leaf number holding the point.
#include <benchmark/benchmark.h>

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench_data.h"
#include "peer_check.h"
#include "peer_geos.h"
#include "peer_s2.h"

namespace gridtree::bench {
namespace {

// Bytes the process holds from malloc (glibc mallinfo2: in-use chunks of
// the main arena plus mmapped blocks). The difference over a build on the
// main thread is the memory the built structure keeps, temporaries excluded;
// this also covers GEOS, which offers no estimate of its own.
double HeapMiB() {
  const struct mallinfo2 m = ::mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd) / (1024.0 * 1024.0);
}

// A peer built once per process, with its heap growth.
template <typename Peer>
struct Built {
  std::unique_ptr<Peer> peer;
  double heap_MiB = 0;
};

template <typename Peer>
Built<Peer>& Shared() {
  static Built<Peer> built = [] {
    const std::vector<index::MultiPolygon>& leaves = LoadedDataset().leaf_geometry;
    const double before = HeapMiB();
    Built<Peer> b{std::make_unique<Peer>(leaves), 0};
    b.heap_MiB = HeapMiB() - before;
    std::fprintf(stderr, "%s: built over %zu leaves in %.0f ms, heap +%.1f MiB\n",
                 std::is_same_v<Peer, GeosLocator> ? "GEOS" : "S2", leaves.size(), b.peer->build_ms(), b.heap_MiB);
    return b;
  }();
  return built;
}

// gridtree's own figures on the same footing: PolygonIndex::Build time
// (from a copy of the leaves, the copy not timed) and heap growth (the copy
// counted, since the index keeps it as GEOS and S2 keep theirs).
struct GridtreeBuild {
  double build_ms = 0;
  double heap_MiB = 0;
};
const GridtreeBuild& SharedGridtreeBuild() {
  static const GridtreeBuild built = [] {
    const double before = HeapMiB();
    std::vector<index::MultiPolygon> leaves = LoadedDataset().leaf_geometry;
    const auto start = std::chrono::steady_clock::now();
    const std::unique_ptr<index::PolygonIndex> idx = index::PolygonIndex::Build(std::move(leaves));
    GridtreeBuild b;
    b.build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    b.heap_MiB = HeapMiB() - before;
    std::fprintf(stderr, "gridtree: built over %zu leaves in %.0f ms, heap +%.1f MiB\n", idx->size(), b.build_ms,
                 b.heap_MiB);
    return b;
  }();
  return built;
}

// CheckAgreement once per (peer, distribution); prints the report.
const AgreementReport& Agreement(const char* peer_name, PeerLocator& peer, Distribution d) {
  static std::map<std::pair<std::string, Distribution>, AgreementReport> done;
  auto [it, fresh] = done.try_emplace({peer_name, d});
  if (fresh) {
    const auto start = std::chrono::steady_clock::now();
    it->second = CheckAgreement(SharedEngine().Read()->spatial_index(), peer, Points(d));
    const AgreementReport& r = it->second;
    std::fprintf(stderr,
                 "agreement %s/%s: %lld points, %lld disagreements (max %.3g m from an edge, %lld beyond %.3g m), "
                 "%lld points in several leaves for the peer; %.1f s\n%s",
                 peer_name, DistributionName(d), static_cast<long long>(r.points),
                 static_cast<long long>(r.disagreements), r.max_disagreement_m,
                 static_cast<long long>(r.beyond_tolerance), kAgreeToleranceM,
                 static_cast<long long>(r.multi_candidate),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), r.examples.c_str());
  }
  return it->second;
}

// Runs the agreement check; false (and the benchmark skipped with an error)
// when a disagreement lies beyond the tolerance.
template <typename Peer>
bool Agrees(benchmark::State& state, const char* peer_name, Distribution d) {
  Built<Peer>& b = Shared<Peer>();
  const AgreementReport& r = Agreement(peer_name, *b.peer, d);
  state.counters["disagreements"] = static_cast<double>(r.disagreements);
  state.counters["max_disagree_m"] = r.max_disagreement_m;
  state.counters["build_ms"] = b.peer->build_ms();
  state.counters["heap_MiB"] = b.heap_MiB;
  if (b.peer->memory_bytes() > 0)
    state.counters["memory_MiB"] = static_cast<double>(b.peer->memory_bytes()) / (1024.0 * 1024.0);
  if (r.beyond_tolerance == 0) return true;
  state.SkipWithError((std::to_string(r.beyond_tolerance) + " disagreement(s) beyond " +
                       std::to_string(kAgreeToleranceM) + " m of an edge; see stderr")
                          .c_str());
  return false;
}

void SetPointCounters(benchmark::State& state, Distribution d, size_t points, int64_t hits) {
  bench::SetPointCounters(state, points, hits);
  state.SetLabel(DistributionName(d));
}

void BM_Gridtree(benchmark::State& state, Distribution d) {
  const PointSet& pts = Points(d);
  auto view = SharedEngine().Read();
  const index::PolygonIndex& idx = view->spatial_index();
  int64_t hits = 0;
  for (auto _ : state) {
    hits = LocateAll(idx, pts);
    benchmark::DoNotOptimize(hits);
  }
  SetPointCounters(state, d, pts.size(), hits);
  state.counters["memory_MiB"] = static_cast<double>(idx.stats().memory_bytes) / (1024.0 * 1024.0);
  state.counters["build_ms"] = SharedGridtreeBuild().build_ms;
  state.counters["heap_MiB"] = SharedGridtreeBuild().heap_MiB;
}

void BM_Geos(benchmark::State& state, Distribution d) {
  if (!Agrees<GeosLocator>(state, "GEOS", d)) return;
  const PointSet& pts = Points(d);
  GeosLocator& geos = *Shared<GeosLocator>().peer;
  const std::unique_ptr<GeosLocator::Points> points = geos.MakePoints(pts.lon, pts.lat);
  int64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (size_t i = 0; i < points->size(); ++i) hits += geos.LocatePoint(*points, i) >= 0;
    benchmark::DoNotOptimize(hits);
  }
  SetPointCounters(state, d, pts.size(), hits);
}

void BM_GeosNewPoint(benchmark::State& state, Distribution d) {
  if (!Agrees<GeosLocator>(state, "GEOS", d)) return;
  const PointSet& pts = Points(d);
  GeosLocator& geos = *Shared<GeosLocator>().peer;
  int64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (size_t i = 0; i < pts.size(); ++i) hits += geos.Locate(pts.lon[i], pts.lat[i]) >= 0;
    benchmark::DoNotOptimize(hits);
  }
  SetPointCounters(state, d, pts.size(), hits);
}

void BM_S2(benchmark::State& state, Distribution d) {
  if (!Agrees<S2Locator>(state, "S2", d)) return;
  const PointSet& pts = Points(d);
  S2Locator& s2 = *Shared<S2Locator>().peer;
  int64_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (size_t i = 0; i < pts.size(); ++i) hits += s2.Locate(pts.lon[i], pts.lat[i]) >= 0;
    benchmark::DoNotOptimize(hits);
  }
  SetPointCounters(state, d, pts.size(), hits);
}

GRIDTREE_PER_DISTRIBUTION(BM_Gridtree);
GRIDTREE_PER_DISTRIBUTION(BM_Geos);
GRIDTREE_PER_DISTRIBUTION(BM_GeosNewPoint);
GRIDTREE_PER_DISTRIBUTION(BM_S2);

}  // namespace
}  // namespace gridtree::bench
