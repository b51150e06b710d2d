#!/usr/bin/env bash
# The map page in headless Chromium (map_test.mjs) against a real
# `gridtree serve` on a freshly generated Jiangmen dataset.
#   tests/browser/run.sh GRIDTREE_BINARY
# Needs chromium (Debian) and `npm ci` in tests/browser (puppeteer-core);
# scripts/install-deps.sh --browser installs both. Without them the test is
# skipped (exit 77), except under CI=true, where it fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "$1")
missing=""
command -v node >/dev/null || missing="node"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
[ -d "$here/node_modules/puppeteer-core" ] || missing="$missing puppeteer-core (npm ci in tests/browser)"
if [ -n "$missing" ]; then
    echo "missing:$missing" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" generate --out "$work/jiangmen.geojson" > /dev/null 2>&1
cd "$here"
node map_test.mjs "$bin" "$work/jiangmen.geojson" "$work"
if [ -n "${GRIDTREE_MAP_SCREENSHOT:-}" ]; then cp "$work/map.png" "$GRIDTREE_MAP_SCREENSHOT"; fi
