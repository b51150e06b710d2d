// CheckAgreement: gridtree against a peer on every point of a set.
#include "peer_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace gridtree::bench {
namespace {

// Distance in metres from p to segment a-b, in the local equirectangular
// frame at p (exact to well under a millimetre at these distances).
double SegmentDistanceM(index::Point p, index::Point a, index::Point b, index::MetresPerDegree m) {
  const double ax = (a.x - p.x) * m.lon, ay = (a.y - p.y) * m.lat;
  const double bx = (b.x - p.x) * m.lon, by = (b.y - p.y) * m.lat;
  const double dx = bx - ax, dy = by - ay;
  const double len2 = dx * dx + dy * dy;
  const double t = len2 > 0 ? std::clamp(-(ax * dx + ay * dy) / len2, 0.0, 1.0) : 0.0;
  return std::hypot(ax + t * dx, ay + t * dy);
}

double EdgeDistanceM(index::Point p, const index::MultiPolygon& mp) {
  const index::MetresPerDegree m = index::MetresPerDegreeAt(p.y);
  double best = std::numeric_limits<double>::infinity();
  for (const index::Polygon& part : mp.parts)
    for (const index::Ring& ring : part.rings)
      for (size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++)
        best = std::min(best, SegmentDistanceM(p, ring[j], ring[i], m));
  return best;
}

}  // namespace

AgreementReport CheckAgreement(const index::PolygonIndex& index, PeerLocator& peer, const PointSet& points) {
  AgreementReport r;
  r.points = static_cast<int64_t>(points.size());
  std::vector<int32_t> candidates;
  for (size_t i = 0; i < points.size(); ++i) {
    const index::Point p{points.lon[i], points.lat[i]};
    const int32_t g = index.Locate(p);
    peer.Candidates(p.x, p.y, candidates);
    r.multi_candidate += candidates.size() > 1;
    const bool agree = g < 0 ? candidates.empty() : std::binary_search(candidates.begin(), candidates.end(), g);
    if (agree) continue;
    ++r.disagreements;
    double d = g >= 0 ? EdgeDistanceM(p, index.polygon(g)) : std::numeric_limits<double>::infinity();
    for (int32_t c : candidates) d = std::min(d, EdgeDistanceM(p, index.polygon(c)));
    r.max_disagreement_m = std::max(r.max_disagreement_m, d);
    r.beyond_tolerance += d > kAgreeToleranceM;
    if (r.disagreements <= 5 || (d > kAgreeToleranceM && r.beyond_tolerance <= 20)) {
      char line[256];
      std::snprintf(line, sizeof line, "  point %zu (%.12f, %.12f): gridtree %d, peer {", i, p.x, p.y, g);
      r.examples += line;
      for (size_t k = 0; k < candidates.size(); ++k)
        r.examples += (k ? "," : "") + std::to_string(candidates[k]);
      std::snprintf(line, sizeof line, "}, %.3g m from an edge\n", d);
      r.examples += line;
    }
  }
  return r;
}

}  // namespace gridtree::bench
