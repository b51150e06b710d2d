// GEOS (C API, geos_c.h, reentrant _r functions) as a point-location peer:
// one prepared MultiPolygon per leaf (GEOSPrepare) in an STRtree; the
// boundary counts as inside (GEOSPreparedIntersects). See peer_geos.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gridtree/index/geometry.h"
#include "peer_locator.h"

namespace gridtree::bench {

// Thread safety: none; one object per thread (it owns its GEOS context).
class GeosLocator final : public PeerLocator {
 public:
  // Leaf number = position in leaves. Also runs one query per leaf so that
  // the lazily built parts (the STRtree, each prepared geometry's
  // point-in-area index) are built here and counted in build_ms.
  explicit GeosLocator(const std::vector<index::MultiPolygon>& leaves);
  ~GeosLocator() override;
  GeosLocator(const GeosLocator&) = delete;
  GeosLocator& operator=(const GeosLocator&) = delete;

  // Builds a GEOS point for the query, as any GEOS 3.11 caller must (the
  // coordinate predicates GEOSPreparedIntersectsXY arrive in 3.12).
  int32_t Locate(double lon, double lat) override;
  void Candidates(double lon, double lat, std::vector<int32_t>& out) override;
  double build_ms() const override { return build_ms_; }
  size_t memory_bytes() const override { return 0; }  // GEOS has no estimate

  // Query points as GEOS geometries, built outside the timed loop so that
  // LocatePoint allocates nothing. Owned by (and only valid with) the
  // locator that made them.
  class Points {
   public:
    ~Points();
    Points(const Points&) = delete;
    Points& operator=(const Points&) = delete;
    size_t size() const { return geoms_.size(); }

   private:
    friend class GeosLocator;
    explicit Points(void* ctx) : ctx_(ctx) {}
    void* ctx_;                  // GEOSContextHandle_t
    std::vector<void*> geoms_;   // GEOSGeometry*
  };
  std::unique_ptr<Points> MakePoints(std::span<const double> lon, std::span<const double> lat) const;
  int32_t LocatePoint(const Points& points, size_t i);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double build_ms_ = 0;
};

}  // namespace gridtree::bench
