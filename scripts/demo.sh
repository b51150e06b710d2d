#!/usr/bin/env bash
# The main job on the default dataset: build, generate Jiangmen (cached under
# data/generated/, with its engine image for gridtree.open in Python),
# validate it, print the level counts and a few lookups,
# then serve it on loopback (Cap'n Proto RPC and HTTP) until Ctrl-C.
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
image=data/generated/jiangmen.gtimg
if [ ! -s "$image" ] || [ "$dataset" -nt "$image" ]; then
  echo "== engine image"
  "$bin" snapshot "$dataset" --out "$image"
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

rpc=127.0.0.1:7433
http=127.0.0.1:7480
cat <<EOF

== serving $dataset: Cap'n Proto RPC on $rpc, HTTP on $http (Ctrl-C stops)
The map: open http://$http/ in a browser (docs/map.md).
Try, from another terminal:
  $bin call --connect $rpc locate 113.0760 22.5850
  $bin call --connect $rpc aggregate --circle 113.08,22.58,2000 --mode area_weighted --group-by town
  curl 'http://$http/locate?lon=113.0760&lat=22.5850'
  curl http://$http/metrics
  PYTHONPATH=build/release/python python3 -c "import gridtree; e = gridtree.open('$image'); print(e.locate([113.08], [22.58]))"
EOF
exec "$bin" serve "$dataset" --listen "$rpc" --http "$http"
