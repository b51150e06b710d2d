#!/usr/bin/env bash
# The main job on the default dataset: build, generate Jiangmen (cached under
# data/generated/), validate it, print the level counts and a few lookups.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
bin=build/release/rpc/gridtree
dataset=data/generated/jiangmen.geojson
mkdir -p data/generated
if [ ! -s "$dataset" ]; then
  echo "== generating the Jiangmen dataset (seed 1)"
  "$bin" generate --out "$dataset"
fi
echo "== validation report"
"$bin" validate "$dataset"
echo "== dataset"
"$bin" info "$dataset"
echo "== example lookups"
while IFS=, read -r name lon lat; do
  echo "-- $name ($lon, $lat)"
  "$bin" locate "$dataset" "$lon" "$lat" || true
done <<'POINTS'
Jiangmen city hall area,113.0760,22.5850
Taishan city seat,112.794065,22.251924
Shangchuan island,112.77,21.72
Open sea,112.9,21.2
POINTS
