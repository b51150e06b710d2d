// Integer shares of a total that add up to it exactly (largest-remainder
// rounding), so every calibrated total is met to the unit.
#pragma once

#include <cstdint>
#include <vector>

namespace gridtree::generate {

// Integers >= 0 proportional to `w`, summing to `total`.
std::vector<int64_t> LargestRemainder(int64_t total, const std::vector<double>& w);

// mins + the largest-remainder shares of the rest by `w`, then capped at
// `caps`; the excess goes to the items with the most weight per count that
// still have room.
std::vector<int64_t> Allocate(int64_t total, const std::vector<int64_t>& mins, const std::vector<double>& w,
                              const std::vector<int64_t>& caps);

}  // namespace gridtree::generate
