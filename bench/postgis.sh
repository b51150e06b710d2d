#!/usr/bin/env bash
# The same dataset in PostgreSQL + PostGIS, for comparison (bench/RESULTS.md).
# Starts a throw-away cluster in a temporary folder, loads the leaf polygons,
# runs point lookups and 2 km circle aggregates there and the same queries
# through gridtree, checks that the answers agree and prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Usage: bench/postgis.sh [OPTIONS] [DATASET]

Loads the leaves of DATASET (default data/generated/jiangmen.geojson, generated
when missing) into a temporary PostgreSQL + PostGIS cluster, then times, on
both PostGIS and gridtree:
  - locating N fixed-seed points of the city's bounding box: one set-based
    query (points JOIN leaves ON ST_Covers) vs `gridtree locate --points`;
  - one point per request: pgbench (prepared statement, TCP loopback) vs
    `gridtree serve`'s HTTP /locate on one keep-alive connection;
  - circle aggregates (intersecting and area-weighted population) around C
    centres: set-based queries and pgbench vs HTTP /region?circle=... and
    `gridtree aggregate --circle`;
and checks that the answers agree. Needs the Debian packages postgresql and
postgresql-15-postgis-3 (scripts/install-deps.sh --postgis installs them).

Options:
  --points N         points to locate (default 100000)
  --centres N        circle centres (default 200)
  --radius M         circle radius in metres (default 2000)
  --http-points N    points sent one by one over HTTP (default 2000)
  --seconds S        duration of each pgbench run (default 10)
  --repeat R         runs of each set-based measurement; the best is kept (default 3)
  --seed S           seed of the points (default 1)
  --tile-zoom Z      zoom of the 64 vector tiles compared (default 14)
  --tile-centre L,L  centre of those tiles (default 113.0819,22.5787)
  -h, --help         this text
Environment: GRIDTREE_BIN (default build/release/rpc/gridtree), TMPDIR.
EOF
}

dataset=data/generated/jiangmen.geojson
n_points=100000
n_centres=200
radius=2000
http_points=2000
seconds=10
repeat=3
seed=1
tile_zoom=14
tile_centre=113.0819,22.5787
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --points) n_points=$2; shift 2 ;;
    --centres) n_centres=$2; shift 2 ;;
    --radius) radius=$2; shift 2 ;;
    --http-points) http_points=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --tile-zoom) tile_zoom=$2; shift 2 ;;
    --tile-centre) tile_centre=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) dataset=$1; shift ;;
  esac
done

bin=${GRIDTREE_BIN:-build/release/rpc/gridtree}
[ -x "$bin" ] || { echo "no gridtree binary at $bin (scripts/build.sh release, or set GRIDTREE_BIN)" >&2; exit 1; }

# --- prerequisites --------------------------------------------------------
pg_bin=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  v=$(basename "$(dirname "$d")")
  if [ -x "$d/initdb" ] && [ -f "/usr/share/postgresql/$v/extension/postgis.control" ]; then
    pg_bin=$d
    break
  fi
done
if [ -z "$pg_bin" ]; then
  cat >&2 <<'EOF'
PostgreSQL with PostGIS not found. On Debian 12:
  scripts/install-deps.sh --postgis
or: apt-get install postgresql postgresql-15-postgis-3
EOF
  exit 1
fi
for c in psql pgbench curl od awk; do
  command -v "$c" >/dev/null || { echo "needs $c" >&2; exit 1; }
done

if [ ! -s "$dataset" ]; then
  [ "$dataset" = data/generated/jiangmen.geojson ] || { echo "no dataset at $dataset" >&2; exit 1; }
  echo "== generating $dataset"
  mkdir -p "$(dirname "$dataset")"
  "$bin" generate --out "$dataset" >/dev/null
fi

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
# A port below the ephemeral range (where outgoing connections take theirs)
# that nothing answers on.
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2
  return 1
}
progress() { echo "== [$(date -u +%H:%M:%S)] $*" >&2; }

# --- a throw-away cluster -------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gridtree-postgis.XXXXXX")
run_pg=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: the server runs as an unprivileged user.
  pg_user=postgres
  id "$pg_user" >/dev/null 2>&1 || pg_user=nobody
  chown "$pg_user" "$tmp"
  run_pg=(runuser -u "$pg_user" -- env -C "$tmp")
  "${run_pg[@]}" test -w "$tmp" \
    || { echo "$pg_user cannot write $tmp: set TMPDIR to a folder it can reach" >&2; rm -rf "$tmp"; exit 1; }
fi
pgdata=$tmp/data
server_pid=
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -f "$pgdata/postmaster.pid" ]; then
    "${run_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port=$(free_port)
progress "initdb in $tmp, PostgreSQL $(basename "$(dirname "$pg_bin")") on 127.0.0.1:$pg_port; load average $(cut -d" " -f1-3 /proc/loadavg)"
"${run_pg[@]}" "$pg_bin/initdb" -D "$pgdata" -U gridtree --auth=trust -E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }
# fsync and WAL safety are off: the cluster is thrown away at exit. JIT is
# off: it costs about 0.5 s per query here and a spatial join gains nothing.
"${run_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $tmp -c fsync=off -c synchronous_commit=off \
      -c full_page_writes=off -c shared_buffers=256MB -c work_mem=64MB -c maintenance_work_mem=256MB \
      -c max_wal_size=4GB -c jit=off" start >/dev/null \
  || { cat "$pgdata/server.log" >&2; exit 1; }
export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=gridtree PGDATABASE=postgres PGOPTIONS='-c client_min_messages=warning'
psql=(psql -X -q -v ON_ERROR_STOP=1)
sql() { "${psql[@]}" -At "$@"; }
# Runs statements with \timing on; prints the last statement's time in ms
# (client side: planning, execution and the round trip).
sql_ms() {
  local args=(-c '\timing on')
  local s
  for s in "$@"; do args+=(-c "$s"); done
  "${psql[@]}" "${args[@]}" | awk '/^Time: /{t=$2} END{print t}'
}
best() { sort -g | head -1; }

sql -c "CREATE EXTENSION postgis" >/dev/null
pg_version=$(sql -c "SELECT split_part(version(), ' ', 2) || ', PostGIS ' || postgis_lib_version() || ', GEOS ' || postgis_geos_version()")

# --- load the leaves ------------------------------------------------------
metric_names=$("$bin" info "$dataset" --json | sed -E 's/.*"metrics":\[([^]]*)\].*/\1/' | tr -d '"')
pop_index=$(echo "$metric_names" | tr ',' '\n' | awk '$0=="population"{print NR; exit}')
[ -n "$pop_index" ] || { echo "the dataset has no population metric" >&2; exit 1; }
n_leaves=$("$bin" info "$dataset" --json | sed -E 's/.*"leaves":([0-9]+).*/\1/')

progress "loading $n_leaves leaves of $dataset into PostGIS"
t0=$(now_ns)
# `gridtree export --level leaf` writes one feature per line, leaves in leaf
# number order (the numbers of `gridtree locate --out`).
"$bin" export "$dataset" --level leaf | grep '^{"type":"Feature"' | sed 's/,$//' >"$tmp/leaves.jsonl"
export_ms=$(ms_since "$t0")
t1=$(now_ns)
# CSV with quote and delimiter bytes that never occur in JSON: each line is one value.
"${psql[@]}" <<EOF
CREATE UNLOGGED TABLE raw (leaf serial, j jsonb);
\copy raw (j) FROM '$tmp/leaves.jsonl' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')
CREATE TABLE leaves AS
SELECT leaf - 1 AS leaf,
       j->>'id' AS id,
       j->'properties'->>'level' AS level,
       coalesce((j->'properties'->'metrics'->>'population')::bigint, 0) AS population,
       coalesce((j->'properties'->'metrics'->>'households')::bigint, 0) AS households,
       j->'properties'->'metrics' AS metrics,
       ST_SetSRID(ST_GeomFromGeoJSON(j->'geometry'), 4326) AS geom
FROM raw ORDER BY leaf;
DROP TABLE raw;
EOF
copy_ms=$(ms_since "$t1")
# A local transverse Mercator centred on the data, for areas in m².
read -r lon0 lat0 xmin ymin xmax ymax < <(sql -F ' ' -c "
  SELECT round(((ST_XMin(e) + ST_XMax(e)) / 2)::numeric, 2), round(((ST_YMin(e) + ST_YMax(e)) / 2)::numeric, 2),
         ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
  FROM (SELECT ST_Extent(geom) AS e FROM leaves) s")
t2=$(now_ns)
"${psql[@]}" <<EOF
INSERT INTO spatial_ref_sys (srid, proj4text)
VALUES (990001, '+proj=tmerc +lat_0=$lat0 +lon_0=$lon0 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs');
ALTER TABLE leaves ADD PRIMARY KEY (leaf);
ALTER TABLE leaves ADD COLUMN geog geography, ADD COLUMN geom_local geometry, ADD COLUMN area_local float8;
UPDATE leaves SET geog = geom::geography, geom_local = ST_Transform(geom, 990001);
UPDATE leaves SET geom_local = ST_CollectionExtract(ST_MakeValid(geom_local), 3) WHERE NOT ST_IsValid(geom_local);
UPDATE leaves SET area_local = ST_Area(geom_local);
CREATE INDEX leaves_geom ON leaves USING gist (geom);
CREATE INDEX leaves_geog ON leaves USING gist (geog);
CREATE INDEX leaves_geom_local ON leaves USING gist (geom_local);
VACUUM ANALYZE leaves;
EOF
index_ms=$(ms_since "$t2")
load_ms=$(ms_since "$t0")
pg_rows=$(sql -c "SELECT count(*) FROM leaves")
pg_invalid=$(sql -c "SELECT count(*) FROM leaves WHERE NOT ST_IsValid(geom)")
[ "$pg_rows" -eq "$n_leaves" ] || { echo "loaded $pg_rows leaves, the dataset has $n_leaves" >&2; exit 1; }
progress "loaded $pg_rows leaves in $load_ms ms (export $export_ms, copy + geometry $copy_ms, columns + indexes $index_ms); $pg_invalid not valid for GEOS (repaired for the area column)"

# gridtree's own opening of the dataset, for the same row of the table.
open_ms=()
for _ in $(seq "$repeat"); do
  t=$(now_ns); "$bin" info "$dataset" >/dev/null; open_ms+=("$(ms_since "$t")")
done
gt_open_ms=$(printf '%s\n' "${open_ms[@]}" | best)

# --- the points -----------------------------------------------------------
progress "generating $n_points points (seed $seed) in the box $xmin,$ymin,$xmax,$ymax"
points_csv=$tmp/points.csv
# float8 output is the shortest exact form: both sides read the same doubles.
"${psql[@]}" -c "SELECT setseed(mod($seed, 1000000) / 1000000.0)" \
  -c "\\copy (SELECT $xmin + random() * ($xmax - $xmin), $ymin + random() * ($ymax - $ymin) FROM generate_series(1, $n_points)) TO '$points_csv' WITH (FORMAT csv)" >/dev/null
"${psql[@]}" <<EOF
CREATE TABLE points (id serial PRIMARY KEY, lon float8, lat float8, geom geometry(Point, 4326));
\copy points (lon, lat) FROM '$points_csv' WITH (FORMAT csv)
UPDATE points SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326);
VACUUM ANALYZE points;
EOF

progress "PostGIS: locating $n_points points, one set-based query, best of $repeat"
pg_locate=()
for _ in $(seq "$repeat"); do
  pg_locate+=("$(sql_ms "DROP TABLE IF EXISTS pg_hits" \
    "CREATE UNLOGGED TABLE pg_hits AS
       SELECT p.id, array_agg(l.leaf ORDER BY l.leaf) AS leaves
       FROM points p JOIN leaves l ON ST_Covers(l.geom, p.geom) GROUP BY p.id")")
  echo "   ${pg_locate[-1]} ms" >&2
done
pg_locate_ms=$(printf '%s\n' "${pg_locate[@]}" | best)
pg_found=$(sql -c "SELECT count(*) FROM pg_hits")
pg_multi=$(sql -c "SELECT count(*) FROM pg_hits WHERE cardinality(leaves) > 1")
plan_workers() { # SELECT -> parallel workers the planner chose
  sql -c "EXPLAIN (COSTS off) $1" | sed -nE 's/.*Workers Planned: ([0-9]+).*/\1/p' | head -1 | grep . || echo 0
}
pg_locate_workers=$(plan_workers "SELECT p.id, array_agg(l.leaf ORDER BY l.leaf) FROM points p JOIN leaves l ON ST_Covers(l.geom, p.geom) GROUP BY p.id")

progress "gridtree: locate --points, best of $repeat"
gt_locate_runs=()
gt_locate_wall=()
for _ in $(seq "$repeat"); do
  t=$(now_ns)
  "$bin" locate "$dataset" --points "$points_csv" --out "$tmp/gt.bin" 2>"$tmp/gt_locate.log"
  gt_locate_wall+=("$(ms_since "$t")")
  # "N points in X s: R M lookups/s (T threads), K in a leaf"
  summary=$(grep -E 'points in .* lookups/s' "$tmp/gt_locate.log" | tail -1)
  echo "   $summary; command ${gt_locate_wall[-1]} ms" >&2
  # milliseconds from the rate (the seconds are printed to 1 ms only)
  gt_locate_runs+=("$(echo "$summary" | awk -v n="$n_points" '{for(i=1;i<=NF;i++) if($(i+1)=="M") {print n / ($i * 1e6) * 1000; exit}}')")
done
gt_locate_ms=$(printf '%s\n' "${gt_locate_runs[@]}" | best)
gt_locate_wall_ms=$(printf '%s\n' "${gt_locate_wall[@]}" | best)
gt_threads=$(echo "$summary" | sed -E 's/.*\(([0-9]+) threads?\).*/\1/')
gt_locate1=()
for _ in $(seq "$repeat"); do
  "$bin" locate "$dataset" --points "$points_csv" --threads 1 --out "$tmp/gt1.bin" 2>"$tmp/gt_locate1.log"
  summary1=$(grep -E 'points in .* lookups/s' "$tmp/gt_locate1.log" | tail -1)
  echo "   --threads 1: $summary1" >&2
  gt_locate1+=("$(echo "$summary1" | awk -v n="$n_points" '{for(i=1;i<=NF;i++) if($(i+1)=="M") {print n / ($i * 1e6) * 1000; exit}}')")
done
gt_locate1_ms=$(printf '%s\n' "${gt_locate1[@]}" | best)
cmp -s "$tmp/gt.bin" "$tmp/gt1.bin" || { echo "locate --threads 1 answers differ from the default" >&2; exit 1; }
gt_found=$(echo "$summary" | sed -E 's/.*, ([0-9]+) in a leaf.*/\1/')

# Agreement: every point, by leaf number; a sample by leaf id from --json.
od -A n -t d4 -v -w4 "$tmp/gt.bin" | tr -d ' ' >"$tmp/gt_leaves.txt"
sample=1000
[ "$sample" -le "$n_points" ] || sample=$n_points
head -n "$sample" "$points_csv" >"$tmp/sample.csv"
"$bin" locate "$dataset" --points "$tmp/sample.csv" --json 2>/dev/null \
  | sed -E 's/^\{"lon":[^,]*,"lat":[^,]*,"leaf":(null|"([^"]*)").*/\2/' >"$tmp/gt_sample_ids.txt"
"${psql[@]}" <<EOF
CREATE TABLE gt_hits (id serial PRIMARY KEY, leaf int);
\copy gt_hits (leaf) FROM '$tmp/gt_leaves.txt'
CREATE TABLE gt_sample (id serial PRIMARY KEY, leaf_id text);
\copy gt_sample (leaf_id) FROM '$tmp/gt_sample_ids.txt' WITH (FORMAT csv)
EOF
read -r both_found only_pg only_gt differ < <(sql -F ' ' -c "
  SELECT count(*) FILTER (WHERE g.leaf >= 0 AND h.id IS NOT NULL),
         count(*) FILTER (WHERE g.leaf < 0 AND h.id IS NOT NULL),
         count(*) FILTER (WHERE g.leaf >= 0 AND h.id IS NULL),
         count(*) FILTER (WHERE g.leaf >= 0 AND h.id IS NOT NULL AND NOT g.leaf = ANY (h.leaves))
  FROM gt_hits g LEFT JOIN pg_hits h USING (id)")
read -r sample_same sample_n < <(sql -F ' ' -c "
  SELECT count(*) FILTER (WHERE coalesce(s.leaf_id, '') = coalesce(l.id, '')), count(*)
  FROM gt_sample s LEFT JOIN pg_hits h USING (id) LEFT JOIN leaves l ON l.leaf = h.leaves[1]")

# --- gridtree server for one query per request ----------------------------
# A port can be taken between the check and the bind: up to 3 tries.
for attempt in 1 2 3; do
  rpc_port=$(free_port)
  http_port=$(free_port)
  progress "gridtree serve on 127.0.0.1:$rpc_port, HTTP 127.0.0.1:$http_port"
  "$bin" serve "$dataset" --listen "127.0.0.1:$rpc_port" --http "127.0.0.1:$http_port" --threads 2 2>"$tmp/serve.log" &
  server_pid=$!
  up=
  for _ in $(seq 240); do
    if curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.25
  done
  [ -z "$up" ] || break
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  cat "$tmp/serve.log" >&2
  [ "$attempt" -lt 3 ] || { echo "gridtree serve did not start" >&2; exit 1; }
done
base=http://127.0.0.1:$http_port
# One curl process, one keep-alive connection, requests one after another.
curl_many() { # CONFIG OUT -> ms
  local t
  t=$(now_ns)
  curl -s --fail -K "$1" -w '\n' >"$2"
  ms_since "$t"
}
[ "$http_points" -le "$n_points" ] || http_points=$n_points
head -n "$http_points" "$points_csv" | awk -F, -v b="$base" '{printf "url = \"%s/locate?lon=%s&lat=%s\"\n", b, $1, $2}' >"$tmp/locate.curl"
curl -s "$base/locate?lon=$lon0&lat=$lat0" >/dev/null
progress "gridtree: $http_points points over HTTP, one request each"
gt_http_locate=()
for _ in $(seq "$repeat"); do gt_http_locate+=("$(curl_many "$tmp/locate.curl" "$tmp/http_locate.out")"); done
gt_http_locate_ms=$(printf '%s\n' "${gt_http_locate[@]}" | best)
http_found=$(grep -c '"found":true' "$tmp/http_locate.out" || true)
head -n "$http_points" "$points_csv" | awk -v b="$base" '{printf "url = \"%s/healthz\"\n", b}' >"$tmp/healthz.curl"
gt_http_floor=()
for _ in $(seq "$repeat"); do gt_http_floor+=("$(curl_many "$tmp/healthz.curl" /dev/null)"); done
gt_http_floor_ms=$(printf '%s\n' "${gt_http_floor[@]}" | best)

# Cap'n Proto, gridtree's own protocol: the load generator with one connection
# and one call in flight, uniform points (and circle centres) over the bounds.
rpc_load=${GRIDTREE_RPC_LOAD:-$(dirname "$(dirname "$bin")")/bench/gridtree_rpc_load}
gt_rpc_locate_us=; gt_rpc_circle_us=
if [ -x "$rpc_load" ]; then
  rpc_mean_us() { # KIND -> mean latency in µs (one call in flight: 1e6 / calls per second)
    "$rpc_load" --connect "127.0.0.1:$rpc_port" --connections 1 --depth 1 --duration "$seconds" \
      --mix "$1=1" --radius "$radius" --seed "$seed" >"$tmp/rpc_load.out" 2>&1 || { cat "$tmp/rpc_load.out" >&2; exit 1; }
    sed 's/^/   /' "$tmp/rpc_load.out" >&2
    awk -v k="$1" '$1==k{printf "%.1f", 1e6 / $3}' "$tmp/rpc_load.out"
  }
  progress "gridtree: Cap'n Proto, one point per call, ${seconds} s"
  gt_rpc_locate_us=$(rpc_mean_us locate)
else
  echo "   ($rpc_load not built: no Cap'n Proto latency rows)" >&2
fi
pg_found_http=$(sql -c "SELECT count(*) FROM pg_hits WHERE id <= $http_points")

progress "PostGIS: pgbench, one point per transaction, ${seconds} s"
cat >"$tmp/locate.sql" <<EOF
\set k random(1, $n_points)
SELECT l.leaf FROM points p JOIN leaves l ON ST_Covers(l.geom, p.geom) WHERE p.id = :k;
EOF
pgbench_run() { # FILE -> "latency_ms tps" (mean latency, transactions per second)
  pgbench -n -M prepared -c 1 -j 1 -T "$seconds" -P 5 --random-seed="$seed" -f "$1" postgres >"$tmp/pgbench.out" 2>"$tmp/pgbench.err" \
    || { cat "$tmp/pgbench.out" "$tmp/pgbench.err" >&2; exit 1; }
  grep -E '^progress' "$tmp/pgbench.err" | sed 's/^/   /' >&2 || true
  awk '/^latency average/{l=$4} /^tps/{t=$3} END{print l, t}' "$tmp/pgbench.out"
}
read -r pg_point_lat_ms _ < <(pgbench_run "$tmp/locate.sql")

# --- circles --------------------------------------------------------------
# Centres: the first points (by number) that fall inside a leaf.
"${psql[@]}" <<EOF
\copy (SELECT p.lon, p.lat FROM points p JOIN pg_hits USING (id) ORDER BY id LIMIT $n_centres) TO '$tmp/centres.csv' WITH (FORMAT csv)
CREATE TABLE centres (id serial PRIMARY KEY, lon float8, lat float8, geog geography, disk geometry);
\copy centres (lon, lat) FROM '$tmp/centres.csv' WITH (FORMAT csv)
UPDATE centres SET geog = ST_MakePoint(lon, lat)::geography,
  disk = ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 990001), $radius, 'quad_segs=64');
VACUUM ANALYZE centres;
EOF
n_centres=$(sql -c "SELECT count(*) FROM centres")

progress "PostGIS: $n_centres circles of $radius m, intersecting (geography, spheroid), best of $repeat"
pg_circle=()
for _ in $(seq "$repeat"); do
  pg_circle+=("$(sql_ms "DROP TABLE IF EXISTS pg_circ" \
    "CREATE UNLOGGED TABLE pg_circ AS
       SELECT c.id, count(l.leaf) AS leaves, coalesce(sum(l.population), 0) AS population
       FROM centres c LEFT JOIN leaves l ON ST_DWithin(l.geog, c.geog, $radius)
       GROUP BY c.id")")
  echo "   ${pg_circle[-1]} ms" >&2
done
pg_circle_ms=$(printf '%s\n' "${pg_circle[@]}" | best)
pg_circle_workers=$(plan_workers "SELECT c.id, count(l.leaf) FROM centres c LEFT JOIN leaves l ON ST_DWithin(l.geog, c.geog, $radius) GROUP BY c.id")

progress "PostGIS: $n_centres circles, area-weighted (local transverse Mercator, 256-gon disk), best of $repeat"
pg_aw=()
for _ in $(seq "$repeat"); do
  pg_aw+=("$(sql_ms "DROP TABLE IF EXISTS pg_circ_aw" \
    "CREATE UNLOGGED TABLE pg_circ_aw AS
       SELECT c.id, coalesce(sum(l.population * CASE WHEN ST_CoveredBy(l.geom_local, c.disk) THEN 1
                         ELSE ST_Area(ST_Intersection(l.geom_local, c.disk)) / l.area_local END), 0) AS population
       FROM centres c LEFT JOIN leaves l ON ST_Intersects(l.geom_local, c.disk)
       GROUP BY c.id")")
  echo "   ${pg_aw[-1]} ms" >&2
done
pg_aw_ms=$(printf '%s\n' "${pg_aw[@]}" | best)
pg_aw_workers=$(plan_workers "SELECT c.id, sum(ST_Area(ST_Intersection(l.geom_local, c.disk))) FROM centres c LEFT JOIN leaves l ON ST_Intersects(l.geom_local, c.disk) GROUP BY c.id")

progress "PostGIS: pgbench, one circle (intersecting) per transaction, ${seconds} s"
cat >"$tmp/circle.sql" <<EOF
\set k random(1, $n_centres)
SELECT count(*), sum(l.population) FROM centres c JOIN leaves l ON ST_DWithin(l.geog, c.geog, $radius) WHERE c.id = :k;
EOF
read -r pg_circle_lat_ms _ < <(pgbench_run "$tmp/circle.sql")
progress "PostGIS: pgbench, one circle (intersecting) per transaction, centre uniform over the box, ${seconds} s"
cat >"$tmp/circle_box.sql" <<EOF
\set lon $xmin + random(0, 1000000000) * ($xmax - $xmin) / 1000000000.0
\set lat $ymin + random(0, 1000000000) * ($ymax - $ymin) / 1000000000.0
SELECT count(*), sum(population) FROM leaves WHERE ST_DWithin(geog, ST_MakePoint(:lon, :lat)::geography, $radius);
EOF
read -r pg_circle_box_lat_ms _ < <(pgbench_run "$tmp/circle_box.sql")
if [ -x "$rpc_load" ]; then
  progress "gridtree: Cap'n Proto, one circle per call, centre uniform over the bounds, ${seconds} s"
  gt_rpc_circle_us=$(rpc_mean_us circle)
fi

progress "gridtree: $n_centres circles over HTTP, one request each, both modes"
awk -F, -v b="$base" -v r="$radius" '{printf "url = \"%s/region?circle=%s,%s,%s&mode=intersecting\"\n", b, $1, $2, r}' "$tmp/centres.csv" >"$tmp/circle.curl"
awk -F, -v b="$base" -v r="$radius" '{printf "url = \"%s/region?circle=%s,%s,%s&mode=area_weighted\"\n", b, $1, $2, r}' "$tmp/centres.csv" >"$tmp/circle_aw.curl"
c1=$(head -n 1 "$tmp/centres.csv")
curl -s "$base/region?circle=$c1,$radius&mode=intersecting" >/dev/null
curl -s "$base/region?circle=$c1,$radius&mode=area_weighted" >/dev/null
gt_http_circle=(); gt_http_aw=()
for _ in $(seq "$repeat"); do
  gt_http_circle+=("$(curl_many "$tmp/circle.curl" "$tmp/http_circle.out")")
  gt_http_aw+=("$(curl_many "$tmp/circle_aw.curl" "$tmp/http_circle_aw.out")")
done
gt_http_circle_ms=$(printf '%s\n' "${gt_http_circle[@]}" | best)
gt_http_aw_ms=$(printf '%s\n' "${gt_http_aw[@]}" | best)
# {"leaves":N,"metrics":{...,"population":P,...},"rows":[],...} (docs/json.md) -> leaves,population
extract() {
  grep '"metrics"' "$1" | sed -E 's/^\{"leaves":([0-9]+),"metrics":\{[^}]*"population":([-0-9.eE+]+).*/\1,\2/'
}
extract "$tmp/http_circle.out" >"$tmp/gt_circ.csv"
extract "$tmp/http_circle_aw.out" >"$tmp/gt_circ_aw.csv"

# The command line: a new process per circle, which opens the dataset each time.
cli_n=5
[ "$cli_n" -le "$n_centres" ] || cli_n=$n_centres
progress "gridtree: aggregate --circle on the command line, $cli_n centres"
t=$(now_ns)
head -n "$cli_n" "$tmp/centres.csv" | while IFS=, read -r lon lat; do
  "$bin" aggregate "$dataset" --circle "$lon,$lat,$radius" --json </dev/null
  echo
done >"$tmp/cli_circle.out"
extract "$tmp/cli_circle.out" >"$tmp/gt_cli.csv"  # the same document as HTTP's
gt_cli_ms=0
[ "$cli_n" -gt 0 ] && gt_cli_ms=$(( $(ms_since "$t") / cli_n ))

"${psql[@]}" <<EOF
CREATE TABLE gt_circ (id serial PRIMARY KEY, leaves bigint, population bigint);
\copy gt_circ (leaves, population) FROM '$tmp/gt_circ.csv' WITH (FORMAT csv)
CREATE TABLE gt_circ_aw (id serial PRIMARY KEY, leaves bigint, population float8);
\copy gt_circ_aw (leaves, population) FROM '$tmp/gt_circ_aw.csv' WITH (FORMAT csv)
CREATE TABLE gt_cli (id serial PRIMARY KEY, leaves bigint, population bigint);
\copy gt_cli (leaves, population) FROM '$tmp/gt_cli.csv' WITH (FORMAT csv)
EOF
read -r circ_same circ_n circ_leaf_diff pg_pop_sum gt_pop_sum < <(sql -F ' ' -c "
  SELECT count(*) FILTER (WHERE g.leaves = p.leaves AND g.population = p.population), count(*),
         sum(abs(g.leaves - p.leaves)), sum(p.population), sum(g.population)
  FROM pg_circ p JOIN gt_circ g USING (id)")
read -r cli_same cli_n2 < <(sql -F ' ' -c "
  SELECT count(*) FILTER (WHERE g.leaves = p.leaves AND g.population = p.population), count(*)
  FROM gt_cli g JOIN pg_circ p USING (id)")
read -r aw_pg_sum aw_gt_sum aw_total_rel aw_max_rel < <(sql -F ' ' -c "
  SELECT round(sum(p.population)::numeric, 1), round(sum(g.population)::numeric, 1),
         abs(sum(g.population) - sum(p.population)) / nullif(sum(p.population), 0),
         coalesce(max(abs(g.population - p.population) / nullif(p.population, 0)), 0)
  FROM pg_circ_aw p JOIN gt_circ_aw g USING (id)")
aw_total_rel=$(printf '%.1e' "$aw_total_rel")
aw_max_rel=$(printf '%.1e' "$aw_max_rel")

# --- vector tiles ---------------------------------------------------------
# The 8 x 8 tiles at zoom $tile_zoom around a point (default: Jiangmen's city
# hall): PostGIS builds each with ST_AsMVT of the leaves alone (id, level,
# population; ST_AsMVTGeom with gridtree's extent 4096 and buffer 64),
# gridtree serves /tiles/Z/X/Y.mvt with every layer of the zoom and every
# metric, area and density. One connection each, tiles in turn.
read -r tile_cx tile_cy < <(awk -v lon="${tile_centre%,*}" -v lat="${tile_centre#*,}" -v z="$tile_zoom" 'BEGIN{
  n = 2 ^ z; r = lat * 3.141592653589793 / 180;
  printf "%d %d\n", (lon + 180) / 360 * n, (1 - log(sin(r) / cos(r) + 1 / cos(r)) / 3.141592653589793) / 2 * n}')
: >"$tmp/tiles.sql"; : >"$tmp/tiles.curl"; : >"$tmp/tiles.list"
for dy in 0 1 2 3 4 5 6 7; do
  for dx in 0 1 2 3 4 5 6 7; do
    tx=$((tile_cx - 4 + dx)); ty=$((tile_cy - 4 + dy))
    echo "$tile_zoom $tx $ty" >>"$tmp/tiles.list"
    echo "SELECT length(ST_AsMVT(t, 'leaf', 4096, 'g')), count(*) FILTER (WHERE level = 'micro_grid'), coalesce(string_agg(id, ',' ORDER BY id) FILTER (WHERE level = 'micro_grid'), '-') FROM (SELECT id, level, population, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($tile_zoom, $tx, $ty), 4096, 64, true) AS g FROM leaves WHERE geom && ST_Transform(ST_TileEnvelope($tile_zoom, $tx, $ty, margin => 64.0 / 4096), 4326)) t WHERE g IS NOT NULL;" >>"$tmp/tiles.sql"
    echo "url = \"$base/tiles/$tile_zoom/$tx/$ty.mvt\"" >>"$tmp/tiles.curl"
    echo "output = \"$tmp/tiles/$tile_zoom/$tx/$ty.mvt\"" >>"$tmp/tiles.curl"
  done
done
progress "PostGIS: ST_AsMVT of 64 tiles at zoom $tile_zoom around $tile_centre, best of $repeat"
pg_tiles=()
for _ in $(seq "$repeat"); do
  t=$(now_ns); sql -F ' ' -f "$tmp/tiles.sql" >"$tmp/pg_tiles.out"; pg_tiles+=("$(ms_since "$t")")
done
pg_tiles_ms=$(printf '%s\n' "${pg_tiles[@]}" | best)
pg_tile_micro=$(awk '{s += $2} END {print s + 0}' "$tmp/pg_tiles.out")
# One request per tile, each side: pgbench (prepared, one connection) picks
# one of the 64 tiles per transaction; curl fetches the 64 tiles 5 times over
# one keep-alive connection (320 requests: curl's own start-up is spread).
{
  echo '\set dx random(0, 7)'
  echo '\set dy random(0, 7)'
  echo "SELECT length(ST_AsMVT(t, 'leaf', 4096, 'g')) FROM (SELECT id, level, population, ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($tile_zoom, $((tile_cx - 4)) + :dx, $((tile_cy - 4)) + :dy), 4096, 64, true) AS g FROM leaves WHERE geom && ST_Transform(ST_TileEnvelope($tile_zoom, $((tile_cx - 4)) + :dx, $((tile_cy - 4)) + :dy, margin => 64.0 / 4096), 4326)) t WHERE g IS NOT NULL;"
} >"$tmp/tile.sql"
progress "PostGIS: pgbench, one tile per transaction, ${seconds} s"
read -r pg_tile_lat_ms _ < <(pgbench_run "$tmp/tile.sql")
progress "gridtree: the same 64 tiles over HTTP, 5 rounds per run, best of $repeat"
mkdir -p "$tmp/tiles"
while read -r z x y; do mkdir -p "$tmp/tiles/$z/$x"; done <"$tmp/tiles.list"
for _ in 1 2 3 4 5; do cat "$tmp/tiles.curl"; done >"$tmp/tiles5.curl"
gt_tiles=()
for _ in $(seq "$repeat"); do gt_tiles+=("$(curl_many "$tmp/tiles5.curl" /dev/null)"); done
gt_tiles_ms=$(awk -v m="$(printf '%s\n' "${gt_tiles[@]}" | best)" 'BEGIN{print m / 5}')
# The micro-grid ids of each tile on both sides (gridtree's read back by
# GDAL, with CLIP=NO: GDAL otherwise drops what lies only in the buffer),
# tile by tile; the ids in one and not the other are listed.
gt_tile_micro=0; tiles_same=0; tile_diff=""
if command -v ogrinfo >/dev/null; then
  k=0
  while read -r z x y; do
    k=$((k + 1))
    gt_ids=$(ogrinfo -ro -al -q -oo CLIP=NO "$tmp/tiles/$z/$x/$y.mvt" micro_grid 2>/dev/null | sed -n 's/^  id (String) = //p' | sort | paste -sd, -)
    [ -n "$gt_ids" ] || gt_ids=-
    pg_ids=$(sed -n "${k}p" "$tmp/pg_tiles.out" | cut -d' ' -f3)
    [ "$gt_ids" = - ] || gt_tile_micro=$((gt_tile_micro + $(echo "$gt_ids" | tr ',' '\n' | wc -l)))
    if [ "$gt_ids" = "$pg_ids" ]; then
      tiles_same=$((tiles_same + 1))
    else
      only_gt=$(comm -23 <(echo "$gt_ids" | tr ',' '\n' | sort) <(echo "$pg_ids" | tr ',' '\n' | sort) | paste -sd' ' -)
      only_pg=$(comm -13 <(echo "$gt_ids" | tr ',' '\n' | sort) <(echo "$pg_ids" | tr ',' '\n' | sort) | paste -sd' ' -)
      tile_diff="$tile_diff $z/$x/$y: only gridtree [${only_gt}], only PostGIS [${only_pg}];"
    fi
  done <"$tmp/tiles.list"
fi

# --- report ---------------------------------------------------------------
fmt_rate() { awk -v n="$1" -v ms="$2" 'BEGIN{r = n / (ms / 1000); if (r >= 1e6) printf "%.2f M/s", r / 1e6; else if (r >= 1e3) printf "%.1f k/s", r / 1e3; else printf "%.1f /s", r}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{x = a / b; if (x >= 10) printf "%.0f×", x; else if (x >= 1) printf "%.1f×", x; else printf "%.2f×", x}'; }
ms() { awk -v m="$1" 'BEGIN{if (m >= 100) printf "%.0f ms", m; else if (m >= 1) printf "%.1f ms", m; else printf "%.3f ms", m}'; }
per() { awk -v ms="$1" -v n="$2" 'BEGIN{x = ms / n; if (x >= 1) printf "%.2f ms", x; else printf "%.0f µs", x * 1000}'; }

gt_http_locate_per=$(awk -v ms="$gt_http_locate_ms" -v n="$http_points" 'BEGIN{print ms / n}')
gt_http_circle_per=$(awk -v ms="$gt_http_circle_ms" -v n="$n_centres" 'BEGIN{print ms / n}')

echo
echo "PostgreSQL $pg_version; gridtree $bin ($gt_threads threads for locate --points)"
echo "parallel workers planned by PostgreSQL: locate join $pg_locate_workers, circles $pg_circle_workers, area-weighted $pg_aw_workers"
echo "dataset $dataset: $n_leaves leaves; $n_points points (seed $seed), $n_centres centres, radius $radius m"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| query | PostGIS | gridtree | gridtree ÷ PostGIS (speed) |"
echo "|---|---|---|---|"
echo "| load the leaves (PostGIS: export + COPY + geometry + 3 GiST indexes; gridtree: open the dataset) | $(awk -v m="$load_ms" 'BEGIN{printf "%.1f s", m / 1000}') | $(awk -v m="$gt_open_ms" 'BEGIN{printf "%.2f s", m / 1000}') | $(ratio "$load_ms" "$gt_open_ms") |"
echo "| locate $n_points points, one set-based query / \`locate --points\` | $(ms "$pg_locate_ms") ($(fmt_rate "$n_points" "$pg_locate_ms")) | $(ms "$gt_locate_ms") ($(fmt_rate "$n_points" "$gt_locate_ms")) | $(ratio "$pg_locate_ms" "$gt_locate_ms") |"
echo "| the same, gridtree with \`--threads 1\` | $(ms "$pg_locate_ms") | $(ms "$gt_locate1_ms") | $(ratio "$pg_locate_ms" "$gt_locate1_ms") |"
echo "| the same, gridtree's command wall time including opening the dataset (PostGIS: the same query) | $(ms "$pg_locate_ms") | $(ms "$gt_locate_wall_ms") | $(ratio "$pg_locate_ms" "$gt_locate_wall_ms") |"
if [ -n "$gt_rpc_locate_us" ]; then
  gt_rpc_locate_ms=$(awk -v u="$gt_rpc_locate_us" 'BEGIN{print u / 1000}')
  echo "| one point per request, mean latency: pgbench (prepared, TCP) / Cap'n Proto (gridtree_rpc_load, 1 connection, depth 1, its own uniform points) | $(ms "$pg_point_lat_ms") | $(per "$gt_rpc_locate_ms" 1) | $(ratio "$pg_point_lat_ms" "$gt_rpc_locate_ms") |"
fi
echo "| one point per request, mean latency: pgbench / HTTP+JSON (curl, one keep-alive connection, the first $http_points points; /healthz alone $(per "$gt_http_floor_ms" "$http_points")) | $(ms "$pg_point_lat_ms") | $(per "$gt_http_locate_ms" "$http_points") | $(ratio "$pg_point_lat_ms" "$gt_http_locate_per") |"
echo "| $n_centres circles, intersecting: one set-based query / $n_centres HTTP requests | $(ms "$pg_circle_ms") ($(per "$pg_circle_ms" "$n_centres") each) | $(ms "$gt_http_circle_ms") ($(per "$gt_http_circle_ms" "$n_centres") each) | $(ratio "$pg_circle_ms" "$gt_http_circle_ms") |"
echo "| one circle per request, intersecting, the $n_centres centres: pgbench / HTTP+JSON, mean latency | $(ms "$pg_circle_lat_ms") | $(per "$gt_http_circle_ms" "$n_centres") | $(ratio "$pg_circle_lat_ms" "$gt_http_circle_per") |"
if [ -n "$gt_rpc_circle_us" ]; then
  gt_rpc_circle_ms=$(awk -v u="$gt_rpc_circle_us" 'BEGIN{print u / 1000}')
  echo "| one circle per request, intersecting, centre uniform over the box: pgbench / Cap'n Proto, mean latency | $(ms "$pg_circle_box_lat_ms") | $(per "$gt_rpc_circle_ms" 1) | $(ratio "$pg_circle_box_lat_ms" "$gt_rpc_circle_ms") |"
fi
echo "| $n_centres circles, area-weighted: one set-based query / $n_centres HTTP requests | $(ms "$pg_aw_ms") ($(per "$pg_aw_ms" "$n_centres") each) | $(ms "$gt_http_aw_ms") ($(per "$gt_http_aw_ms" "$n_centres") each) | $(ratio "$pg_aw_ms" "$gt_http_aw_ms") |"
echo "| one circle, \`gridtree aggregate --circle\` (new process, opens the dataset) | — | $(ms "$gt_cli_ms") | — |"
echo "| 64 vector tiles at zoom $tile_zoom around $tile_centre, in turn: psql running ST_AsMVT of the leaves (3 fields) / curl fetching /tiles (every layer, every field), per tile | $(per "$pg_tiles_ms" 64) | $(per "$gt_tiles_ms" 64) | $(ratio "$pg_tiles_ms" "$gt_tiles_ms") |"
gt_tile_per=$(awk -v ms="$gt_tiles_ms" 'BEGIN{print ms / 64}')
echo "| one tile per request, mean latency: pgbench (prepared) / HTTP (curl, keep-alive) | $(ms "$pg_tile_lat_ms") | $(per "$gt_tiles_ms" 64) | $(ratio "$pg_tile_lat_ms" "$gt_tile_per") |"
echo
echo "Agreement:"
echo "- points in a leaf: PostGIS $pg_found, gridtree $gt_found of $n_points; found by both $both_found, only PostGIS $only_pg, only gridtree $only_gt;"
echo "  gridtree's leaf not among PostGIS's covering leaves: $differ; points covered by more than one leaf in PostGIS: $pg_multi"
echo "- leaf id of the first $sample_n points (locate --json vs PostGIS): $sample_same the same"
echo "- HTTP /locate: $http_found of the first $http_points points found (PostGIS: $pg_found_http)"
echo "- circles, intersecting: leaves and population equal for $circ_same of $circ_n centres (sum of |leaf count difference| $circ_leaf_diff);"
echo "  population summed over the centres: PostGIS $pg_pop_sum, gridtree $gt_pop_sum; \`gridtree aggregate\` CLI equal on $cli_same of $cli_n2"
echo "- circles, area-weighted population summed over the centres: PostGIS $aw_pg_sum, gridtree $aw_gt_sum (relative difference $aw_total_rel, largest per centre $aw_max_rel)"
echo "- leaves not valid for GEOS: $pg_invalid"
echo "- vector tiles: micro-grid features over the 64 tiles: PostGIS $pg_tile_micro, gridtree $gt_tile_micro (GDAL's ogrinfo; 0 when it is missing);"
echo "  the same micro-grid ids in $tiles_same of 64 tiles;${tile_diff:- no difference}"
