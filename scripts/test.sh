#!/usr/bin/env bash
# Builds a preset (default: release) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
scripts/build.sh "$preset"
ctest --preset "$preset" -j 2
