#!/usr/bin/env python3
"""The Python module against GeoPandas and the engine itself, in one run.

On N points spread over Jiangmen's leaves (a random leaf each, then a
uniform point in its bounding box):
  - gridtree.locate on numpy arrays (all threads, and one thread);
  - GeoPandas sjoin(points, leaves, predicate="within");
  - the CLI, `gridtree locate --points FILE.bin --out`, on the same points;
  - BM_EngineLocate/uniform_inside (the engine, one thread, Google Benchmark);
  - points per town: locate_frame + groupby, against sjoin + groupby.
Every point must agree with sjoin, except points on a leaf's edge (sjoin's
"within" excludes the boundary; docs/boundaries.md gives them to one leaf):
those are counted and checked to lie on an edge. Prints a Markdown table.

usage: PYTHONPATH=build/release/python python3 bench/python_bench.py
           [--points 1000000] [--build build/release] [--dataset IMAGE]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

import gridtree


def best_of(runs, f):
    """The fastest of `runs` timings of f (seconds), and its last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - start)
    return best, result


def progress(message):
    print(f"[python_bench] {message}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--dataset", help="an engine image (default: generate Jiangmen into a temporary folder)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edge-points", type=int, default=1000,
                        help="of the points, how many sit exactly on a leaf's vertex (a shared edge)")
    args = parser.parse_args()
    cli = os.path.join(args.build, "rpc", "gridtree")
    bench = os.path.join(args.build, "bench", "gridtree_bench")
    work = tempfile.TemporaryDirectory(prefix="gridtree-python-bench-")

    image = args.dataset
    if not image:
        progress("generating Jiangmen")
        geojson, image = os.path.join(work.name, "jiangmen.geojson"), os.path.join(work.name, "jiangmen.gtimg")
        subprocess.run([cli, "generate", "--out", geojson], check=True, capture_output=True)
        subprocess.run([cli, "snapshot", geojson, "--out", image], check=True, capture_output=True)

    engine = gridtree.open(image)
    single = gridtree.open(image, threads=1)
    leaves = engine.level("leaf")[["id", "geometry"]]
    bounds = leaves.bounds.to_numpy()
    rng = np.random.default_rng(args.seed)
    pick = rng.integers(0, len(bounds), args.points)
    lon = rng.uniform(bounds[pick, 0], bounds[pick, 2])
    lat = rng.uniform(bounds[pick, 1], bounds[pick, 3])
    # Some points exactly on leaf vertices: where leaves meet, sjoin's
    # "within" finds none and the boundary rule gives the point to one.
    for i in rng.choice(args.points, size=min(args.edge_points, args.points), replace=False):
        ring = list(leaves.geometry.iloc[pick[i]].geoms[0].exterior.coords)
        lon[i], lat[i] = ring[rng.integers(0, len(ring) - 1)]
    n = args.points

    progress(f"gridtree.locate, {n:,} points")
    t_module, found = best_of(3, lambda: engine.locate(lon, lat))
    t_module_1, found_1 = best_of(3, lambda: single.locate(lon, lat))
    assert np.array_equal(found, found_1)

    # The engine benchmarks' own distribution (uniform over the city's box,
    # kept where inside a leaf), for a like-for-like time per point.
    west, south, east, north = engine.node(engine.top("city", engine.metrics[0], k=1)["id"][0])["bounds"]
    bx, by = rng.uniform(west, east, 3 * n), rng.uniform(south, north, 3 * n)
    keep = np.flatnonzero(engine.locate(bx, by) >= 0)[:n]
    inside_lon, inside_lat = np.ascontiguousarray(bx[keep]), np.ascontiguousarray(by[keep])
    t_inside_1, _ = best_of(3, lambda: single.locate(inside_lon, inside_lat))
    ns_inside_1 = t_inside_1 / len(keep) * 1e9

    progress("the CLI on the same points")
    points_bin, leaves_bin = os.path.join(work.name, "points.bin"), os.path.join(work.name, "leaves.bin")
    np.column_stack([lon, lat]).astype(np.float64).tofile(points_bin)
    start = time.perf_counter()
    run = subprocess.run([cli, "locate", image, "--points", points_bin, "--out", leaves_bin],
                         check=True, capture_output=True, text=True)
    t_cli_wall = time.perf_counter() - start
    cli_leaves = np.fromfile(leaves_bin, dtype=np.int32)
    assert np.array_equal(cli_leaves, found), "the CLI and the module disagree"
    cli_summary = (run.stderr + run.stdout).strip().splitlines()[-1]

    progress("BM_EngineLocate (Google Benchmark, one thread)")
    bm = subprocess.run([bench, "--benchmark_filter=^BM_EngineLocate(Columns)?/uniform_inside$",
                         "--benchmark_format=json",
                         "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                        check=True, capture_output=True, text=True, env={**os.environ, "GRIDTREE_DATASET": image})
    rows = json.loads(bm.stdout)["benchmarks"]

    def ns_per_point(name):
        rates = [r["items_per_second"] for r in rows
                 if r["run_name"].startswith(name + "/") and r.get("aggregate_name") == "median"]
        return 1e9 / rates[0]

    ns_engine = ns_per_point("BM_EngineLocate")
    ns_engine_columns = ns_per_point("BM_EngineLocateColumns")

    progress(f"GeoPandas sjoin, {n:,} points (about a minute)")
    start = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    t_points = time.perf_counter() - start
    start = time.perf_counter()
    joined = gpd.sjoin(points, leaves, predicate="within", how="left")
    t_sjoin = time.perf_counter() - start

    # Agreement, point by point: sjoin's leaf (first match) against ours.
    joined = joined[~joined.index.duplicated(keep="first")]
    theirs = joined["index_right"].to_numpy()
    theirs = np.where(np.isnan(theirs.astype(float)), -1, theirs).astype(np.int64)
    differ = np.flatnonzero(theirs != found)
    on_edge = 0
    for i in differ:
        # Only a point on the border of the leaf gridtree chose, which
        # sjoin's "within" leaves out, may differ.
        p = Point(lon[i], lat[i])
        if theirs[i] < 0 and found[i] >= 0 and leaves.geometry.iloc[found[i]].boundary.distance(p) == 0:
            on_edge += 1
        else:
            raise SystemExit(f"point {i} ({lon[i]!r}, {lat[i]!r}): gridtree says leaf {found[i]}, sjoin {theirs[i]}")

    progress("points per town: locate_frame + groupby, sjoin + groupby")
    frame = pd.DataFrame({"lon": lon, "lat": lat})
    t_frame, per_town = best_of(1, lambda: engine.locate_frame(frame, levels=["town"]).groupby(
        "town", observed=True).size())
    leaf_town = pd.Series(engine.ids(np.arange(len(leaves), dtype=np.int32), level="town"))
    t_sjoin_town_group, per_town_sjoin = best_of(1, lambda: joined.assign(
        town=leaf_town.reindex(joined["index_right"].fillna(-1).astype(int)).to_numpy()).groupby("town").size())
    t_sjoin_town = t_points + t_sjoin + t_sjoin_town_group
    town_diff = int((per_town - per_town_sjoin.reindex(per_town.index).fillna(0)).abs().sum())

    ns_module_1 = t_module_1 / n * 1e9
    print(f"\n{n:,} points over Jiangmen's {len(leaves):,} leaves; {engine.info()['threads']} threads; "
          f"{int((found >= 0).sum()):,} in a leaf\n")
    print("| what | time | per point | vs sjoin |")
    print("|---|---|---|---|")
    print(f"| gridtree.locate (numpy, all threads) | {t_module * 1e3:.1f} ms | {t_module / n * 1e9:.1f} ns | "
          f"{t_sjoin / t_module:,.0f}× |")
    print(f"| gridtree.locate (numpy, one thread) | {t_module_1 * 1e3:.1f} ms | {ns_module_1:.1f} ns | "
          f"{t_sjoin / t_module_1:,.0f}× |")
    print(f"| gridtree.locate (numpy, one thread), uniform inside the city | {t_inside_1 * 1e3:.1f} ms | "
          f"{ns_inside_1:.1f} ns | |")
    print(f"| BM_EngineLocate/uniform_inside (engine, View::Locate per point, one thread) | | {ns_engine:.1f} ns | |")
    print(f"| BM_EngineLocateColumns/uniform_inside (engine, columns, one thread) | | {ns_engine_columns:.1f} ns | |")
    print(f"| CLI `locate --points .bin --out` (wall, with open and file I/O) | {t_cli_wall * 1e3:.0f} ms | "
          f"{t_cli_wall / n * 1e9:.0f} ns | {t_sjoin / t_cli_wall:,.0f}× |")
    print(f"| GeoPandas sjoin within (rtree) | {t_sjoin:.2f} s | {t_sjoin / n * 1e9:,.0f} ns | 1× |")
    print(f"| GeoPandas points_from_xy (before sjoin) | {t_points:.2f} s | | |")
    print(f"| points per town: locate_frame + groupby | {t_frame * 1e3:.0f} ms | | "
          f"{t_sjoin_town / t_frame:,.0f}× |")
    print(f"| points per town: points_from_xy + sjoin + groupby | {t_sjoin_town:.2f} s | | 1× |")
    print(f"\nmodule per point, one thread, uniform inside the city (the benchmarks' distribution): "
          f"/ BM_EngineLocate {ns_inside_1 / ns_engine:.2f} (target <= 1.2), "
          f"/ BM_EngineLocateColumns (the same engine call) {ns_inside_1 / ns_engine_columns:.2f}")
    print(f"agreement with sjoin: {n - len(differ):,} equal; {on_edge} differ, each on the border of the leaf "
          f"gridtree gave it to (sjoin's within finds no leaf; docs/boundaries.md); 0 others. "
          f"Per-town counts differ by {town_diff} points.")
    print(f"CLI: {cli_summary}")


if __name__ == "__main__":
    main()
