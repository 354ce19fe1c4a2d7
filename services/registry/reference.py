"""The national reference as the registry stores it: unit states in one chunk per province.

Every unit of both editions becomes a state with the fields of `UnitUpserted` (less
its revision). The states are grouped by province (`vn63:20`, `vn34:20`) plus one
chunk `vn` for the nation: a chunk is stored as one document that carries its units
and their pending events, so ~14,150 units are ~100 documents, written and checked
at start in a few milliseconds, and the outbox relay never has more than a few
documents to look at.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.registry.crosswalk import Crosswalk, Links, build_crosswalk
from services.registry.vnunits import PackageData, RawUnit
from shared.units import LAST_DAY_VN63, NATION_ID, REFORM_DATE

UnitState = dict[str, Any]

NATION_NAME = "Việt Nam"
ALL = "all"
NONE = "none"


@dataclass(frozen=True)
class Chunk:
    id: str  # the province id, or `vn`
    units: list[UnitState]

    @property
    def checksum(self) -> str:
        canonical = json.dumps(self.units, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Selection:
    """Which provinces to load: `None` means all of them."""

    provinces: frozenset[str] | None
    nation: bool = True

    @classmethod
    def parse(cls, text: str) -> Selection:
        """`all`; `none` (not even the nation: for tests that need no units); or a comma
        list of `vn63:20`, `vn34:08` or bare `20` (that code in both editions)."""
        entries = [entry.strip() for entry in text.split(",") if entry.strip()]
        if [entry.lower() for entry in entries] == [NONE]:
            return cls(frozenset(), nation=False)
        if not entries or any(entry.lower() == ALL for entry in entries):
            return cls(None)
        return cls(frozenset(entries))

    def includes(self, edition: str, code: str) -> bool:
        return self.provinces is None or bool({f"{edition}:{code}", code} & self.provinces)


def unit_id(edition: str, code: str) -> str:
    return f"{edition}:{code}"


def _state(edition: str, unit: RawUnit, parent_id: str, successors: Links = ()) -> UnitState:
    return {
        "id": unit_id(edition, unit.code),
        "edition": edition,
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent_id": parent_id,
        "valid_from": None if edition == "vn63" else REFORM_DATE.isoformat(),
        "valid_to": LAST_DAY_VN63.isoformat() if edition == "vn63" else None,
        "successors": [
            {"unit_id": unit_id("vn34", target), "share": share} for target, share in successors
        ],
    }


def nation_state() -> UnitState:
    return {
        "id": NATION_ID,
        "edition": "vn",
        "code": NATION_ID,
        "name": NATION_NAME,
        "level": "nation",
        "parent_id": None,
        "valid_from": None,
        "valid_to": None,
        "successors": [],
    }


@dataclass(frozen=True)
class NationalReference:
    chunks: list[Chunk]
    crosswalk: Crosswalk
    fingerprint: str

    @property
    def unit_count(self) -> int:
        return sum(len(chunk.units) for chunk in self.chunks)


def build_reference(selection: Selection, data: PackageData | None = None) -> NationalReference:
    """Read the package and shape the selected provinces of both editions into chunks."""
    data = data or PackageData()
    vn63, vn34 = data.vn63(), data.vn34()
    crosswalk = build_crosswalk(data.pairs(), vn63, vn34)
    old_provinces = {u.code for u in vn63 if u.level == "province"}
    new_provinces = {u.code for u in vn34 if u.level == "province"}
    _check_selection(selection, old_provinces, new_provinces)
    chosen63 = {code for code in old_provinces if selection.includes("vn63", code)}
    # The vn34 provinces the chosen vn63 ones went into come along, so that every
    # successor named by a loaded unit is loaded too.
    chosen34 = {code for code in new_provinces if selection.includes("vn34", code)} | {
        target for code in chosen63 for target, _ in crosswalk.provinces[code]
    }
    chunks = [Chunk(NATION_ID, [nation_state()])] if selection.nation else []
    chunks += _edition_chunks("vn63", vn63, chosen63, crosswalk)
    chunks += _edition_chunks("vn34", vn34, chosen34, crosswalk)
    return NationalReference(chunks, crosswalk, data.fingerprint())


def _check_selection(selection: Selection, old: set[str], new: set[str]) -> None:
    if selection.provinces is None:
        return
    known = {unit_id("vn63", code) for code in old} | {unit_id("vn34", code) for code in new}
    unknown = sorted(
        entry for entry in selection.provinces if entry not in known and entry not in old | new
    )
    if unknown:
        raise ValueError(
            f"BDG_REGISTRY_REFERENCE_PROVINCES names unknown provinces: {', '.join(unknown)}"
        )


def _edition_chunks(
    edition: str, units: Iterable[RawUnit], provinces: set[str], crosswalk: Crosswalk
) -> list[Chunk]:
    province_of: dict[str, str] = {}
    by_province: dict[str, list[UnitState]] = {code: [] for code in sorted(provinces)}
    for unit in units:  # provinces, then districts, then communes
        if unit.level == "province":
            province = unit.code
            parent_id = NATION_ID
        else:
            if unit.parent_code is None:
                raise ValueError(
                    f"{edition}:{unit.code} ({unit.level}) has no parent in the package"
                )
            province = province_of.get(unit.parent_code, unit.parent_code)
            parent_id = unit_id(edition, unit.parent_code)
        province_of[unit.code] = province
        if province not in by_province:
            continue
        by_province[province].append(
            _state(edition, unit, parent_id, _links(edition, unit, crosswalk))
        )
    return [Chunk(unit_id(edition, code), states) for code, states in by_province.items()]


def _links(edition: str, unit: RawUnit, crosswalk: Crosswalk) -> Links:
    if edition != "vn63":
        return ()
    table = {
        "province": crosswalk.provinces,
        "district": crosswalk.districts,
        "commune": crosswalk.communes,
    }[unit.level]
    return table[unit.code]
