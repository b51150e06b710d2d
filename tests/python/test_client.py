"""gridtree.connect(): the same reads as the embedded engine, over the
project's own RPC client, against a `gridtree serve` child process."""

import threading

import numpy as np
import pandas as pd
import pytest

import gridtree


def test_client_reads_equal_the_engines(engine, server):
    c = gridtree.connect(server.address)
    assert c.metrics == engine.metrics
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(112.0, 113.3, 20000), rng.uniform(21.5, 22.9, 20000)
    leaves = c.locate(lon, lat)
    assert np.array_equal(leaves, engine.locate(lon, lat))
    for level in ("town", "grid", "leaf"):
        assert list(c.ids(leaves, level=level)) == list(engine.ids(leaves, level=level))
    frame = pd.DataFrame({"lon": lon[:500], "lat": lat[:500]})
    pd.testing.assert_frame_equal(c.locate_frame(frame), engine.locate_frame(frame))
    root = engine.top("city", "population", k=1)["id"][0]
    assert c.node(root) == engine.node(root)
    pd.testing.assert_frame_equal(c.children(root), engine.children(root))
    pd.testing.assert_frame_equal(c.top("community", "population", k=7, density=True),
                                  engine.top("community", "population", k=7, density=True))
    region = gridtree.circle(113.08, 22.58, 3000)
    pd.testing.assert_frame_equal(c.aggregate(region, group_by="grid"), engine.aggregate(region, group_by="grid"))
    town = engine.level("town")
    pd.testing.assert_frame_equal(c.level("town").reset_index(drop=True),
                                  pd.DataFrame(town[["id", "name", "parent"] + engine.metrics]))


def test_client_writes_and_events(server):
    c = gridtree.connect(server.address, token=server.token)
    leaf = c.ids(np.array([0], dtype=np.int32), level="leaf")[0]
    before = c.node(leaf)["metrics"]["population"]
    c.update(leaf=[leaf], metric="population", value=[7], op="add")
    assert c.node(leaf)["metrics"]["population"] == before + 7
    with pytest.raises(gridtree.NotFound):
        c.update(leaf=["no-such-leaf"], metric="population", value=[1])
    reader = gridtree.connect(server.address)
    with reader.events(kinds=["boat"], timeout=3) as events:
        c.track({"id": ["boat-1"], "kind": ["boat"], "lon": [113.08], "lat": [22.58]})
        got = list(events)
    assert got and {e["id"] for e in got} == {"boat-1"} and all(e["type"] == "enter" for e in got)
    assert {e["level"] for e in got} >= {"city", "county", "town"}
    objects = c.objects(kind="boat")
    assert list(objects["id"]) == ["boat-1"]
    with pytest.raises(gridtree.Error):
        gridtree.connect(server.address, token="wrong").update(leaf=[leaf], metric="population", value=[1])


def test_a_server_that_goes_away_during_a_call(server):
    c = gridtree.connect(server.address)
    rng = np.random.default_rng(6)
    lon, lat = rng.uniform(112.0, 113.3, 3_000_000), rng.uniform(21.5, 22.9, 3_000_000)
    killer = threading.Timer(0.2, server.stop)
    killer.start()
    # The kill lands during one of these calls (each takes about a second
    # here); the call it interrupts raises, with the server's address.
    with pytest.raises(gridtree.Disconnected, match=server.address):
        for _ in range(50):
            c.locate(lon, lat)
    killer.join()
    with pytest.raises(gridtree.Disconnected):
        c.node("4407")


def test_a_connection_belongs_to_its_thread(server):
    c = gridtree.connect(server.address)
    errors = []

    def other():
        try:
            c.info()
        except gridtree.Error as e:
            errors.append(str(e))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors and "belongs to the thread" in errors[0]
    assert c.info()["leaves"] > 0
