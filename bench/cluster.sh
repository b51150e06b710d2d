#!/usr/bin/env bash
# Cluster mode figures (bench/RESULTS.md "Cluster mode", docs/cluster.md), in
# one run on loopback: three nats-server (JetStream, clustered) and three
# `gridtree serve --cluster` replicas of the default dataset's image (stream
# "grid", 3 copies), then, with gridtree_cluster_load:
#   1. write throughput: update batches of 100, position reports in batches
#      of 1,000 and 10,000, through the replicas' RPC (3 connections, one per
#      replica, IN_FLIGHT_DEPTH calls in flight each), against a bare
#      JetStream publisher of the same bytes (EncodeLogMessage) to a stream
#      of its own (3 copies, same servers, js_PublishAsync with as many in
#      flight); for update batches also the bare publisher with three
#      ordered consumers reading its stream (as the replicas read theirs),
#      and one `gridtree serve --data-dir` (the write-ahead log, no cluster);
#   2. replication lag: from a write's answer on one replica (position P) to
#      atPosition(P).info() answered by both others, under a paced load;
#   3. failover: SIGKILL of the stream's leader nats-server while every
#      replica takes writes, to the next acknowledged write on each; the
#      baseline is a bare publisher to a stream led by the same server;
#   4. catch-up: a fourth replica with an empty data directory replays the
#      whole stream (filled up to 20,000+ positions first); the baseline is
#      a bare ordered consumer reading the same stream.
# Everything it starts is killed when it exits. About 3 minutes on 2 cores.
#   bench/cluster.sh
#   DURATION=6 IN_FLIGHT_DEPTH=4 LAG_LOAD_RATE=100 FILL_TO=20000 PORT_BASE=7640 LOGS=DIR bench/cluster.sh
# Progress and the load generator's result lines go to stderr, the summary
# (Markdown) to stdout; LOGS=DIR keeps the servers' logs there.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nats-server >/dev/null || { echo "nats-server is not installed (scripts/install-deps.sh)" >&2; exit 1; }
for f in build/release/rpc/gridtree build/release/bench/gridtree_cluster_load; do
  [ -x "$f" ] || { echo "missing $f: cmake --build --preset release --target gridtree gridtree_cluster_load" >&2; exit 1; }
done

duration=${DURATION:-6}         # seconds measured per throughput figure, after 1 s of warm-up
depth=${IN_FLIGHT_DEPTH:-4}     # writes in flight per connection; 3 connections
lag_rate=${LAG_LOAD_RATE:-100}  # paced background writes/s (batches of 100) during the lag probes
fill_to=${FILL_TO:-20000}       # positions the stream holds before catch-up, at least
base=${PORT_BASE:-7640}
dataset=${GRIDTREE_DATASET:-data/generated/jiangmen.geojson}
image=${dataset%.*}.gtimg
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gridtree-cluster.XXXXXX")
started=$(date +%s.%N)
pids=()

say() { printf "[%6.1f s] %s\n" "$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN { print a - b }')" "$*" >&2; }
cleanup() {
  local rc=$? p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $rc -ne 0 ] || [ -n "${LOGS:-}" ]; then
    local keep="${LOGS:-${TMPDIR:-/tmp}/gridtree-cluster-logs}"
    rm -rf "$keep"; mkdir -p "$keep"; cp "$tmp"/*.log "$keep"/ 2>/dev/null || true
    echo "the servers' logs are in $keep" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in $(seq "$base" $((base + 2))) $(seq $((base + 10)) $((base + 12))) $(seq $((base + 20)) $((base + 24))); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is in use; set PORT_BASE" >&2; exit 1; fi
done

if [ ! -s "$image" ]; then
  if [ ! -s "$dataset" ]; then
    say "generating $dataset"
    mkdir -p "$(dirname "$dataset")"
    build/release/rpc/gridtree generate --out "$dataset" >/dev/null 2>&1
  fi
  say "writing $image"
  build/release/rpc/gridtree snapshot "$dataset" --out "$image" >/dev/null
fi
# Private copies: a rebuild of build/release during the run changes nothing here.
cp build/release/rpc/gridtree build/release/bench/gridtree_cluster_load "$tmp"/
bin=$tmp/gridtree
load=$tmp/gridtree_cluster_load

token="cluster-bench-$$"
echo "$token" >"$tmp/token"
export GRIDTREE_WRITER_TOKEN=$token

# ---- three nats-server ----
urls="" routes=""
for i in 0 1 2; do
  urls+="${urls:+,}nats://127.0.0.1:$((base + i))"
  routes+="${routes:+, }nats-route://127.0.0.1:$((base + 10 + i))"
done
declare -A nats_pid
start_nats() {
  nats-server -c "$tmp/n$1.conf" 2>>"$tmp/n$1.log" &
  nats_pid[n$1]=$!
  pids+=($!)
}
for i in 0 1 2; do
  cat >"$tmp/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((base + i))
jetstream { store_dir: "$tmp/js$i" }
cluster { name: gt, listen: 127.0.0.1:$((base + 10 + i)), routes: [$routes] }
EOF
  start_nats $i
done
say "nats-server n0 n1 n2 started ($urls)"
for _ in $(seq 200); do
  grep -q "JetStream cluster new metadata leader" "$tmp"/n*.log && break
  sleep 0.1
done
grep -q "JetStream cluster new metadata leader" "$tmp"/n*.log || { echo "no JetStream metadata leader" >&2; exit 1; }

# ---- replicas ----
addr() { echo "127.0.0.1:$((base + 20 + $1))"; }
wait_answer() {
  for _ in $(seq 300); do
    "$bin" call --connect "$1" info >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "nothing answers at $1; see $2" >&2
  return 1
}
declare -A replica_pid
start_replica() {
  "$bin" serve "$image" --listen "$(addr "$1")" --threads 2 --cluster "$urls" --stream grid --stream-replicas 3 \
    --data-dir "$tmp/replica$1" --publish-timeout-ms 2000 2>"$tmp/replica$1.log" &
  replica_pid[$1]=$!
  pids+=($!)
}
for i in 0 1 2; do
  start_replica $i
  wait_answer "$(addr $i)" "$tmp/replica$i.log"  # one at a time: the first creates the stream
done
replicas="$(addr 0),$(addr 1),$(addr 2)"
say "replicas answering at $replicas"
position_of() { "$bin" call --connect "$1" info | tr -d ' \n' | sed -n 's/.*"position":"\{0,1\}\([0-9]*\).*/\1/p'; }

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# CPU ticks (user + system) of the processes named, and of the whole machine.
ticks() {
  local t=0 p
  for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo $t
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)
# Runs the load generator; its result line gets the cores each group used
# meanwhile: the nats-servers, the gridtree servers ($servers), the load
# generator itself, and the whole machine (other work on it included).
servers="${replica_pid[0]} ${replica_pid[1]} ${replica_pid[2]}"
run() {
  say "$*"
  local line n0 s0 m0 t0 n1 s1 m1 t1
  n0=$(ticks "${nats_pid[@]}") s0=$(ticks $servers) m0=$(machine_ticks) t0=$(date +%s.%N)
  line=$("$load" "$@") || say "gridtree_cluster_load $1 failed (exit $?)"
  n1=$(ticks "${nats_pid[@]}") s1=$(ticks $servers) m1=$(machine_ticks) t1=$(date +%s.%N)
  line+=$(awk -v n=$((n1 - n0)) -v s=$((s1 - s0)) -v m=$((m1 - m0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" \
    -v c="$(field cpu_s "$line")" 'BEGIN { w = t1 - t0; printf " wall_s=%.1f nats_cores=%s servers_cores=%.2f load_cores=%.2f machine_cores=%.2f",
      w, n < 0 ? "-" : sprintf("%.2f", n / hz / w), s / hz / w, c / w, m / hz / w }')
  echo "$line" >&2
  echo "$line"
}

# ---- 1. throughput ----
# Two rounds, alternating bare and replicated writes (the machine's other
# work changes between runs); the single server with a write-ahead log
# serves throughout, idle but for its own runs.
say "one gridtree serve with a write-ahead log (--data-dir, no --cluster) at $(addr 4)"
"$bin" serve "$image" --listen "$(addr 4)" --threads 2 --data-dir "$tmp/wal" 2>"$tmp/wal.log" &
wal_pid=$!
pids+=($wal_pid)
wait_answer "$(addr 4)" "$tmp/wal.log"
replica_servers="${replica_pid[0]} ${replica_pid[1]} ${replica_pid[2]}"
common=(--image "$image" --duration "$duration")
in_flight=(--in-flight $((3 * depth)))
declare -A bare bare_read write wal ends
for round in 1 2; do
  for spec in update:100 track:1000 track:10000; do
    kind=${spec%%:*} batch=${spec##*:}
    bare[$spec:$round]=$(run publish --nats "$urls" --stream bare --replicas 3 "${in_flight[@]}" \
      --kind "$kind" --batch "$batch" "${common[@]}")
    write[$spec:$round]=$(run write --connect "$replicas" --token-file "$tmp/token" --connections 3 --depth "$depth" \
      --kind "$kind" --batch "$batch" "${common[@]}")
    [ $round = 1 ] && ends[$spec]=$(position_of "$(addr 0)")
    if [ "$spec" = update:100 ]; then
      bare_read[$round]=$(run publish --nats "$urls" --stream bare --replicas 3 "${in_flight[@]}" --consumers 3 \
        --kind update --batch 100 "${common[@]}")
      servers=$wal_pid
      wal[$round]=$(run write --connect "$(addr 4)" --token-file "$tmp/token" --connections 3 --depth "$depth" \
        --kind update --batch 100 "${common[@]}")
      servers=$replica_servers
    fi
  done
done
kill -KILL $wal_pid 2>/dev/null || true
wait $wal_pid 2>/dev/null || true

# ---- 2. lag ----
lag=$(run lag --connect "$replicas" --token-file "$tmp/token" --load-rate "$lag_rate" --probe-interval-ms 10 \
  --duration 10 --image "$image" --kind update --batch 100)

# ---- 3. failover ----
failover=$(run failover --connect "$replicas" --token-file "$tmp/token" --nats "$urls" --stream grid \
  --pids "n0=${nats_pid[n0]},n1=${nats_pid[n1]},n2=${nats_pid[n2]}" --publish-timeout-ms 2000 \
  --image "$image" --kind update --batch 100)
killed=$(field killed "$failover")
if [ -n "$killed" ]; then
  wait "${nats_pid[$killed]}" 2>/dev/null || true
  start_nats "${killed#n}"
  say "$killed started again"
fi

# ---- 4. catch-up ----
settled() {  # until replica 0's position stops moving
  local p q
  p=$(position_of "$(addr 0)")
  while sleep 0.5; q=$(position_of "$(addr 0)"); [ "$p" != "$q" ]; do p=$q; done
  echo "$q"
}
filled_from=$(settled)
if [ "$filled_from" -lt "$fill_to" ]; then
  # Update batches encoded as a replica encodes them, published into the
  # replicas' own stream (every replica applies them).
  fill=$(run publish --nats "$urls" --subject gridtree.grid --count $((fill_to - filled_from)) \
    "${in_flight[@]}" --image "$image" --kind update --batch 100 --seed 2)
  settled >/dev/null
fi
segments="${ends[update:100]},${ends[track:1000]},${ends[track:10000]},$filled_from"
read_line=$(run read --nats "$urls" --stream grid --segments "$segments")
end=$(field end "$read_line")
say "catch-up: the stream holds $end positions: update batches to ${ends[update:100]}, reports x 1,000 to" \
  "${ends[track:1000]}, reports x 10,000 to ${ends[track:10000]}, all three (round 2), lag and failover" \
  "writes to $filled_from, filled update batches to $end"
launched=$(date +%s%N)
start_replica 3
servers=${replica_pid[3]}
catchup=$(run catchup --connect "$(addr 3)" --end "$end" --launched-ns "$launched" --compare "$(addr 0)" \
  --segments "$segments")

# ---- summary ----
cores() { echo "$(field nats_cores "$1") / $(field servers_cores "$1") / $(field load_cores "$1") / $(field machine_cores "$1")"; }
# CPU milliseconds per write, all groups together.
cpu_per_write() {
  awk -v n="$(field nats_cores "$1")" -v s="$(field servers_cores "$1")" -v l="$(field load_cores "$1")" \
    -v w="$(field writes_per_s "$1")" 'BEGIN { if (w > 0) printf "%.2f", (n + s + l) / w * 1000; else print "-" }'
}
rate() { field writes_per_s "$1"; }
nth() { cut -d, -f"$1" <<<"$2"; }
{
  echo
  echo "| writes | round | bare JetStream, writes/s | replicas, writes/s | replicas ÷ bare | replicas, updates or reports/s | p50 / p99 ms: bare; replicas | CPU ms per write: bare; replicas | cores nats / gridtree / load / machine: bare; replicas |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for spec in update:100 track:1000 track:10000; do
    for round in 1 2; do
      b=${bare[$spec:$round]} w=${write[$spec:$round]}
      echo "| ${spec%%:*} × ${spec##*:} | $round | $(rate "$b") | $(rate "$w") | **$(ratio "$(rate "$w")" "$(rate "$b")")** |" \
        "$(field items_per_s "$w") |" \
        "$(field latency_p50_ms "$b") / $(field latency_p99_ms "$b"); $(field latency_p50_ms "$w") / $(field latency_p99_ms "$w") |" \
        "$(cpu_per_write "$b"); $(cpu_per_write "$w") | $(cores "$b"); $(cores "$w") |"
    done
  done
  echo
  for round in 1 2; do
    w=${write[update:100:$round]} br=${bare_read[$round]} wl=${wal[$round]}
    echo "- update × 100, round $round: bare publisher with 3 ordered consumers reading its stream $(rate "$br") writes/s" \
      "($(cpu_per_write "$br") CPU ms per write, cores $(cores "$br")), replicas ÷ that **$(ratio "$(rate "$w")" "$(rate "$br")")**;" \
      "one gridtree serve with a write-ahead log $(rate "$wl") writes/s (p50 / p99 $(field latency_p50_ms "$wl") /" \
      "$(field latency_p99_ms "$wl") ms, $(cpu_per_write "$wl") CPU ms per write, cores $(cores "$wl")), replicas ÷ WAL" \
      "**$(ratio "$(rate "$w")" "$(rate "$wl")")**"
  done
  echo "- lag, a write's answer on one replica to applied on both others: $(field probes "$lag") probes" \
    "($(field failures "$lag") failed) with $(field load_writes_per_s "$lag") background writes/s:" \
    "p50 $(field lag_p50_ms "$lag") ms, p99 **$(field lag_p99_ms "$lag") ms**, max $(field lag_max_ms "$lag") ms" \
    "(each replica alone: p50 $(field replica_lag_p50_ms "$lag"), p99 $(field replica_lag_p99_ms "$lag") ms);" \
    "plain info() on the same two: p50 $(field info_p50_ms "$lag") ms, p99 $(field info_p99_ms "$lag") ms;" \
    "the probe write's own answer: p50 $(field ack_p50_ms "$lag") ms, p99 $(field ack_p99_ms "$lag") ms"
  echo "- failover, SIGKILL of $(field killed "$failover") (leader of the stream; replicas' consumers on" \
    "$(field consumers "$failover")): JetStream named a new leader ($(field new_leader "$failover")) after" \
    "$(field leader_elected_ms "$failover") ms; bare publisher's next acknowledged publish" \
    "$(field bare_first_ack_ms "$failover") ms; replicas' next acknowledged write" \
    "$(field r0_first_ack_ms "$failover") / $(field r1_first_ack_ms "$failover") / $(field r2_first_ack_ms "$failover") ms" \
    "(first **$(field first_ack_min_ms "$failover") ms**, last **$(field first_ack_max_ms "$failover") ms**)"
  echo "- catch-up, empty data directory, $(field end "$catchup") positions: **$(field positions_per_s "$catchup") positions/s**" \
    "(ready $(field ready_after_ms "$catchup") ms after launch); a bare ordered consumer reading the same stream:" \
    "$(field positions_per_s "$read_line") positions/s ($(field mb_per_s "$read_line") MB/s);" \
    "replay ÷ read = **$(ratio "$(field positions_per_s "$catchup")" "$(field positions_per_s "$read_line")")**;" \
    "digest equal to replica 0's: $(field digest_equal "$catchup")"
  rs=$(field segment_positions_per_s "$catchup") bs=$(field segment_positions_per_s "$read_line")
  filled=""
  [ "$filled_from" -lt "$end" ] && filled="; update × 100 (filled) $(nth 5 "$rs") / $(nth 5 "$bs")"
  echo "  per stretch, replay / read positions/s: update × 100 $(nth 1 "$rs") / $(nth 1 "$bs");" \
    "reports × 1,000 $(nth 2 "$rs") / $(nth 2 "$bs"); reports × 10,000 $(nth 3 "$rs") / $(nth 3 "$bs");" \
    "round 2, lag and failover $(nth 4 "$rs") / $(nth 4 "$bs")$filled"
  changed=$(git diff --quiet HEAD -- rpc engine index 2>/dev/null || echo ", with uncommitted changes in rpc/ engine/ index/")
  echo "- $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg);" \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$changed; $(nats-server --version)"
}
say "done"
