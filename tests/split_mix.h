// A fixed, portable random stream for tests (splitmix64): the same numbers
// on every machine and standard library, unlike std:: distributions.
#pragma once

#include <cstdint>

namespace gridtree::testing {

struct SplitMix {
  uint64_t s;
  // Uniform in [0, 1).
  double Uniform() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  }
};

}  // namespace gridtree::testing
