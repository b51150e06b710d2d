# Sourced by the server benchmarks (rpc_load.sh, track.sh): starts
# `gridtree serve` on the default dataset (generated when missing) at
# $addr with the given extra arguments, stops it when the script exits, and
# returns once it answers. Sets $bin and $server_log.
#   serve_for_bench LOG_NAME [serve arguments...]
serve_for_bench() {
  bin=build/release/rpc/gridtree
  local dataset=${GRIDTREE_DATASET:-data/generated/jiangmen.geojson}
  server_log="${TMPDIR:-/tmp}/$1.log"
  shift
  [ -s "$dataset" ] || { mkdir -p "$(dirname "$dataset")"; "$bin" generate --out "$dataset" >/dev/null 2>&1; }
  "$bin" serve "$dataset" --listen "$addr" --threads "${THREADS:-2}" "$@" 2>"$server_log" &
  server=$!
  trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; eval "${cleanup:-true}"' EXIT
  for _ in $(seq 120); do
    "$bin" call --connect "$addr" info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "gridtree serve did not answer at $addr; see $server_log" >&2
  return 1
}
