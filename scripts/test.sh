#!/usr/bin/env bash
# Builds a preset (default: release) and runs its test suite with ctest.
# The tsan preset builds and runs only the tests labelled "tsan" (writers,
# readers and reloads on plain threads; TBB and kj are not instrumented).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
if [ "$preset" = tsan ]; then
  scripts/install-deps.sh
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan --target gridtree_update_tests
else
  scripts/build.sh "$preset"
fi
ctest --preset "$preset" -j 2
