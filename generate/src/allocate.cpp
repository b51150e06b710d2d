// Largest-remainder shares (allocate.h).
#include "allocate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gridtree::generate {

std::vector<int64_t> LargestRemainder(int64_t total, const std::vector<double>& w) {
  size_t n = w.size();
  std::vector<int64_t> out(n, 0);
  if (n == 0 || total <= 0) return out;
  double sum = 0;
  for (double x : w) sum += std::max(0.0, x);
  std::vector<double> frac(n);
  int64_t given = 0;
  for (size_t k = 0; k < n; ++k) {
    double q = sum > 0 ? static_cast<double>(total) * std::max(0.0, w[k]) / sum : static_cast<double>(total) / n;
    double f = std::floor(q);
    out[k] = static_cast<int64_t>(f);
    frac[k] = q - f;
    given += out[k];
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  for (int64_t r = total - given, k = 0; r > 0; --r, ++k) ++out[order[static_cast<size_t>(k) % n]];
  for (int64_t r = given - total, k = static_cast<int64_t>(n) - 1; r > 0; --k) {  // float slack
    size_t i = order[static_cast<size_t>((k % static_cast<int64_t>(n) + n) % n)];
    if (out[i] > 0) {
      --out[i];
      --r;
    }
  }
  return out;
}

std::vector<int64_t> Allocate(int64_t total, const std::vector<int64_t>& mins, const std::vector<double>& w,
                              const std::vector<int64_t>& caps) {
  int64_t base = std::accumulate(mins.begin(), mins.end(), int64_t{0});
  std::vector<int64_t> out = LargestRemainder(std::max<int64_t>(0, total - base), w);
  int64_t excess = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    out[k] += mins[k];
    if (out[k] > caps[k]) {
      excess += out[k] - caps[k];
      out[k] = caps[k];
    }
  }
  while (excess > 0) {
    size_t best = out.size();
    double bv = -1;
    for (size_t k = 0; k < out.size(); ++k) {
      if (out[k] >= caps[k]) continue;
      double v = w[k] / static_cast<double>(out[k] + 1);
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    if (best == out.size()) break;
    ++out[best];
    --excess;
  }
  return out;
}

}  // namespace gridtree::generate
