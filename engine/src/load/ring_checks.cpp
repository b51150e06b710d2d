#include "load/ring_checks.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace gridtree::internal {
namespace {

int Side(index::Point a, index::Point b, index::Point c) {
  const double d = (b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y);
  return (d > 0) - (d < 0);
}

bool OnSegment(index::Point a, index::Point b, index::Point p) {
  return std::min(a.x, b.x) <= p.x && p.x <= std::max(a.x, b.x) && std::min(a.y, b.y) <= p.y &&
         p.y <= std::max(a.y, b.y);
}

}  // namespace

RingDefect CheckRingSimple(const index::Ring& ring) {
  const size_t n = ring.size();
  if (n < 4) return RingDefect::kNone;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto lo = [&](size_t i) { return std::min(ring[i].x, ring[(i + 1) % n].x); };
  auto hi = [&](size_t i) { return std::max(ring[i].x, ring[(i + 1) % n].x); };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lo(a) < lo(b); });
  std::vector<size_t> active;
  RingDefect worst = RingDefect::kNone;
  for (size_t i : order) {
    const double x = lo(i);
    active.erase(std::remove_if(active.begin(), active.end(), [&](size_t j) { return hi(j) < x; }), active.end());
    const index::Point a = ring[i], b = ring[(i + 1) % n];
    for (size_t j : active) {
      if ((i + 1) % n == j || (j + 1) % n == i) continue;  // neighbours share a vertex by design
      const index::Point c = ring[j], d = ring[(j + 1) % n];
      if (std::max(a.y, b.y) < std::min(c.y, d.y) || std::max(c.y, d.y) < std::min(a.y, b.y)) continue;
      const int o1 = Side(a, b, c), o2 = Side(a, b, d), o3 = Side(c, d, a), o4 = Side(c, d, b);
      if (o1 * o2 < 0 && o3 * o4 < 0) return RingDefect::kCrosses;
      if ((o1 == 0 && OnSegment(a, b, c)) || (o2 == 0 && OnSegment(a, b, d)) || (o3 == 0 && OnSegment(c, d, a)) ||
          (o4 == 0 && OnSegment(c, d, b)))
        worst = RingDefect::kTouches;
    }
    active.push_back(i);
  }
  return worst;
}

size_t RemoveRepeatedVertices(index::Ring& ring) {
  const size_t before = ring.size();
  ring.erase(std::unique(ring.begin(), ring.end()), ring.end());
  while (ring.size() > 1 && ring.front() == ring.back()) ring.pop_back();
  return before - ring.size();
}

}  // namespace gridtree::internal
