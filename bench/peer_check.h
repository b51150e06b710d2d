// The agreement check run before any peer is timed: every point of a
// distribution through gridtree and through a peer, disagreements counted
// and measured against the nearest polygon edge.
#pragma once

#include <cstdint>
#include <string>

#include "bench_data.h"
#include "gridtree/index/polygon_index.h"
#include "peer_locator.h"

namespace gridtree::bench {

// A disagreement further than this from every edge of the leaves involved
// is a bug in one of the engines, not a boundary rule or edge model
// difference, and fails the benchmark.
constexpr double kAgreeToleranceM = 0.01;

struct AgreementReport {
  int64_t points = 0;
  int64_t disagreements = 0;
  int64_t multi_candidate = 0;       // points the peer puts in several leaves
  double max_disagreement_m = 0;     // largest edge distance of a disagreement
  int64_t beyond_tolerance = 0;      // disagreements further than kAgreeToleranceM
  std::string examples;              // the first few disagreements, one per line
};

// Point i agrees when gridtree's leaf g = index.Locate(p) and the peer's
// candidate set C (every leaf holding p under the peer's boundary rule)
// satisfy: g < 0 and C is empty, or g is in C. A peer with a closed boundary
// (GEOS) lists both sides of a shared edge, so gridtree's half-open choice
// of one side agrees with it. For a disagreement, the distance reported is
// from p to the nearest edge of g or of any leaf in C (metres, local
// lon/lat scale at p).
AgreementReport CheckAgreement(const index::PolygonIndex& index, PeerLocator& peer, const PointSet& points);

}  // namespace gridtree::bench
