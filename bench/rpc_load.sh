#!/usr/bin/env bash
# Server load figures (bench/RESULTS.md): starts `gridtree serve` on the
# default dataset, runs the load generator's scenarios against it, stops it.
#   bench/rpc_load.sh            # DURATION=5 seconds each, THREADS=2 server workers
set -euo pipefail
cd "$(dirname "$0")/.."
load=build/release/bench/gridtree_rpc_load
addr=127.0.0.1:${PORT:-7533}
. bench/serve_for_bench.sh
serve_for_bench gridtree-rpc-load-server
run() {
  echo "== $*"
  "$load" --connect "$addr" --duration "${DURATION:-5}" "$@"
}
run --connections 1 --depth 1 --mix locate=1
run --connections 8 --depth 16 --mix locate=1
run --connections 1 --depth 1 --mix batch=1 --batch-size 1000
run --connections 1 --depth 1 --mix batch=1 --batch-size 100000
run --connections 2 --depth 2 --mix batch=1 --batch-size 100000
run --connections 1 --depth 1 --mix aggregate=1
run --connections 1 --depth 1 --mix circle=1 --radius 2000
