"""The embedded engine from Python, each answer checked against an oracle
that does not use the engine's index or rollups: Shapely on the outlines,
pandas sums of the leaves, and the CLI's JSON."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box
from shapely.strtree import STRtree

import gridtree


def random_points(engine, n, seed):
    """Uniform points over the city's bounding box (land and sea)."""
    west, south, east, north = engine.node(root_id(engine))["bounds"]
    rng = np.random.default_rng(seed)
    return rng.uniform(west, east, n), rng.uniform(south, north, n)


def root_id(engine):
    return engine.top("city", engine.metrics[0], k=1)["id"][0]


def test_locate_agrees_with_shapely_contains(engine, leaves):
    lon, lat = random_points(engine, 3000, seed=1)
    found = engine.locate(lon, lat)
    assert found.dtype == np.int32 and len(found) == len(lon)
    outlines = list(leaves.geometry)
    tree = STRtree(outlines)
    index_of = {id(g): i for i, g in enumerate(outlines)}
    hits = 0
    for x, y, leaf in zip(lon, lat, found):
        p = Point(x, y)
        containing = [index_of[id(g)] for g in tree.query(p) if g.contains(p)]
        # Random doubles land on a shared edge with probability ~0: exactly
        # one leaf or none contains each point.
        assert containing == ([] if leaf < 0 else [leaf]), (x, y, leaf, containing)
        hits += leaf >= 0
    assert hits > 500  # the sample is not all sea


def test_ids_and_names_follow_the_leaf_table(engine, leaves):
    sample = np.arange(0, len(leaves), 97, dtype=np.int32)
    assert list(engine.ids(sample, level="leaf")) == list(leaves["id"].iloc[sample])
    # A leaf's grid is itself (a grid without micro-grids) or its parent.
    grids = engine.ids(sample, level="grid")
    table = leaves.iloc[sample]
    levels = [engine.node(i)["level"] for i in table["id"]]
    expected = [i if lvl == "grid" else p for i, p, lvl in zip(table["id"], table["parent"], levels)]
    assert list(grids) == expected
    names = engine.names(sample, level="grid")
    assert list(names) == [engine.node(g)["name"] for g in grids]
    misses = engine.ids(np.array([-1, sample[0]], dtype=np.int32), level="town")
    assert misses[0] is None and misses[1] is not None


def test_locate_frame_matches_the_cli_json(engine, jiangmen, gridtree_bin, tmp_path):
    lon, lat = random_points(engine, 400, seed=2)
    points = tmp_path / "points.csv"
    points.write_text("".join(f"{x!r},{y!r}\n" for x, y in zip(lon, lat)))
    run = subprocess.run([gridtree_bin, "locate", str(jiangmen), "--points", str(points), "--json"],
                         check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(lon)
    frame = engine.locate_frame(pd.DataFrame({"lon": lon, "lat": lat, "tag": range(len(lon))}))
    assert list(frame["tag"]) == list(range(len(lon)))  # the caller's columns stay
    for row, cli in zip(frame.itertuples(), lines):
        chain = {node["level"]: node["id"] for node in cli["chain"]}
        for level in gridtree.LEVELS:
            value = getattr(row, level)
            assert (None if pd.isna(value) else value) == chain.get(level), (level, cli)
        if cli["leaf"] is None:
            assert row.leaf == -1
        else:
            assert engine.ids(np.array([row.leaf], dtype=np.int32), level="leaf")[0] == cli["leaf"]


def test_grouped_aggregate_equals_pandas_sums_of_the_leaves(engine, leaves):
    metrics = engine.metrics[:8]
    west, south, east, north = engine.node(root_id(engine))["bounds"]
    grouped = engine.aggregate((west - 1, south - 1, east + 1, north + 1), group_by="grid").set_index("id")
    leaf_numbers = np.arange(len(leaves), dtype=np.int32)
    table = pd.DataFrame(leaves.drop(columns="geometry"))
    table["grid"] = engine.ids(leaf_numbers, level="grid")
    expected = table.dropna(subset=["grid"]).groupby("grid")[metrics].sum()
    assert sorted(grouped.index) == sorted(expected.index)
    pd.testing.assert_frame_equal(grouped.loc[expected.index, metrics], expected, check_names=False,
                                  check_dtype=False)


def test_micro_grid_sums_equal_the_aggregates_of_their_grids(engine):
    micro = engine.level("micro_grid")
    metrics = engine.metrics[:8]
    sums = pd.DataFrame(micro.drop(columns="geometry")).groupby("parent")[metrics].sum()
    west, south, east, north = engine.node(root_id(engine))["bounds"]
    grids = engine.aggregate((west, south, east, north), group_by="grid").set_index("id")
    # Grids split into micro-grids: a grid is the sum of its micro-grids.
    pd.testing.assert_frame_equal(grids.loc[sums.index, metrics], sums, check_names=False, check_dtype=False)
    assert len(sums) > 1000


def test_aggregate_takes_shapely_geojson_boxes_and_circles(engine, leaves):
    town = engine.level("town").iloc[3]
    # The town's own outline, contained mode: exactly its leaves.
    by_shape = engine.aggregate(town.geometry, mode="contained")
    by_mapping = engine.aggregate(town.geometry.__geo_interface__, mode="contained")
    pd.testing.assert_frame_equal(by_shape, by_mapping)
    for metric in engine.metrics[:3]:
        assert by_shape[metric][0] == engine.node(town["id"])["metrics"][metric]
    # Intersecting: the town's leaves and the neighbours touching it, as GEOS says.
    touching = leaves[leaves.intersects(town.geometry)]
    for metric in engine.metrics[:3]:
        assert engine.aggregate(town.geometry)[metric][0] == touching[metric].sum()
    # A box and a circle, intersecting: every leaf that touches counts whole.
    b = (113.0, 22.5, 113.1, 22.6)
    expected = leaves[leaves.intersects(box(*b))][engine.metrics[0]].sum()
    assert engine.aggregate(b)[engine.metrics[0]][0] == expected
    c = engine.aggregate(gridtree.circle(113.08, 22.58, 1500))
    assert c["leaves"][0] > 0
    weighted = engine.aggregate(b, mode="area_weighted")
    assert 0 < weighted[engine.metrics[0]][0] <= expected


def test_top_children_and_node_against_the_level_table(engine):
    towns = engine.level("town")
    metric = "population"
    top = engine.top("town", metric, k=5)
    expected = towns.sort_values([metric, "id"], ascending=[False, True]).head(5)
    assert list(top["id"]) == list(expected["id"])
    dense = engine.top("town", metric, k=5, density=True)
    ratio = (towns[metric] / towns["area_km2"]).sort_values(ascending=False)
    assert list(dense["id"]) == list(towns.loc[ratio.index[:5], "id"])
    county = towns["parent"].iloc[0]
    kids = engine.children(county)
    assert set(kids["id"]) == set(towns[towns["parent"] == county]["id"])
    assert kids[metric].sum() == engine.node(county)["metrics"][metric]


def test_level_is_a_geodataframe_in_wgs84(engine):
    towns = engine.level("town")
    assert towns.crs.to_epsg() == 4326
    assert len(towns) == engine.info()["levels"]["town"]
    assert towns.geometry.notna().all() and towns.geometry.is_valid.all()
    # The outlines' areas (degrees², so only their ratios) follow area_km2.
    ratio = towns.geometry.area / towns["area_km2"]
    assert ratio.max() / ratio.min() < 1.2
    # A town is the union of its leaves: its outline covers theirs.
    leaves = engine.level("leaf")
    town = towns.iloc[0]
    numbers = np.arange(len(leaves), dtype=np.int32)
    mine = leaves[engine.ids(numbers, level="town") == town["id"]]
    assert len(mine) > 0
    assert abs(mine.geometry.unary_union.area - town.geometry.area) < 1e-6 * town.geometry.area + 1e-9


def test_writes_update_track_and_events(jiangmen, tmp_path):
    e = gridtree.open(str(jiangmen), threads=2, data_dir=str(tmp_path / "data"))
    leaf = e.ids(np.array([0], dtype=np.int32), level="leaf")[0]
    before = e.node(leaf)["metrics"]["population"]
    version = e.update(pd.DataFrame({"leaf": [leaf], "metric": ["population"], "value": [5], "op": ["add"]}))
    assert version == 1 and e.node(leaf)["metrics"]["population"] == before + 5
    with pytest.raises(gridtree.BadInput):
        e.update(leaf=[leaf], metric="population", value=[-(before + 6)], op="add")
    assert e.node(leaf)["metrics"]["population"] == before + 5  # the refused batch changed nothing

    events = e.events(kinds=["boat"], timeout=2)
    assert e.locate([113.08], [22.58])[0] >= 0
    result = e.track(pd.DataFrame({"id": ["b1", "b2"], "kind": ["boat", "boat"], "lon": [113.08, 0.5],
                                   "lat": [22.58, 0.5], "time": [0, 0]}))
    assert result["reports"] == 2 and result["outside"] == 1
    got = list(events)
    assert {(ev["type"], ev["id"]) for ev in got} == {("enter", "b1")}
    assert {ev["level"] for ev in got} >= {"city", "county", "town"}
    objects = e.objects(kind="boat")
    assert sorted(objects["id"]) == ["b1", "b2"]
    assert objects.set_index("id")["leaf"]["b2"] is None
