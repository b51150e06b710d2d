#!/usr/bin/env bash
# Position reports over RPC (bench/RESULTS.md "Moving objects"): starts
# `gridtree serve` on the default dataset with a writer token, runs
# gridtree_track_load (writers sending batches, one probe measuring
# report-to-callback latency), stops the server.
#   bench/track.sh            # DURATION=10 seconds each, THREADS=2 server workers
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/rpc/gridtree
load=build/release/bench/gridtree_track_load
dataset=${GRIDTREE_DATASET:-data/generated/jiangmen.geojson}
addr=127.0.0.1:${PORT:-7534}
tmp=$(mktemp -d)
echo "track-load-$$" > "$tmp/token"
[ -s "$dataset" ] || { mkdir -p "$(dirname "$dataset")"; "$bin" generate --out "$dataset" >/dev/null 2>&1; }
"$bin" serve "$dataset" --listen "$addr" --threads "${THREADS:-2}" --writer-token-file "$tmp/token" \
  2>"$tmp/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 120); do
  "$bin" call --connect "$addr" info >/dev/null 2>&1 && break
  sleep 0.5
done
run() {
  echo "== $*"
  "$load" --connect "$addr" --token-file "$tmp/token" --duration "${DURATION:-10}" "$@"
}
run --connections 1 --depth 2 --batch 10000 --objects 200000
run --connections 2 --depth 1 --batch 10000 --objects 200000
run --connections 2 --depth 2 --batch 10000 --objects 200000
run --connections 2 --depth 2 --batch 1000 --objects 200000
