#!/usr/bin/env bash
# Cluster mode on one machine (docs/cluster.md): three nats-server with
# JetStream clustered on loopback, three replicas of Jiangmen serving from its
# engine image, and `gridtree simulate` writing through one of them. Prints
# where each replica stands, how to kill and restart any server or replica,
# then a status line every few seconds until Ctrl-C (or --seconds N), and
# stops everything it started.
#
#   scripts/cluster-demo.sh [--no-simulate] [--seconds N] [--no-build] [--keep]
#
#   --no-simulate  start no simulator: the replicas stay at position 0
#                  until something writes
#   --seconds N    stop after N seconds of running, check that the replicas
#                  agree (same position, same digest) and exit 0 if they do
#   --no-build     skip installing packages and building: use the binary in
#                  build/release as it is
#   --keep         keep the work folder (configurations, stores, logs) at exit
#
# The writer token is $GRIDTREE_WRITER_TOKEN, else a random one; either way
# it is in the work folder's writer.token (a mktemp folder under $TMPDIR).
#
# Ports: NATS 14222-14224 (routes 14322-14324), RPC 17433-17435, HTTP
# 17480-17482 when all are free, else free ones chosen by the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

simulate=1 seconds=0 build=1 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-simulate) simulate=0 ;;
    --seconds)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then echo "--seconds needs a number of seconds" >&2; exit 2; fi
      seconds=$2
      shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$build" = 1 ]; then
  scripts/build.sh release
fi
for tool in nats-server curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done
bin=${GRIDTREE_BIN:-$root/build/release/rpc/gridtree}  # the test suite passes its own build
[ -x "$bin" ] || { echo "$bin is missing: run scripts/build.sh release" >&2; exit 1; }

dataset=data/generated/jiangmen.geojson
image=data/generated/jiangmen.gtimg
mkdir -p data/generated
if [ ! -s "$dataset" ]; then
  echo "== generating the Jiangmen dataset (seed 1)"
  "$bin" generate --out "$dataset"
fi
if [ ! -s "$image" ] || [ "$dataset" -nt "$image" ]; then
  echo "== writing its engine image"
  "$bin" snapshot "$dataset" --out "$image"
fi
image=$root/$image

# ---- the work folder, ports and processes ----------------------------------

dir=$(mktemp -d "${TMPDIR:-/tmp}/gridtree-cluster.XXXXXX")
sim_replica=-1   # the replica the simulator writes through (-1: none)
finished=0 interrupted=0

# The PIDs of one of our processes: n0-n2 (NATS), r0-r2 (replicas) or sim,
# found by their command lines, which name the work folder, so that nothing
# else is ever matched, and a process started again by hand is found too.
pattern() {
  local d
  d=$(printf '%s' "$dir" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  case "$1" in
    n?) echo "^[^ ]*nats-server -c $d/$1\.conf( |\$)" ;;
    r?) echo "^[^ ]*gridtree serve .*--data-dir $d/$1 " ;;
    sim) echo "^[^ ]*gridtree simulate .*--token-file $d/writer\.token " ;;
  esac
}
pids() { pgrep -f -- "$(pattern "$1")" || true; }
up() { [ -n "$(pids "$1")" ]; }

# Sends signal $1 to the processes named after it.
send_signal() {
  local name list
  for name in "${@:2}"; do
    mapfile -t list < <(pids "$name")
    [ ${#list[@]} -eq 0 ] || kill "-$1" "${list[@]}" 2>/dev/null || true
  done
}

# Stops these processes: SIGTERM, up to 10 s, then SIGKILL.
stop() {
  local name t alive
  send_signal TERM "$@"
  for t in $(seq 100); do
    alive=0
    for name in "$@"; do up "$name" && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  send_signal KILL "$@"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  echo
  echo "== stopping: simulator, replicas, NATS servers"
  stop sim
  stop r0 r1 r2
  stop n0 n1 n2
  if [ "$keep" = 1 ] || { [ "$rc" != 0 ] && [ "$finished" = 0 ] && [ "$interrupted" = 0 ]; }; then
    echo "work folder kept: $dir (configurations, stores, logs)"
  else
    rm -rf "$dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'interrupted=1; exit 130' INT
trap 'interrupted=1; exit 143' TERM

# Twelve ports: the fixed layout when all of it is free, else the kernel's.
read -r -a ports < <(python3 - <<'PY'
import socket
def free(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
fixed = [b + i for b in (14222, 14322, 17433, 17480) for i in range(3)]
if all(free(p) for p in fixed):
    print(*fixed)
else:
    socks, out = [], []
    while len(out) < 12:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        out.append(s.getsockname()[1])
    print(*out)
PY
)
nats_port=("${ports[@]:0:3}") route_port=("${ports[@]:3:3}")
rpc_port=("${ports[@]:6:3}") http_port=("${ports[@]:9:3}")
urls="nats://127.0.0.1:${nats_port[0]},nats://127.0.0.1:${nats_port[1]},nats://127.0.0.1:${nats_port[2]}"
rpcs="127.0.0.1:${rpc_port[0]},127.0.0.1:${rpc_port[1]},127.0.0.1:${rpc_port[2]}"

token=$dir/writer.token
(umask 077; printf '%s\n' "${GRIDTREE_WRITER_TOKEN:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}" >"$token")

# ---- three NATS servers -----------------------------------------------------

routes="nats-route://127.0.0.1:${route_port[0]}, nats-route://127.0.0.1:${route_port[1]}, nats-route://127.0.0.1:${route_port[2]}"
for i in 0 1 2; do
  cat >"$dir/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:${nats_port[$i]}
jetstream { store_dir: "$dir/js$i" }
cluster { name: gridtree-demo, listen: 127.0.0.1:${route_port[$i]},
          routes: [$routes] }
EOF
done
nats_cmd() { echo "nats-server -c $dir/n$1.conf >>$dir/n$1.log 2>&1 & echo \$! >$dir/n$1.pid"; }

echo "== starting three NATS servers with JetStream (work folder $dir)"
for i in 0 1 2; do
  nats-server -c "$dir/n$i.conf" >>"$dir/n$i.log" 2>&1 &
  echo $! >"$dir/n$i.pid"
  disown
done
for t in $(seq 300); do
  grep -qs "JetStream cluster new metadata leader" "$dir"/n?.log && break
  for i in 0 1 2; do
    up "n$i" || { echo "nats-server n$i stopped:" >&2; tail -n 20 "$dir/n$i.log" >&2; exit 1; }
  done
  [ "$t" = 300 ] && { echo "no JetStream metadata leader after 30 s; see $dir/n?.log" >&2; exit 1; }
  sleep 0.1
done
echo "JetStream metadata leader: $(grep -ho "JetStream cluster new metadata leader: [^ ]*" "$dir"/n?.log | head -n 1 | sed 's/.*: //')"

# ---- three replicas -----------------------------------------------------------

serve_args() {
  echo "serve $image --cluster $urls --stream jiangmen --data-dir $dir/r$1" \
    "--listen 127.0.0.1:${rpc_port[$1]} --http 127.0.0.1:${http_port[$1]} --writer-token-file $token"
}
replica_cmd() { echo "$bin $(serve_args "$1") >>$dir/r$1.log 2>&1 & echo \$! >$dir/r$1.pid"; }

echo "== starting three replicas of Jiangmen"
for i in 0 1 2; do
  mkdir -p "$dir/r$i"
  # shellcheck disable=SC2046
  "$bin" $(serve_args "$i") >>"$dir/r$i.log" 2>&1 &
  echo $! >"$dir/r$i.pid"
  disown
done
ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${http_port[$1]}/healthz/ready" 2>/dev/null; }
for i in 0 1 2; do
  for t in $(seq 600); do
    ready "$i" && break
    up "r$i" || { echo "replica r$i stopped:" >&2; tail -n 20 "$dir/r$i.log" >&2; exit 1; }
    [ "$t" = 600 ] && { echo "replica r$i not ready after 60 s; see $dir/r$i.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "r$i ready: RPC 127.0.0.1:${rpc_port[$i]}, HTTP http://127.0.0.1:${http_port[$i]}/"
done

# ---- the simulator ------------------------------------------------------------

# Starts the simulator through the first ready replica from r$1 on.
start_simulator() {
  local k i
  for k in 0 1 2; do
    i=$(( ($1 + k) % 3 ))
    if ready "$i"; then
      touch "$dir/simulate.log"
      sim_log_lines=$(wc -l <"$dir/simulate.log")
      "$bin" simulate --connect "127.0.0.1:${rpc_port[$i]}" --token-file "$token" --duration 0 \
        >>"$dir/simulate.log" 2>&1 &
      echo $! >"$dir/simulate.pid"
      disown
      sim_replica=$i
      return 0
    fi
  done
  sim_replica=-1
  return 1
}
if [ "$simulate" = 1 ]; then
  start_simulator 0 || { echo "no replica is ready for the simulator" >&2; exit 1; }
  echo "== simulator: 262 boats and 3770 grid staff, a position report each a second, through r$sim_replica (log: $dir/simulate.log)"
fi

# ---- status -------------------------------------------------------------------

# Reads /info of every replica; prints a table (--table) or one line, and
# keeps every digest seen in $dir/digests.json so that replicas at one
# position are compared even when they report it at different times.
status_py=$(cat <<'PY'
import json, os, sys, time, urllib.request
mode, state, nats, min_position = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
http = sys.argv[5:]
try:
    seen = json.load(open(state))
except (OSError, ValueError):
    seen = {}
rows = []
for i, port in enumerate(http):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=2) as r:
            info = json.load(r)
    except Exception:
        rows.append(None)
        continue
    def num(k):
        return int(info.get(k, 0) or 0)
    # docs/json.md: integers as numbers, the digest as 16 hex digits.
    row = dict(position=num("position"), lag=num("lag"), digest=int(info.get("digest", "0") or "0", 16),
               digest_position=num("digest_position"), ready=bool(info.get("ready", False)))
    rows.append(row)
    if row["digest"]:
        seen.setdefault(str(row["digest_position"]), {})[f"r{i}"] = f"{row['digest']:016x}"
tmp = state + ".tmp"
json.dump(seen, open(tmp, "w"))
os.replace(tmp, state)
shared = {p: d for p, d in seen.items() if len(d) > 1}
bad = sorted((int(p) for p, d in shared.items() if len(set(d.values())) > 1))
check = (f"DIGESTS DIFFER at position {bad[0]}: {shared[str(bad[0])]}" if bad
         else f"digests equal at each of the {len(shared)} position(s) seen on several replicas")
def digest(row):  # 0: not computed yet
    return f"{row['digest']:016x}@{row['digest_position']}" if row["digest"] else "(none yet)"
if mode == "--table":
    print(f"{'replica':8} {'position':>9} {'lag':>5} {'ready':>5}  digest@position")
    for i, row in enumerate(rows):
        if row is None:
            print(f"r{i:<7} {'down':>9}")
        else:
            print(f"r{i:<7} {row['position']:>9} {row['lag']:>5} {'yes' if row['ready'] else 'no':>5}  {digest(row)}")
    print(check)
elif mode == "--line":
    parts = [time.strftime("%H:%M:%S")]
    for i, row in enumerate(rows):
        if row is None:
            parts.append(f"r{i} down")
        else:
            parts.append(f"r{i} pos {row['position']} lag {row['lag']}"
                         f"{'' if row['ready'] else ' (catching up)'} digest {digest(row)}")
    parts.append(nats)
    print(" | ".join(parts) + " | " + ("DIGESTS DIFFER at " + str(bad[0]) if bad else "digests agree"))
else:
    # --final: exit 0 when every replica is up, at one position (at least
    # min_position), with its digest of that position, the same on all.
    live = [r for r in rows if r is not None]
    ok = (len(live) == len(rows) and len({r["position"] for r in live}) == 1
          and live[0]["position"] >= min_position
          and all(r["lag"] == 0 and r["digest_position"] == r["position"] and r["digest"] for r in live)
          and len({r["digest"] for r in live}) == 1 and not bad)
    if ok:
        print(f"all {len(rows)} replicas at position {live[0]['position']} with digest {live[0]['digest']:016x}; {check}")
    elif mode == "--final-report":
        print("the replicas do not agree: " + "; ".join(
            f"r{i} down" if r is None else f"r{i} position {r['position']} lag {r['lag']} digest {digest(r)}"
            for i, r in enumerate(rows)) + f"; {check}")
    sys.exit(0 if ok else 1)
PY
)
nats_state() {
  local i out="nats"
  for i in 0 1 2; do
    if up "n$i"; then out+=" n$i up"; else out+=" n$i DOWN"; fi
  done
  echo "$out"
}
min_position=0
status() { python3 -c "$status_py" "$1" "$dir/digests.json" "$(nats_state)" "$min_position" "${http_port[@]}"; }

echo
echo "== where the replicas stand (HTTP /info)"
status --table || true
echo
echo "== processes"
for i in 0 1 2; do
  printf '%-4s PID %-8s nats://127.0.0.1:%-6s log %s\n' "n$i" "$(pids "n$i" | head -n 1)" "${nats_port[$i]}" "$dir/n$i.log"
done
for i in 0 1 2; do
  printf '%-4s PID %-8s RPC 127.0.0.1:%-6s HTTP 127.0.0.1:%-6s log %s\n' "r$i" "$(pids "r$i" | head -n 1)" \
    "${rpc_port[$i]}" "${http_port[$i]}" "$dir/r$i.log"
done
if [ "$simulate" = 1 ]; then
  printf '%-4s PID %-8s through r%s, log %s\n' sim "$(pids sim | head -n 1)" "$sim_replica" "$dir/simulate.log"
fi
echo "writer token: $token"

{
  for i in 0 1 2; do
    echo "# NATS server n$i: kill, start again"
    echo "kill -9 \$(cat $dir/n$i.pid)"
    nats_cmd "$i"
  done
  for i in 0 1 2; do
    echo "# replica r$i: kill, start again"
    echo "kill -9 \$(cat $dir/r$i.pid)"
    replica_cmd "$i"
  done
} >"$dir/commands.txt"

cat <<EOF

== try it, from another terminal
Kill a NATS server (the stream keeps 3 copies: writes go on while 2 of the 3 run):
  kill -9 \$(cat $dir/n1.pid)
and start it again (it catches up from the others):
  $(nats_cmd 1)
Kill a replica (reads fail over to the others; the simulator is started again through a live replica):
  kill -9 \$(cat $dir/r1.pid)
and start it again (from its checkpoint in $dir/r1, then the stream from there):
  $(replica_cmd 1)
The same for n0, n2, r0 and r2 with their numbers; all six are in $dir/commands.txt.
Watch the rest carry on:
  $bin call --connect $rpcs info
  while sleep 2; do for p in ${http_port[*]}; do curl -s --max-time 1 http://127.0.0.1:\$p/info | python3 -c 'import json,sys; i=json.load(sys.stdin); print("position", i["position"], "lag", i["lag"], "digest %s@%s" % (i["digest"], i["digest_position"]))' 2>/dev/null || echo down; done; echo; done
  curl -i http://127.0.0.1:${http_port[1]}/healthz/ready
  $bin call --connect $rpcs objects --circle 112.79,21.72,30000 --kind boat --limit 5
The map of r0, live: http://127.0.0.1:${http_port[0]}/
EOF

echo
if [ "$seconds" -gt 0 ]; then
  echo "== status every 3 s for $seconds s"
else
  echo "== status every 3 s (Ctrl-C stops everything)"
fi
start=$SECONDS
while [ "$seconds" = 0 ] || [ $((SECONDS - start)) -lt "$seconds" ]; do
  sleep 3
  # The simulator stops at the first write refused (its replica gone, or no
  # quorum while a stream leader is elected): start it again, through the
  # same replica when that one is ready.
  if [ "$simulate" = 1 ] && ! up sim; then
    from=$sim_replica
    why=$(tail -n +$((sim_log_lines + 1)) "$dir/simulate.log" | grep -v -e '^simulate: [0-9]' -e '^stack:' \
      | tail -n 1 | sed 's/^ *//' || true)
    if start_simulator "$((from < 0 ? 0 : from))"; then
      if [ "$from" -ge 0 ]; then
        echo "simulator stopped (${why:-no reason logged}); started again through r$sim_replica"
      else
        echo "simulator started again through r$sim_replica"
      fi
    elif [ "$from" -ge 0 ]; then
      echo "simulator stopped (${why:-no reason logged}); no replica is ready to take it"
    fi
  fi
  status --line || true
done

# The end of a timed run: stop writing, let every replica reach the log's
# end and compute its digest there, and compare them.
if [ "$simulate" = 1 ]; then
  stop sim
  min_position=1
fi
echo "== waiting for the replicas to agree"
agreed=0
for t in $(seq 30); do
  if status --final >/dev/null; then agreed=1; break; fi
  sleep 0.5
done
finished=1
if [ "$agreed" = 1 ]; then
  status --final
else
  status --final-report || true
  exit 1
fi
