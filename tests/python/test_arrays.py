"""Bad arrays are refused by name; NaN follows the nan= argument; a long
locate lets other Python threads run."""

import threading
import time

import numpy as np
import pytest

import gridtree


def test_wrong_dtype_is_refused_by_name_unless_copy(engine):
    lon = np.array([113.08], dtype=np.float32)
    with pytest.raises(gridtree.BadInput, match=r"lon: dtype float32, expected float64"):
        engine.locate(lon, np.array([22.58]))
    assert engine.locate(lon, np.array([22.58]), copy=True)[0] >= 0
    with pytest.raises(gridtree.BadInput, match=r"lat: cannot be read as float64"):
        engine.locate([113.08], ["north"])


def test_lengths_shapes_and_gaps(engine):
    with pytest.raises(gridtree.BadInput, match=r"lon and lat differ in length \(2 and 1\)"):
        engine.locate(np.array([113.0, 113.1]), np.array([22.5]))
    with pytest.raises(gridtree.BadInput, match=r"lon: expected a one-dimensional array"):
        engine.locate(np.zeros((2, 2)), np.zeros((2, 2)))
    strided = np.array([113.08, 0.0, 113.08, 0.0])[::2]
    with pytest.raises(gridtree.BadInput, match=r"lon: the array is not contiguous"):
        engine.locate(strided, np.array([22.58, 22.58]))
    assert list(engine.locate(strided, np.array([22.58, 22.58]), copy=True)) == [engine.locate([113.08], [22.58])[0]] * 2


def test_nan_is_an_error_naming_the_row_or_a_miss(engine):
    lon = np.array([113.08, np.nan, 113.08])
    lat = np.array([22.58, 22.58, np.inf])
    with pytest.raises(gridtree.BadInput, match=r"1"):
        engine.locate(lon, lat)
    leaves = engine.locate(lon, lat, nan="miss")
    assert leaves[0] >= 0 and leaves[1] == -1 and leaves[2] == -1
    with pytest.raises(gridtree.BadInput, match="nan"):
        engine.locate(lon, lat, nan="zero")


def test_errors_carry_the_engines_message(engine, tmp_path):
    with pytest.raises(gridtree.NotFound, match="nope"):
        engine.node("nope")
    with pytest.raises(gridtree.BadInput, match="unknown level"):
        engine.ids(np.array([0], dtype=np.int32), level="village")
    with pytest.raises(gridtree.BadInput, match="not a leaf number"):
        engine.ids(np.array([10 ** 8], dtype=np.int32))
    with pytest.raises(gridtree.NotFound, match="metric"):
        engine.top("town", "rainfall")
    with pytest.raises(gridtree.BadInput, match="region"):
        engine.aggregate(42)
    assert issubclass(gridtree.BadInput, gridtree.Error) and issubclass(gridtree.NotFound, gridtree.Error)
    missing = tmp_path / "missing.geojson"
    with pytest.raises(gridtree.Error, match="missing.geojson"):
        gridtree.open(str(missing))
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","id":"x","properties":{},"geometry":null}]}')
    with pytest.raises(gridtree.Error, match="bad.geojson"):
        gridtree.open(str(bad))


def test_locate_releases_the_gil(engine):
    rng = np.random.default_rng(3)
    lon = rng.uniform(112.0, 113.3, 4_000_000)
    lat = rng.uniform(21.5, 22.9, 4_000_000)
    ticks = []
    done = threading.Event()

    def count():
        # Pure Python: it runs only while no other thread holds the GIL.
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    engine.locate(lon, lat)
    end = time.perf_counter()
    done.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # A locate holding the GIL would leave no tick inside it; allow for a
    # loaded machine by asking for a few per 100 ms of locate.
    assert len(during) >= max(2, int((end - start) / 0.1)), (len(during), end - start)
