#!/usr/bin/env bash
# Builds a preset (default: release) and runs its test suite with ctest.
# The tsan preset builds and runs only the tests labelled "tsan" (writers,
# readers and reloads on plain threads, the cluster log's reader and
# writers; TBB and kj are not instrumented).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
if [ "$preset" = tsan ]; then
  scripts/install-deps.sh
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan --target gridtree_update_tests gridtree_cluster_log_tests
else
  # The map page's browser test needs Chromium and puppeteer-core (npm);
  # without them it would be skipped.
  scripts/install-deps.sh --browser
  [ -d tests/browser/node_modules/puppeteer-core ] || npm ci --prefix tests/browser --no-audit --no-fund
  scripts/build.sh "$preset"
fi
ctest --preset "$preset" -j 2
