#include "gridtree/engine/check.h"

#include <cstdio>
#include <cstdlib>

namespace gridtree::internal {

void CheckFailed(const char* file, int line, const char* what, const std::string& values) {
  if (values.empty()) {
    std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  } else {
    std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", file, line, what, values.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace gridtree::internal
