// GeosLocator: filter with a GEOS STRtree of leaf envelopes, refine with
// GEOSPreparedIntersects_r on each candidate's prepared geometry (the lowest
// covering leaf wins, as in the engine).
#include "peer_geos.h"

#include <geos_c.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace gridtree::bench {
namespace {

void GeosMessage(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "GEOS: ");
  std::vfprintf(stderr, fmt, args);
  std::fprintf(stderr, "\n");
  va_end(args);
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "gridtree_peers_bench: GEOS: %s\n", what);
  std::abort();
}

GEOSGeometry* MakeRing(GEOSContextHandle_t ctx, const index::Ring& ring, std::vector<double>& buf) {
  buf.clear();
  for (const index::Point& p : ring) buf.insert(buf.end(), {p.x, p.y});
  buf.insert(buf.end(), {ring.front().x, ring.front().y});  // GEOS rings repeat the first vertex
  GEOSCoordSequence* seq = GEOSCoordSeq_copyFromBuffer_r(ctx, buf.data(), buf.size() / 2, 0, 0);
  if (!seq) Die("coordinate sequence");
  GEOSGeometry* g = GEOSGeom_createLinearRing_r(ctx, seq);
  if (!g) Die("linear ring");
  return g;
}

GEOSGeometry* MakeMultiPolygon(GEOSContextHandle_t ctx, const index::MultiPolygon& mp) {
  std::vector<double> buf;
  std::vector<GEOSGeometry*> parts, holes;
  for (const index::Polygon& part : mp.parts) {
    if (part.rings.empty()) continue;
    holes.clear();
    for (size_t r = 1; r < part.rings.size(); ++r) holes.push_back(MakeRing(ctx, part.rings[r], buf));
    GEOSGeometry* poly = GEOSGeom_createPolygon_r(ctx, MakeRing(ctx, part.rings[0], buf), holes.data(),
                                                  static_cast<unsigned>(holes.size()));
    if (!poly) Die("polygon");
    parts.push_back(poly);
  }
  GEOSGeometry* g = GEOSGeom_createCollection_r(ctx, GEOS_MULTIPOLYGON, parts.data(),
                                                static_cast<unsigned>(parts.size()));
  if (!g) Die("multipolygon");
  return g;
}

}  // namespace

struct GeosLocator::Impl {
  GEOSContextHandle_t ctx = nullptr;
  std::vector<GEOSGeometry*> geoms;                  // per leaf, owned
  std::vector<const GEOSPreparedGeometry*> prepared;  // per leaf, owned
  GEOSSTRtree* tree = nullptr;                       // items: leaf number as uintptr_t

  // Query state handed to the STRtree callbacks.
  struct Query {
    const Impl* impl;
    const GEOSGeometry* point;
    int32_t best;
    std::vector<int32_t>* all;  // Candidates only
  };

  static void VisitLowest(void* item, void* data) {
    auto* q = static_cast<Query*>(data);
    const auto leaf = static_cast<int32_t>(reinterpret_cast<uintptr_t>(item));
    if ((q->best < 0 || leaf < q->best) &&
        GEOSPreparedIntersects_r(q->impl->ctx, q->impl->prepared[leaf], q->point) == 1)
      q->best = leaf;
  }
  static void VisitCollect(void* item, void* data) {
    auto* q = static_cast<Query*>(data);
    const auto leaf = static_cast<int32_t>(reinterpret_cast<uintptr_t>(item));
    if (GEOSPreparedIntersects_r(q->impl->ctx, q->impl->prepared[leaf], q->point) == 1) q->all->push_back(leaf);
  }

  int32_t Lowest(const GEOSGeometry* point) const {
    Query q{this, point, -1, nullptr};
    GEOSSTRtree_query_r(ctx, tree, point, &Impl::VisitLowest, &q);
    return q.best;
  }

  ~Impl() {
    if (tree) GEOSSTRtree_destroy_r(ctx, tree);
    for (const GEOSPreparedGeometry* p : prepared) GEOSPreparedGeom_destroy_r(ctx, p);
    for (GEOSGeometry* g : geoms) GEOSGeom_destroy_r(ctx, g);
    if (ctx) GEOS_finish_r(ctx);
  }
};

GeosLocator::GeosLocator(const std::vector<index::MultiPolygon>& leaves) : impl_(std::make_unique<Impl>()) {
  const auto start = std::chrono::steady_clock::now();
  Impl& m = *impl_;
  m.ctx = GEOS_init_r();
  GEOSContext_setNoticeHandler_r(m.ctx, GeosMessage);
  GEOSContext_setErrorHandler_r(m.ctx, GeosMessage);
  m.tree = GEOSSTRtree_create_r(m.ctx, 10);
  if (!m.tree) Die("STRtree");
  m.geoms.reserve(leaves.size());
  m.prepared.reserve(leaves.size());
  for (size_t leaf = 0; leaf < leaves.size(); ++leaf) {
    m.geoms.push_back(MakeMultiPolygon(m.ctx, leaves[leaf]));
    m.prepared.push_back(GEOSPrepare_r(m.ctx, m.geoms.back()));
    if (!m.prepared.back()) Die("prepare");
    GEOSSTRtree_insert_r(m.ctx, m.tree, m.geoms.back(), reinterpret_cast<void*>(static_cast<uintptr_t>(leaf)));
  }
  // Warm-up: one query at a vertex of every leaf builds the STRtree and each
  // prepared geometry's point-in-area locator now rather than in the first
  // timed iteration.
  for (const index::MultiPolygon& mp : leaves) {
    if (mp.parts.empty() || mp.parts[0].rings.empty()) continue;
    const index::Point v = mp.parts[0].rings[0][0];
    GEOSGeometry* p = GEOSGeom_createPointFromXY_r(m.ctx, v.x, v.y);
    std::vector<int32_t> all;
    Impl::Query q{&m, p, -1, &all};
    GEOSSTRtree_query_r(m.ctx, m.tree, p, &Impl::VisitCollect, &q);
    GEOSGeom_destroy_r(m.ctx, p);
  }
  build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

GeosLocator::~GeosLocator() = default;

int32_t GeosLocator::Locate(double lon, double lat) {
  GEOSGeometry* p = GEOSGeom_createPointFromXY_r(impl_->ctx, lon, lat);
  const int32_t leaf = impl_->Lowest(p);
  GEOSGeom_destroy_r(impl_->ctx, p);
  return leaf;
}

void GeosLocator::Candidates(double lon, double lat, std::vector<int32_t>& out) {
  out.clear();
  GEOSGeometry* p = GEOSGeom_createPointFromXY_r(impl_->ctx, lon, lat);
  Impl::Query q{impl_.get(), p, -1, &out};
  GEOSSTRtree_query_r(impl_->ctx, impl_->tree, p, &Impl::VisitCollect, &q);
  GEOSGeom_destroy_r(impl_->ctx, p);
  std::sort(out.begin(), out.end());
}

GeosLocator::Points::~Points() {
  for (void* g : geoms_) GEOSGeom_destroy_r(static_cast<GEOSContextHandle_t>(ctx_), static_cast<GEOSGeometry*>(g));
}

std::unique_ptr<GeosLocator::Points> GeosLocator::MakePoints(std::span<const double> lon,
                                                             std::span<const double> lat) const {
  std::unique_ptr<Points> points(new Points(impl_->ctx));
  points->geoms_.reserve(lon.size());
  for (size_t i = 0; i < lon.size(); ++i) {
    GEOSGeometry* p = GEOSGeom_createPointFromXY_r(impl_->ctx, lon[i], lat[i]);
    if (!p) Die("point");
    points->geoms_.push_back(p);
  }
  return points;
}

int32_t GeosLocator::LocatePoint(const Points& points, size_t i) {
  return impl_->Lowest(static_cast<const GEOSGeometry*>(points.geoms_[i]));
}

}  // namespace gridtree::bench
