#!/usr/bin/env bash
# Builds the release preset and runs only the thread-scaling benchmarks at
# 1, 2, 4, 8 and 16 threads, writing JSON: LocateColumns (1 M points split
# over the workers), one large region aggregate split inside the engine
# (20 km circles and the county polygon, area-weighted), many callers asking
# 2 km circles at once, and the index build. Meant for a machine with at
# least 16 cores; on fewer, counts above the core count only show
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
  --benchmark_filter='^BM_LocateColumnsThreads/|^BM_RegionAggregateThreads/|^BM_RegionAggregateCallers/|^BM_IndexBuild/' \
  --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" \
  --benchmark_out_format=json
echo "wrote $out" >&2
