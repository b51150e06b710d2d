"""Regions for aggregate(): what the caller gives, as the core takes it."""

import json
from dataclasses import dataclass
from typing import Any, Tuple


@dataclass(frozen=True)
class Circle:
    """A circle of `metres` around (lon, lat), on the ellipsoid."""

    lon: float
    lat: float
    metres: float


def circle(lon: float, lat: float, metres: float) -> Circle:
    """A circular region for aggregate()."""
    return Circle(float(lon), float(lat), float(metres))


def region_spec(region: Any) -> Tuple[str, Any]:
    """(kind, spec) for the core: ("box", [w, s, e, n]), ("circle",
    [lon, lat, metres]) or ("geojson", text).

    Accepts a Circle, a bbox tuple (west, south, east, north), a GeoJSON
    mapping (a Polygon or MultiPolygon geometry, or a Feature of one), a
    GeoJSON text, or anything with __geo_interface__ (Shapely geometries,
    GeoPandas rows)."""
    if isinstance(region, Circle):
        return "circle", [region.lon, region.lat, region.metres]
    if isinstance(region, str):
        return "geojson", region
    if hasattr(region, "__geo_interface__"):
        region = region.__geo_interface__
    if isinstance(region, dict):
        return "geojson", json.dumps(region)
    if isinstance(region, (tuple, list)) and len(region) == 4:
        return "box", [float(v) for v in region]
    from ._core import BadInput

    raise BadInput(
        "region: expected a Shapely geometry, a GeoJSON mapping or text, a bbox tuple "
        f"(west, south, east, north) or gridtree.circle(lon, lat, metres); got {type(region).__name__}"
    )
