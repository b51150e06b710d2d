// Robust orientation predicate: the exact sign of a 2x2 determinant of
// coordinate differences, with a fast floating-point filter and an exact
// expansion-arithmetic fallback (Shewchuk's method). The point-in-polygon
// rule is only exact if this sign is.
#pragma once

namespace gridtree::index::internal {

// Sign of (bx-ax)*(py-ay) - (px-ax)*(by-ay): +1 when p lies strictly left of
// the directed line a->b, -1 when strictly right, 0 when on it.
int OrientExact(double ax, double ay, double bx, double by, double px, double py);

inline int Orient(double ax, double ay, double bx, double by, double px, double py) {
  const double left = (bx - ax) * (py - ay);
  const double right = (px - ax) * (by - ay);
  const double det = left - right;
  // Shewchuk's ccwerrboundA: beyond this bound the floating sign is exact.
  const double bound = 3.3306690738754716e-16 * ((left < 0 ? -left : left) + (right < 0 ? -right : right));
  if (det > bound) return 1;
  if (-det > bound) return -1;
  return OrientExact(ax, ay, bx, by, px, py);
}

}  // namespace gridtree::index::internal
