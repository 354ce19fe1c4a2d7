"""The national unit lists and the 2025 crosswalk, read from `vietnamadminunits`' data.

The package ships its data as `data/dataset.db` (SQLite: table `admin_units_legacy`
for the 63-province structure, `admin_units` for the 34-province one) and
`data/converter_2025.json` (old commune → new commune, by slug keys). Both are read
directly: importing the package costs about a second (it loads its address parser
and pulls in shapely), reading the two files about a quarter of that.

The package is MIT-licensed (Copyright (c) 2025 Tran Ngoc Minh Hieu).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

PACKAGE = "vietnamadminunits"
DATA_DIR_VARIABLE = "VNUNITS_DATA_DIR"

RawLevel = Literal["province", "district", "commune"]

# Type prefixes of unit names, longest first where one is a prefix of another.
UNIT_TYPES = ("Thành phố", "Tỉnh", "Thị xã", "Thị trấn", "Huyện", "Quận", "Phường", "Xã", "Đặc khu")


@dataclass(frozen=True)
class RawUnit:
    code: str
    name: str
    level: RawLevel
    parent_code: str | None


@dataclass(frozen=True)
class RawPair:
    """One old → new link of the package's converter, resolved to codes."""

    old_code: str  # 5-digit commune, or the 3-digit code of an island district
    new_code: str
    divided: bool  # the old commune is listed among the divided ones
    area_km2: float | None  # area of the NEW commune: the only size figure shipped


def data_dir() -> Path:
    """Where the package keeps its data; `$VNUNITS_DATA_DIR` overrides it."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured)
    spec = find_spec(PACKAGE)  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed and ${DATA_DIR_VARIABLE} is not set")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def clean_name(raw: str) -> str:
    """NFC, single spaces, and the official case of the type prefix.

    Ten names in the data carry a title-cased prefix ("Thành Phố Bắc Kạn",
    "Thị Trấn Ái Tử"); the official spelling is "Thành phố", "Thị trấn"."""
    name = unicodedata.normalize("NFC", " ".join(raw.split()))
    for prefix in UNIT_TYPES:
        head = name[: len(prefix) + 1]
        if head.lower() == prefix.lower() + " " and head != prefix + " ":
            return prefix + name[len(prefix) :]
    return name


class PackageData:
    """The rows the loader needs, read once from the package's files."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or data_dir()

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        # Read-only and immutable: no lock or journal files next to site-packages.
        uri = (self.directory / "dataset.db").resolve().as_uri() + "?mode=ro&immutable=1"
        connection = sqlite3.connect(uri, uri=True)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    @cached_property
    def legacy_rows(self) -> list[tuple[Any, ...]]:
        return self._query(
            "SELECT provinceCode, province, provinceKey, districtCode, district, districtKey,"
            " wardCode, ward, wardKey FROM admin_units_legacy"
        )

    @cached_property
    def new_rows(self) -> list[tuple[Any, ...]]:
        return self._query(
            "SELECT provinceCode, province, provinceKey, wardCode, ward, wardKey, wardAreaKm2"
            " FROM admin_units"
        )

    @cached_property
    def converter(self) -> dict[str, Any]:
        with (self.directory / "converter_2025.json").open(encoding="utf-8") as file:
            loaded: dict[str, Any] = json.load(file)
        return loaded

    def fingerprint(self) -> str:
        """Hash of the two data files: the reference changes only when they do."""
        digest = hashlib.sha256()
        for name in ("dataset.db", "converter_2025.json"):
            digest.update((self.directory / name).read_bytes())
        return digest.hexdigest()

    def vn63(self) -> list[RawUnit]:
        """63 provinces, 696 districts, 10,035 communes.

        Five island districts have no communes: their rows have a NULL ward and
        give the district only."""
        provinces: dict[str, RawUnit] = {}
        districts: dict[str, RawUnit] = {}
        communes: dict[str, RawUnit] = {}
        for pc, pn, _pk, dc, dn, _dk, wc, wn, _wk in self.legacy_rows:
            if pc not in provinces:
                provinces[pc] = RawUnit(pc, clean_name(pn), "province", None)
            if dc not in districts:
                districts[dc] = RawUnit(dc, clean_name(dn), "district", pc)
            elif districts[dc].parent_code != pc:
                raise ValueError(f"district {dc} has two provinces")
            if wc is not None:
                if wc in communes:
                    raise ValueError(f"commune code {wc} appears twice")
                communes[wc] = RawUnit(wc, clean_name(wn), "commune", dc)
        return [unit for level in (provinces, districts, communes) for unit in level.values()]

    def vn34(self) -> list[RawUnit]:
        """34 provinces and 3,321 communes (13 of them special zones); no districts."""
        provinces: dict[str, RawUnit] = {}
        communes: dict[str, RawUnit] = {}
        for pc, pn, _pk, wc, wn, _wk, _area in self.new_rows:
            if pc not in provinces:
                provinces[pc] = RawUnit(pc, clean_name(pn), "province", None)
            if wc in communes:
                raise ValueError(f"commune code {wc} appears twice")
            communes[wc] = RawUnit(wc, clean_name(wn), "commune", pc)
        return [unit for level in (provinces, communes) for unit in level.values()]

    def pairs(self) -> list[RawPair]:
        """Every old → new link of the converter, its slug keys resolved to codes.

        Old keys are `<province>_<district>_<commune>` (the commune part empty for
        an island district); new keys are unique within their new province."""
        old_by_key: dict[str, str] = {
            f"{pk}_{dk}_{wk or ''}": wc or dc
            for _pc, _pn, pk, dc, _dn, dk, wc, _wn, wk in self.legacy_rows
        }
        new_by_key: dict[tuple[str, str], tuple[str, float | None]] = {
            (pk, wk): (wc, area) for _pc, _pn, pk, wc, _wn, wk, area in self.new_rows
        }
        converter = self.converter
        pairs: list[RawPair] = []
        for province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
            for ward_key, old_keys in wards.items():
                new_code, area = new_by_key[(province_key, ward_key)]
                pairs.extend(RawPair(old_by_key[key], new_code, False, area) for key in old_keys)
        for province_key, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
            for old_key, targets in olds.items():
                for target in targets:
                    new_code, _ = new_by_key[(province_key, target["newWardKey"])]
                    pairs.append(
                        RawPair(old_by_key[old_key], new_code, True, target["newWardAreaKm2"])
                    )
        return pairs
