#!/usr/bin/env bash
# Builds the release preset and runs only the LocateColumns thread-scaling
# benchmarks (1, 2, 4, 8, 16 workers), writing JSON. Meant for a machine
# with at least 16 cores; on fewer, counts above the core count only show
# oversubscription.
#
#   bench/scaling.sh [OUT.json]          (default: bench-scaling-<host>.json)
#
# GRIDTREE_DATASET=PATH reuses a dataset file instead of generating the
# default Jiangmen dataset in the benchmark process.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench-scaling-$(hostname).json}"

cmake --preset release -DGRIDTREE_BUILD_BENCH=ON >/dev/null
cmake --build --preset release --target gridtree_bench

{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname)"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\))'
} >&2

build/release/bench/gridtree_bench \
  --benchmark_filter='^BM_LocateColumnsThreads/' \
  --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" \
  --benchmark_out_format=json
echo "wrote $out" >&2
