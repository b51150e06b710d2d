"""gridtree: the grid hierarchy query engine, from Python.

    import gridtree
    e = gridtree.open("jiangmen.gtimg")
    leaves = e.locate(lon, lat)             # numpy in, int32 leaf numbers out
    e.ids(leaves, level="grid")             # the grid of each point
    e.locate_frame(df)                      # one column per level
    e.top("community", "population", k=10, density=True)
    e.aggregate(gridtree.circle(113.08, 22.58, 2000), group_by="town")
    e.level("town")                         # a GeoDataFrame (EPSG:4326)

    c = gridtree.connect("127.0.0.1:7433")  # the same reads on a running server
    for event in c.events(kinds=["boat"], timeout=5): ...

Errors are gridtree.Error, or its subclasses BadInput, NotFound,
Overloaded and Disconnected, with the engine's or the server's message.
docs/python.md has the whole interface.
"""

from typing import Optional

import numpy as np

from . import _core
from ._core import BadInput, Disconnected, Error, NotFound, Overloaded
from ._frames import LEVELS, Reader
from ._regions import Circle, circle

__all__ = ["open", "connect", "circle", "Circle", "Engine", "Client", "LEVELS",
           "Error", "BadInput", "NotFound", "Overloaded", "Disconnected"]

# The exceptions are defined by the compiled core; give them this package's name.
for _cls in (Error, BadInput, NotFound, Overloaded, Disconnected):
    _cls.__module__ = "gridtree"


class Engine(Reader):
    """An engine embedded in this process, on one dataset. Safe to use from
    several threads; long calls release the GIL."""

    def __init__(self, path: str, threads: int = 0, data_dir: Optional[str] = None):
        self._core = _core.Engine(str(path), int(threads), data_dir)

    def level(self, name: str):
        """The nodes of one level (or "leaf") as a GeoDataFrame in EPSG:4326:
        id (the index), name, parent, kind, area_km2, one column per metric,
        and the outline. An inner node whose dataset gives no outline of its
        own gets the union of its leaves."""
        import geopandas as gpd
        import pandas as pd
        from shapely import wkb

        table = self._core.level_table(name, True)
        outlines = table.pop("wkb")
        geometry = [wkb.loads(b) if b is not None else None for b in outlines]
        frame = pd.DataFrame(table)
        if any(g is None for g in geometry):
            geometry = self._dissolve_missing(name, frame, geometry)
        return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")

    def _dissolve_missing(self, name, frame, geometry):
        from shapely import wkb
        from shapely.ops import unary_union

        leaves = self._core.level_table("leaf", True)
        leaf_count = len(leaves["id"])
        above = self._core.level_nodes(np.arange(leaf_count, dtype=np.int32), name)
        ids = self._core.labels(above, "id")
        parts = {}
        for leaf_wkb, owner in zip(leaves["wkb"], ids):
            if owner is not None:
                parts.setdefault(owner, []).append(wkb.loads(leaf_wkb))
        return [g if g is not None else unary_union(parts.get(i, [])) for g, i in zip(geometry, frame["id"])]


class Client(Reader):
    """A connection to a running `gridtree serve` (its RPC address), with the
    reads and writes of Engine. It belongs to the thread that opened it."""

    def __init__(self, address: str, token: Optional[str] = None):
        self._core = _core.Client(str(address), token or "")

    def level(self, name: str):
        """The nodes of one level (or "leaf") as a pandas DataFrame: id, name,
        parent and one column per metric. Outlines are not served over RPC:
        for a GeoDataFrame open the dataset with gridtree.open."""
        import pandas as pd

        return pd.DataFrame(self._core.level_table(name, False))


def open(path: str, threads: int = 0, data_dir: Optional[str] = None) -> Engine:
    """Opens an engine image (.gtimg, mapped) or a GeoJSON dataset (read and
    validated). threads=0: one per hardware thread. With data_dir, updates
    go to a write-ahead log there and survive a restart."""
    return Engine(path, threads, data_dir)


def connect(address: str, token: Optional[str] = None) -> Client:
    """Connects to a server: "HOST:PORT", "HOST" (port 7433), "unix:/path",
    or several comma-separated replicas of a cluster. token: the server's
    writer token, for update() and track()."""
    return Client(address, token)
