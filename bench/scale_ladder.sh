#!/usr/bin/env bash
# The scale ladder of bench/RESULTS.md: copies of Jiangmen side by side,
# generated, converted to binary snapshots and opened, with wall time and
# peak memory of each step from /usr/bin/time (Debian package "time").
#   bench/scale_ladder.sh [N ...]      # default: 1 4 16
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/rpc/gridtree
out=${LADDER_DIR:-${TMPDIR:-/tmp}/gridtree-ladder}
mkdir -p "$out"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
ladder=("$@")
[ ${#ladder[@]} -gt 0 ] || ladder=(1 4 16)
for m in "${ladder[@]}"; do
    echo "== $m cities"
    /usr/bin/time -f "generate: %e s, peak %M KB" "$bin" generate --cities "$m" --out "$out/c$m.geojsonl" 2>&1 | grep -E "^(wrote|generate:)"
    /usr/bin/time -f "snapshot: %e s, peak %M KB" "$bin" snapshot "$out/c$m.geojsonl" --out "$out/c$m.gtds" 2>&1 | tail -2
    /usr/bin/time -f "open from snapshot: %e s, peak %M KB" "$bin" info "$out/c$m.gtds" 2>&1 | grep -E "leaves|open from"
    rm -f "$out/c$m.geojsonl"
done
