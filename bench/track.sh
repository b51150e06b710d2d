#!/usr/bin/env bash
# Position reports over RPC (bench/RESULTS.md "Moving objects"): starts
# `gridtree serve` on the default dataset with a writer token, runs
# gridtree_track_load (writers sending batches, one probe measuring
# report-to-callback latency), stops the server.
#   bench/track.sh            # DURATION=10 seconds each, THREADS=2 server workers
set -euo pipefail
cd "$(dirname "$0")/.."
load=build/release/bench/gridtree_track_load
addr=127.0.0.1:${PORT:-7534}
tmp=$(mktemp -d)
cleanup='rm -rf "$tmp"'
echo "track-load-$$" > "$tmp/token"
. bench/serve_for_bench.sh
serve_for_bench gridtree-track-load-server --writer-token-file "$tmp/token"
run() {
  echo "== $*"
  "$load" --connect "$addr" --token-file "$tmp/token" --duration "${DURATION:-10}" "$@"
}
run --connections 1 --depth 2 --batch 10000 --objects 200000
run --connections 2 --depth 1 --batch 10000 --objects 200000
run --connections 2 --depth 2 --batch 10000 --objects 200000
run --connections 2 --depth 2 --batch 1000 --objects 200000
