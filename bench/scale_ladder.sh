#!/usr/bin/env bash
# The scale ladder of bench/RESULTS.md: each rung generated, converted to an
# engine image (docs/image.md), opened, served twice at once (the second
# server's proportional and private memory), and queried with the same
# workloads, with wall time and peak memory of every step (/usr/bin/time,
# Debian package "time").
#
#   bench/scale_ladder.sh [RUNG ...]     # default: jiangmen guangdong national
#
# Rungs:
#   jiangmen   the default dataset (1 city, 14,843 leaves)
#   guangdong  the province: 21 cities (gridtree generate --city guangdong)
#   national   11 copies of the province at 1024 px/degree without inner
#              geometry: 3.24 M leaves (about 11.5 GiB of memory is needed
#              to convert it; opening maps its 4 GB image)
#
# Environment: BUILD (default build/release; needs the gridtree, gridtree_replay
# and gridtree_bench targets), LADDER_DIR (work folder, default
# ${TMPDIR:-/tmp}/gridtree-ladder; the national rung needs about 6 GiB of disk).
# Results are appended to $LADDER_DIR/ladder.tsv, one line per rung, and
# printed; docs/scale.gp draws docs/scale.svg from such a file.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/release}
bin=$build/rpc/gridtree
replay=$build/bench/replay/gridtree_replay
bench=$build/bench/gridtree_bench
out=${LADDER_DIR:-${TMPDIR:-/tmp}/gridtree-ladder}
mkdir -p "$out"
for tool in /usr/bin/time bc column; do
    command -v "$tool" >/dev/null || { echo "needs $tool (scripts/install-deps.sh --ladder)" >&2; exit 1; }
done
for b in "$bin" "$replay" "$bench"; do [ -x "$b" ] || { echo "missing $b: build the release preset first" >&2; exit 1; }; done
rungs=("$@")
[ ${#rungs[@]} -gt 0 ] || rungs=(jiangmen guangdong national)
# Huge pages for every process (gridtree sets them itself; the tools do not).
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
tsv=$out/ladder.tsv
[ -f "$tsv" ] || printf 'rung\tleaves\tvertices\tgenerate_s\tgeojson_parse_s\tgeojson_check_s\tconvert_s\tconvert_peak_mib\timage_mib\topen_s\topen_peak_mib\tsecond_pss_mib\tsecond_private_mib\tlocate_1t_mps\tlocate_all_mps\tcircle2km_p50_us\tupdates_per_s\n' > "$tsv"

timed() {  # timed LABEL CMD...: runs CMD, prints its output, then "time-LABEL: seconds peak_kb"
    local label=$1; shift
    /usr/bin/time -f "time-$label: %e %M" "$@"
}

# Starts `gridtree serve IMAGE` on a Unix socket and waits until it listens;
# prints its PID.
start_server() {  # start_server IMAGE SOCKET LOG
    "$bin" serve "$1" --unix "$2" --threads 1 > "$3" 2>&1 &
    local pid=$!
    for _ in $(seq 1 600); do
        grep -q '"listening"\|listening' "$3" 2>/dev/null && { echo "$pid"; return; }
        kill -0 "$pid" 2>/dev/null || { echo "serve exited: $(tail -3 "$3")" >&2; exit 1; }
        sleep 0.1
    done
    echo "serve did not start: $(tail -3 "$3")" >&2; exit 1
}

for rung in "${rungs[@]}"; do
    echo "== $rung ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1 /proc/loadavg))"
    case $rung in
        jiangmen) gen=(--city jiangmen) ;;
        guangdong) gen=(--city guangdong) ;;
        national) gen=(--city guangdong --cities 11 --pixels-per-degree 1024 --no-inner-geometry) ;;
        *) echo "unknown rung $rung" >&2; exit 2 ;;
    esac
    geo=$out/$rung.geojsonl snap=$out/$rung.gtimg
    log=$out/$rung.log
    echo "   generate ..."
    timed generate "$bin" generate "${gen[@]}" --out "$geo" > "$log" 2>&1
    leaves=$(grep -oP '\d+(?= leaves)' "$log" | tail -1)
    vertices=$(grep -oP '\d+(?= vertices)' "$log" | tail -1)
    gen_s=$(grep -oP "^time-generate: \K[0-9.]+" "$log")
    echo "   convert to an engine image (parse, check, build the index, write) ..."
    timed convert "$bin" snapshot "$geo" --out "$snap" >> "$log" 2>&1
    parse_s=$(grep -oP 'parsed in \K[0-9.]+' "$log" | tail -1)
    check_s=$(grep -oP 'checked in \K[0-9.]+' "$log" | tail -1)
    read -r convert_s convert_kb < <(grep -oP "^time-convert: \K.*" "$log")
    image_mib=$(( $(stat -c %s "$snap") / 1048576 ))
    rm -f "$geo"
    echo "   open the image and answer one point (twice: the second with the file in the page cache) ..."
    timed open_cold "$bin" locate "$snap" 113.0819 22.5787 >> "$log" 2>&1
    timed open "$bin" locate "$snap" 113.0819 22.5787 >> "$log" 2>&1
    read -r open_s open_kb < <(grep -oP "^time-open: \K.*" "$log")
    echo "   two servers on the same image: the second one's memory ..."
    first=$(start_server "$snap" "$out/first.sock" "$out/first.log")
    second=$(start_server "$snap" "$out/second.sock" "$out/second.log")
    pss_kb=$(awk '$1 == "Pss:" {print $2}' "/proc/$second/smaps_rollup")
    private_kb=$(awk '$1 == "Private_Clean:" || $1 == "Private_Dirty:" {s += $2} END {print s}' "/proc/$second/smaps_rollup")
    cat "/proc/$second/smaps_rollup" >> "$log"
    kill "$first" "$second"; wait "$first" "$second" 2>/dev/null || true
    echo "   locate and aggregate workloads ..."
    loc1=$("$replay" --dataset "$snap" --workload bench/workloads/ladder-locate.json --threads 1 --engine-threads 1 --quiet | tee -a "$log" | grep -oP 'points located: \K[0-9.]+')
    locn=$("$replay" --dataset "$snap" --workload bench/workloads/ladder-locate.json --threads 1 --engine-threads 0 --quiet | tee -a "$log" | grep -oP 'points located: \K[0-9.]+')
    circ=$("$replay" --dataset "$snap" --workload bench/workloads/ladder-circle-2km.json --threads 1 --engine-threads 1 --quiet | tee -a "$log" | awk '$1 == "aggregate" {print $5}')
    echo "   updates ..."
    upd=$(GRIDTREE_DATASET=$snap "$bench" --benchmark_filter='BM_Apply/durable:0/batch:100/' --benchmark_min_time=1 2>/dev/null | tee -a "$log" | grep -oP 'items_per_second=\K[0-9.]+[kM]?' | head -1 |
        awk '/k$/ {printf "%.0f", $1 * 1e3; next} /M$/ {printf "%.0f", $1 * 1e6; next} {printf "%.0f", $1}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%.2f\t%.2f\t%s\t%s\n' "$rung" "$leaves" "$vertices" "$gen_s" \
        "$parse_s" "$check_s" "$convert_s" $((convert_kb / 1024)) "$image_mib" "$open_s" $((open_kb / 1024)) \
        $((pss_kb / 1024)) $((private_kb / 1024)) "$(echo "$loc1 / 1000000" | bc -l)" "$(echo "$locn / 1000000" | bc -l)" \
        "$circ" "$upd" >> "$tsv"
    tail -1 "$tsv"
done
column -t -s $'\t' "$tsv"
