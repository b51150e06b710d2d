#!/usr/bin/env bash
# The main job on the default dataset: build what it needs (the gridtree
# program and the Python module; not the tests), generate Jiangmen (cached
# under data/generated/) and its engine image, validate it, print the level
# counts and a few lookups, then serve the image on loopback (Cap'n Proto
# RPC and HTTP, with the map page) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
targets=(gridtree)
# The Python module too, where this build has it (docs/python.md).
if cmake --build --preset release --target help | grep -q '^gridtree_python:'; then
  targets+=(gridtree_python)
fi
scripts/build.sh release "${targets[@]}"
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
  "$bin" image "$dataset" --out "$image"
fi
echo "== validation report"
"$bin" validate "$dataset"
echo "== dataset"
"$bin" info "$image"
echo "== example lookups"
while IFS=, read -r name lon lat; do
  echo "-- $name ($lon, $lat)"
  "$bin" locate "$image" "$lon" "$lat" || true
done <<'POINTS'
Jiangmen city hall area,113.0760,22.5850
Taishan city seat,112.794065,22.251924
Shangchuan island,112.77,21.72
Open sea,112.9,21.2
POINTS

rpc=127.0.0.1:7433
http=127.0.0.1:7480
cat <<EOF

== serving $image: Cap'n Proto RPC on $rpc, HTTP on $http (Ctrl-C stops)
The map: open http://$http/ in a browser (docs/map.md).
Try, from another terminal:
  $bin call --connect $rpc locate 113.0760 22.5850
  $bin call --connect $rpc aggregate --circle 113.08,22.58,2000 --mode area_weighted --group-by town
  curl 'http://$http/locate?lon=113.0760&lat=22.5850'
  curl http://$http/metrics
  PYTHONPATH=build/release/python python3 -c "import gridtree; e = gridtree.open('$image'); print(e.locate([113.08], [22.58]))"
EOF
# The engine image opens in milliseconds: nothing is parsed or built.
exec "$bin" serve "$image" --listen "$rpc" --http "$http"
