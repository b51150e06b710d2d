// Exact fallback of the orientation predicate: the determinant is expanded
// into a sum of exactly representable doubles (two-diff, two-product with
// fma) and summed without error (grow-expansion); the sign of an expansion
// is the sign of its largest non-zero component.
#include "orient.h"

#include <array>
#include <cmath>

namespace gridtree::index::internal {
namespace {

struct Pair {
  double hi, lo;
};

Pair TwoDiff(double a, double b) {
  const double x = a - b;
  const double bv = a - x;
  const double av = x + bv;
  return {x, (a - av) + (bv - b)};
}

Pair TwoSum(double a, double b) {
  const double x = a + b;
  const double bv = x - a;
  const double av = x - bv;
  return {x, (a - av) + (b - bv)};
}

Pair TwoProduct(double a, double b) {
  const double p = a * b;
  return {p, std::fma(a, b, -p)};
}

// Adds t to the non-overlapping expansion e[0..n) (increasing magnitude).
int GrowExpansion(double* e, int n, double t) {
  double q = t;
  int out = 0;
  for (int i = 0; i < n; ++i) {
    const Pair s = TwoSum(q, e[i]);
    q = s.hi;
    if (s.lo != 0) e[out++] = s.lo;
  }
  if (q != 0) e[out++] = q;
  return out;
}

}  // namespace

int OrientExact(double ax, double ay, double bx, double by, double px, double py) {
  const Pair d[4] = {TwoDiff(bx, ax), TwoDiff(py, ay), TwoDiff(px, ax), TwoDiff(by, ay)};
  std::array<double, 64> e{};
  int n = 0;
  const double f1[2] = {d[0].hi, d[0].lo}, g1[2] = {d[1].hi, d[1].lo};
  const double f2[2] = {d[2].hi, d[2].lo}, g2[2] = {d[3].hi, d[3].lo};
  for (double f : f1)
    for (double g : g1) {
      const Pair p = TwoProduct(f, g);
      n = GrowExpansion(e.data(), n, p.lo);
      n = GrowExpansion(e.data(), n, p.hi);
    }
  for (double f : f2)
    for (double g : g2) {
      const Pair p = TwoProduct(f, g);
      n = GrowExpansion(e.data(), n, -p.lo);
      n = GrowExpansion(e.data(), n, -p.hi);
    }
  for (int i = n - 1; i >= 0; --i) {
    if (e[i] > 0) return 1;
    if (e[i] < 0) return -1;
  }
  return 0;
}

}  // namespace gridtree::index::internal
