"""Where units are on a map: centroids shipped with the `vietnamadminunits` package.

The package's `data/dataset.db` (SQLite) gives a latitude and longitude for every
province, district and commune of the 63-province structure (`admin_units_legacy`)
and for every province and commune of the 34-province one (`admin_units`). They are
read once, on the first request that needs them (about 13,000 rows, a few tens of
milliseconds), and kept in memory: they are static data of the installed package, the
same in every replica and after every restart. A village has its commune's point; `vn`
has none.

The package is MIT-licensed (Copyright (c) 2025 Tran Ngoc Minh Hieu).
"""

from __future__ import annotations

import asyncio
import sqlite3
from importlib.util import find_spec
from pathlib import Path

from shared.units import NATION_ID, UnitIndex

Point = tuple[float, float]
SOURCE = "vietnamadminunits (dataset.db), MIT licence"

_LEGACY = """
    SELECT DISTINCT provinceCode, provinceLat, provinceLon, districtCode, districtLat,
           districtLon, wardCode, wardLat, wardLon
    FROM admin_units_legacy
"""
_CURRENT = """
    SELECT DISTINCT provinceCode, provinceLat, provinceLon, wardCode, wardLat, wardLon
    FROM admin_units
"""


def dataset_path() -> Path | None:
    spec = find_spec("vietnamadminunits")  # without running the package's __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "dataset.db"


def _put(points: dict[str, Point], unit_id: str, lat: object, lon: object) -> None:
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        points.setdefault(unit_id, (float(lat), float(lon)))


def read_centroids(path: Path) -> dict[str, Point]:
    points: dict[str, Point] = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        for row in connection.execute(_LEGACY):
            province, p_lat, p_lon, district, d_lat, d_lon, ward, w_lat, w_lon = row
            _put(points, f"vn63:{province}", p_lat, p_lon)
            if district:
                _put(points, f"vn63:{district}", d_lat, d_lon)
            if ward:
                _put(points, f"vn63:{ward}", w_lat, w_lon)
        for row in connection.execute(_CURRENT):
            province, p_lat, p_lon, ward, w_lat, w_lon = row
            _put(points, f"vn34:{province}", p_lat, p_lon)
            if ward:
                _put(points, f"vn34:{ward}", w_lat, w_lon)
    return points


class Centroids:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path or dataset_path()
        self._points: dict[str, Point] | None = None
        self._lock = asyncio.Lock()

    async def points(self) -> dict[str, Point]:
        async with self._lock:
            if self._points is None:
                path = self._path
                self._points = await asyncio.to_thread(read_centroids, path) if path else {}
        return self._points

    async def of(self, unit_ids: list[str], units: UnitIndex) -> dict[str, Point | None]:
        """Each unit's point (a village: its commune's); `None` when there is none."""
        points = await self.points()
        found: dict[str, Point | None] = {}
        for unit_id in unit_ids:
            node = units.get(unit_id)
            if node is not None and node.level == "village" and node.parent_id is not None:
                unit_id_on_map = node.parent_id
            else:
                unit_id_on_map = unit_id
            found[unit_id] = None if unit_id == NATION_ID else points.get(unit_id_on_map)
        return found
