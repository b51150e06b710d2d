#!/usr/bin/env bash
# Installs the release build into a temporary prefix, builds the embedding
# example (docs/examples/embed) against the installed package and runs it on
# the default dataset; then imports the installed Python module and
# locates a point with it.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
scripts/build.sh release
cmake --install build/release --prefix "$prefix" >/dev/null
cmake -S docs/examples/embed -B "$prefix/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/build"
dataset=data/generated/jiangmen.geojson
[ -s "$dataset" ] || { mkdir -p data/generated; build/release/rpc/gridtree generate --out "$dataset" >/dev/null 2>&1; }
"$prefix/build/embed" "$dataset"
if grep -q "^GRIDTREE_BUILD_PYTHON:BOOL=ON" build/release/CMakeCache.txt; then
  site=$(find "$prefix/lib" -maxdepth 3 -type d -name gridtree -path "*-packages/*" | head -1)
  [ -n "$site" ] || { echo "check-embed: cmake --install put no gridtree Python package under $prefix/lib" >&2; exit 1; }
  (cd "$prefix" && PYTHONPATH="$(dirname "$site")" /usr/bin/python3 -c "
import sys, gridtree
assert gridtree.__file__.startswith('$prefix'), gridtree.__file__
e = gridtree.open(sys.argv[1], threads=1)
print('installed python module:', gridtree.__file__, e.locate([113.08], [22.58]))" "$OLDPWD/$dataset")
fi
