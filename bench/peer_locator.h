// The interface the side-by-side benchmark (peers_bench.cpp) drives: a
// point-location engine built from the leaf polygons, answering with leaf
// numbers (the index into Dataset::leaf_geometry). Implementations live in
// peer_geos.cpp and peer_s2.cpp so that GEOS and S2 headers stay out of the
// benchmark itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gridtree::bench {

class PeerLocator {
 public:
  virtual ~PeerLocator() = default;

  // The lowest leaf number whose polygon holds (lon, lat) under the peer's
  // own boundary rule, or -1. Not const: a peer may keep per-query scratch
  // state (S2's iterator), so one object serves one thread.
  virtual int32_t Locate(double lon, double lat) = 0;

  // Every leaf holding (lon, lat) under the peer's boundary rule, ascending,
  // replacing the contents of out (several on a shared boundary for closed
  // rules). Used by the agreement check, not timed.
  virtual void Candidates(double lon, double lat, std::vector<int32_t>& out) = 0;

  // Wall-clock build time in milliseconds, and the index's own estimate of
  // its memory (0 when the peer offers none).
  virtual double build_ms() const = 0;
  virtual size_t memory_bytes() const = 0;
};

}  // namespace gridtree::bench
