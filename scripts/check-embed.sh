#!/usr/bin/env bash
# Installs the release build into a temporary prefix, builds the embedding
# example (docs/examples/embed) against the installed package and runs it on
# the default dataset.
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
