// Google S2 as a point-location peer: a MutableS2ShapeIndex holding one
// S2LaxPolygonShape per leaf (shape id = leaf number), queried with
// S2ContainsPointQuery in the SEMI_OPEN vertex model. See peer_s2.cpp.
//
// S2 edges are geodesics on the sphere, ours are straight in lon/lat, and
// the boundary rules differ (S2: a point on a shared edge belongs to exactly
// one side, decided by S2's own symbolic perturbation), so the two may
// disagree on points within a few millimetres of an edge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gridtree/index/geometry.h"
#include "peer_locator.h"

namespace gridtree::bench {

// Thread safety: none; the query keeps an index iterator, one object per
// thread.
class S2Locator final : public PeerLocator {
 public:
  // Leaf number = position in leaves; the index is built eagerly
  // (ForceBuild) and counted in build_ms.
  explicit S2Locator(const std::vector<index::MultiPolygon>& leaves);
  ~S2Locator() override;
  S2Locator(const S2Locator&) = delete;
  S2Locator& operator=(const S2Locator&) = delete;

  // Converts (lon, lat) to an S2Point (part of the timed cost).
  int32_t Locate(double lon, double lat) override;
  void Candidates(double lon, double lat, std::vector<int32_t>& out) override;
  double build_ms() const override { return build_ms_; }
  size_t memory_bytes() const override;  // MutableS2ShapeIndex::SpaceUsed

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double build_ms_ = 0;
};

}  // namespace gridtree::bench
