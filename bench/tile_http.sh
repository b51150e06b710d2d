#!/usr/bin/env bash
# Vector tiles over HTTP: `gridtree serve` on a dataset, then the 8 x 8 tiles
# around Jiangmen's city hall at zoom 10, 12 and 14, three rounds each on one
# keep-alive curl; prints the p50 and p90 of the request times (curl's
# time_total: request to last byte, loopback).
#   bench/tile_http.sh [DATASET]     # default data/generated/jiangmen.geojson
# Environment: BUILD (default build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD:-build/release}/rpc/gridtree
dataset=${1:-data/generated/jiangmen.geojson}
[ -s "$dataset" ] || { mkdir -p "$(dirname "$dataset")"; "$bin" generate --out "$dataset" >/dev/null 2>&1; }
port=$((7800 + $$ % 100))
"$bin" serve "$dataset" --listen "127.0.0.1:$((port + 100))" --http "127.0.0.1:$port" --threads 2 2>/dev/null &
pid=$!
cfg=$(mktemp)
trap 'kill $pid 2>/dev/null; rm -f "$cfg"' EXIT
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "dataset $dataset; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for z in 10 12 14; do
  read -r cx cy < <(awk -v z="$z" 'BEGIN{n = 2 ^ z; lon = 113.0819; lat = 22.5787; r = lat * 3.141592653589793 / 180;
    printf "%d %d\n", (lon + 180) / 360 * n, (1 - log(sin(r) / cos(r) + 1 / cos(r)) / 3.141592653589793) / 2 * n}')
  : >"$cfg"
  for _ in 1 2 3; do
    for dy in 0 1 2 3 4 5 6 7; do
      for dx in 0 1 2 3 4 5 6 7; do
        echo "url = \"http://127.0.0.1:$port/tiles/$z/$((cx - 4 + dx))/$((cy - 4 + dy)).mvt\"" >>"$cfg"
        echo 'output = "/dev/null"' >>"$cfg"
      done
    done
  done
  curl -s -K "$cfg" -w '%{time_total}\n' | sort -n |
    awk -v z="$z" '{a[NR] = $1} END {printf "z%d: %d requests, p50 %.0f us, p90 %.0f us\n", z, NR, a[int(NR * 0.5)] * 1e6, a[int(NR * 0.9)] * 1e6}'
done
