#!/usr/bin/env bash
# Installs the Debian 12 packages gridtree needs, when any is missing
# (gdal-bin: the tests check that GDAL reads `gridtree export --flat` and the
# vector tiles; libprotozero-dev encodes the tiles; libgeos-dev fits the
# generated shapes to the published county borders; nats-server and
# libnats-dev: cluster mode, docs/cluster.md; pybind11 and the Python
# packages: the Python module, its tests and its notebook, docs/python.md).
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config ccache libssl-dev
  libboost-dev libtbb-dev capnproto libcapnp-dev libsimdjson-dev libcli11-dev
  libbenchmark-dev libgtest-dev curl gdal-bin libprotozero-dev libgeos-dev zlib1g-dev
  nats-server libnats-dev
  pybind11-dev python3-dev python3-numpy python3-pandas python3-geopandas python3-shapely python3-rtree
  python3-pytest python3-matplotlib jupyter-nbconvert python3-ipykernel python3-nbclient fonts-noto-cjk)
# --peers: also Google S2 and Abseil, for the optional side-by-side
# benchmark (GRIDTREE_BENCH_PEERS, bench/README.md). --postgis: PostgreSQL and
# PostGIS, for bench/postgis.sh. --ladder: the tools of bench/scale_ladder.sh
# and docs/scale.gp. --browser: headless Chromium, CJK fonts and Node.js for
# the map page's browser test (tests/browser; then `npm ci --prefix tests/browser`).
# --fuzz: clang 15 and libFuzzer, for scripts/fuzz.sh (docs/fuzzing.md).
for arg in "$@"; do
  case "$arg" in
    --peers) packages+=(libs2-dev libabsl-dev) ;;
    --postgis) packages+=(postgresql postgresql-15-postgis-3) ;;
    --fuzz) packages+=(clang-15 libfuzzer-15-dev) ;;
    --ladder) packages+=(time bc bsdextrautils gnuplot-nox) ;;
    --browser)
      packages+=(chromium fonts-noto-cjk)
      # Node.js from Debian only where there is none (a NodeSource nodejs
      # already brings npm, and Debian's npm would conflict with it).
      command -v npm >/dev/null || packages+=(nodejs npm) ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
