"""The read and write methods Engine and Client share: each turns the
core's plain answer (numpy arrays, dicts, column dicts) into numpy, pandas
or GeoPandas values. pandas and GeoPandas are imported on first use, so
that locate() works with numpy alone."""

import collections
from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _core
from ._regions import region_spec

LEVELS = ("city", "county", "town", "community", "grid", "micro_grid")


def as_column(values: Any, name: str, dtype: Any, copy: bool) -> np.ndarray:
    """A one-dimensional contiguous array of dtype, or BadInput naming the
    argument. Lists and tuples are converted; an ndarray of another dtype or
    with gaps between its values is converted only with copy=True."""
    if not isinstance(values, np.ndarray):
        try:
            values = np.asarray(values, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise _core.BadInput(f"{name}: cannot be read as {np.dtype(dtype).name}: {e}") from None
    if values.ndim != 1:
        raise _core.BadInput(f"{name}: expected a one-dimensional array, got shape {values.shape}")
    if values.dtype != dtype:
        if not copy:
            raise _core.BadInput(
                f"{name}: dtype {values.dtype}, expected {np.dtype(dtype).name} (pass copy=True to convert)"
            )
        values = values.astype(dtype)
    if not values.flags.c_contiguous:
        if not copy:
            raise _core.BadInput(f"{name}: the array is not contiguous (pass copy=True to allow a copy)")
        values = np.ascontiguousarray(values)
    return values


def _frame(columns: Dict[str, list]):
    import pandas as pd

    return pd.DataFrame(columns)


class Reader:
    """Methods of both Engine and Client. self._core is a _core.Engine or a
    _core.Client."""

    _core: Any

    def info(self) -> Dict[str, Any]:
        """The dataset and the state: source, nodes, leaves, nodes per level,
        metric names, versions."""
        return self._core.info()

    @property
    def metrics(self) -> list:
        """Metric names, in the order every answer uses."""
        return self._core.metrics()

    def locate(self, lon: Any, lat: Any, *, nan: str = "error", copy: bool = False) -> np.ndarray:
        """Leaf numbers (int32) of the points lon[i], lat[i]; -1 where a
        point is in no leaf. float64 arrays are read in place, with the GIL
        released, on all the engine's threads.

        nan="error" (the default) refuses a NaN or infinite coordinate,
        naming its row; nan="miss" answers -1 for it."""
        x = as_column(lon, "lon", np.float64, copy)
        y = as_column(lat, "lat", np.float64, copy)
        if len(x) != len(y):
            raise _core.BadInput(f"lon and lat differ in length ({len(x)} and {len(y)})")
        if nan == "miss":
            finite = np.isfinite(x) & np.isfinite(y)
            if not finite.all():
                out = np.full(len(x), -1, dtype=np.int32)
                out[finite] = self._core.locate(np.ascontiguousarray(x[finite]), np.ascontiguousarray(y[finite]))
                return out
        elif nan != "error":
            raise _core.BadInput(f'nan: "error" or "miss", not "{nan}"')
        return self._core.locate(x, y)

    def _labels(self, leaves: Any, level: str, what: str) -> np.ndarray:
        leaves = as_column(leaves, "leaves", np.int32, copy=True)
        nodes = self._core.level_nodes(leaves, level)
        # One label per distinct node, then spread: a million leaves cost a
        # few thousand strings, not a million.
        unique, inverse = np.unique(nodes, return_inverse=True)
        labels = np.empty(len(unique), dtype=object)
        labels[:] = self._core.labels(unique.astype(np.int32), what)
        return labels[inverse]

    def ids(self, leaves: Any, level: str = "grid") -> np.ndarray:
        """The id of the node of `level` above each leaf (an object array;
        None for a miss or a leaf with no node of that level). level is a
        level name or "leaf" for the leaf itself."""
        return self._labels(leaves, level, "id")

    def names(self, leaves: Any, level: str = "grid") -> np.ndarray:
        """As ids(), with the nodes' names."""
        return self._labels(leaves, level, "name")

    def locate_frame(self, df: Any, lon: str = "lon", lat: str = "lat", *, levels: Optional[Sequence[str]] = None,
                     nan: str = "error"):
        """A copy of the DataFrame with a column "leaf" (the leaf number)
        and one column of node ids per level (city ... micro_grid, or the
        levels given), as pandas categoricals."""
        import pandas as pd

        leaves = self.locate(df[lon].to_numpy(), df[lat].to_numpy(), nan=nan, copy=True)
        out = df.copy()
        out["leaf"] = leaves
        for level in levels or LEVELS:
            nodes = self._core.level_nodes(leaves, level)
            unique, inverse = np.unique(nodes, return_inverse=True)
            labels = self._core.labels(unique.astype(np.int32), "id")
            codes = inverse.astype(np.int32)
            # A miss (node -1, always first when present) has code -1.
            if len(unique) and unique[0] < 0:
                codes = codes - 1
                labels = labels[1:]
            out[level] = pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))
        return out

    def node(self, id: str) -> Dict[str, Any]:
        """One node: id, name, level, kind, parent, children (count), leaf
        (number, -1 for an inner node), area_km2, bounds and metrics (a dict
        by metric name)."""
        return self._core.node(id)

    def children(self, id: str):
        """A DataFrame of the node's children: id, name, level, area_km2 and
        one column per metric."""
        return _frame(self._core.children(id))

    def top(self, level: str, metric: str, k: int = 10, density: bool = False, within: Optional[str] = None):
        """The k nodes of `level` with the highest metric (per km² with
        density=True, in a column "density"), best first; within: only in
        that node's subtree."""
        return _frame(self._core.top(level, metric, int(k), bool(density), within or ""))

    def aggregate(self, region: Any, mode: str = "intersecting", group_by: Optional[str] = None):
        """Metric sums over a region: a Shapely geometry, a GeoJSON mapping,
        a bbox tuple (west, south, east, north) or gridtree.circle(lon, lat,
        metres). mode: "intersecting" (leaves touching the region count
        whole), "contained" or "area_weighted" (shares by area, floats).

        Without group_by: one row (leaves: how many contributed). With
        group_by="town" (any level): one row per node of that level."""
        kind, spec = region_spec(region)
        columns = self._core.aggregate(kind, spec, mode, group_by)
        # Grouped rows are nodes; the total is one row counting leaves.
        for name in ("leaves",) if group_by else ("id", "name", "level"):
            columns.pop(name)
        return _frame(columns)

    def objects(self, node: Optional[str] = None, box: Optional[Sequence[float]] = None, kind: str = "",
                limit: int = 100000):
        """Tracked objects in a node's subtree or a box (or all), of one kind
        or all: a DataFrame of id, kind, lon, lat, time and leaf (None
        outside every leaf)."""
        return _frame(self._core.objects(node, list(box) if box is not None else None, kind, int(limit)))

    def events(self, nodes: Sequence[str] = (), levels: Sequence[str] = (), kinds: Sequence[str] = (),
               timeout: Optional[float] = None) -> "EventStream":
        """Subscribes now to enter/exit events (empty filters mean any) and
        returns an iterator of them as dicts (type, id, kind, node, level,
        expired, time, lon, lat). With a timeout (seconds) the iteration
        ends after that long without an event; without one it runs until
        closed or interrupted. Use it in a with block, or close() it."""
        return EventStream(self._core.events(list(nodes), list(levels), list(kinds)), timeout)

    # ---- writes ----

    def update(self, updates: Any = None, *, leaf: Any = None, metric: Any = None, value: Any = None,
               op: Any = "set") -> int:
        """Applies one batch of metric updates atomically; returns the new
        version. Give a DataFrame (or a list of dicts) with columns leaf,
        metric, value and optionally op ("set" or "add"), or the columns as
        keyword arguments. A bad row refuses the whole batch."""
        if updates is not None:
            import pandas as pd

            frame = pd.DataFrame(updates)
            leaf, metric, value = frame["leaf"], frame["metric"], frame["value"]
            op = frame["op"] if "op" in frame else "set"
        leaf = [str(v) for v in np.atleast_1d(np.asarray(leaf, dtype=object))]
        metric = _spread(metric, len(leaf), "metric")
        op = _spread(op, len(leaf), "op")
        value = np.atleast_1d(np.asarray(value))
        if value.dtype.kind not in "iu":
            raise _core.BadInput(f"value: expected integers, got dtype {value.dtype}")
        return self._core.update(leaf, metric, op, [int(v) for v in value])

    def track(self, df: Any) -> Dict[str, int]:
        """Position reports: a DataFrame (or mapping of columns) with id,
        kind, lon, lat and optionally time (unix seconds; 0 or absent: now).
        Returns counts: reports, outside (in no leaf), moved."""
        ids = [str(v) for v in np.asarray(df["id"], dtype=object)]
        kinds = _spread(df["kind"], len(ids), "kind")
        lon = as_column(np.asarray(df["lon"]), "lon", np.float64, copy=True)
        lat = as_column(np.asarray(df["lat"]), "lat", np.float64, copy=True)
        time = df["time"] if "time" in df else np.zeros(len(ids), dtype=np.int64)
        time = as_column(np.asarray(time), "time", np.int64, copy=True)
        return self._core.track(ids, kinds, lon, lat, time)


def _spread(values: Any, n: int, name: str) -> list:
    """One string per row: a scalar repeats."""
    if isinstance(values, str):
        return [values] * n
    out = [str(v) for v in np.atleast_1d(np.asarray(values, dtype=object))]
    if len(out) != n:
        raise _core.BadInput(f"{name}: {len(out)} values for {n} rows")
    return out


class EventStream:
    """Enter/exit events of one subscription, in the order they happened."""

    def __init__(self, subscription: Any, timeout: Optional[float]):
        self._subscription = subscription
        self._timeout = timeout
        self._buffer: collections.deque = collections.deque()
        self._closed = False

    def take(self, max: int = 1024, timeout: Optional[float] = None) -> list:
        """Up to max events, waiting at most timeout seconds (None: without
        end) for the first; [] when none came."""
        if self._buffer:
            return [self._buffer.popleft() for _ in range(min(max, len(self._buffer)))]
        if self._closed:
            return []
        return self._subscription.take(int(max), -1.0 if timeout is None else float(timeout))

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Dict[str, Any]:
        if not self._buffer:
            batch = [] if self._closed else self._subscription.take(1024, -1.0 if self._timeout is None
                                                                     else float(self._timeout))
            if not batch:
                self.close()
                raise StopIteration
            self._buffer.extend(batch)
        return self._buffer.popleft()

    @property
    def dropped(self) -> int:
        """Events dropped because more than a million waited unread."""
        return self._subscription.dropped

    def close(self) -> None:
        """Ends the subscription (also when the stream is garbage)."""
        if not self._closed:
            self._closed = True
            self._subscription.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
