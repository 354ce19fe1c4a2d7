"""The registry data activities are validated against, held in memory.

Filled from the service's own replica collections at start and kept current by the
`REGISTRY` handler, so validating a batch of a thousand activities costs no query.
Keys of references are written `<kind>:<id>` (`unit:vn63:06433`, `club:…`,
`site:…`, `programme:P8`): pending activities are indexed by them. Period locks are
held here too (`locks`), fed and rebuilt the same way (services/events/locks.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.events.locks import LockIndex
from shared.mongo import Document
from shared.units import UnitIndex, edition_of, parse_unit_id, unit_node

UNIT, CLUB, SITE, PROGRAMME, LOCK = "unit", "club", "site", "programme", "lock"


def reference_key(kind: str, ref_id: str) -> str:
    return f"{kind}:{ref_id}"


def split_key(key: str) -> tuple[str, str]:
    kind, _, ref_id = key.partition(":")
    return kind, ref_id


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class ClubRef:
    id: str
    name: str
    unit_id: str
    province_id: str
    established_on: date | None
    dissolved_on: date | None


@dataclass(frozen=True)
class SiteRef:
    id: str
    name: str
    kind: str
    unit_id: str
    province_id: str


def club_ref(document: Document) -> ClubRef:
    return ClubRef(
        id=document["_id"],
        name=document["name"],
        unit_id=document["unit_id"],
        province_id=document["province_id"],
        established_on=_as_date(document.get("established_on")),
        dissolved_on=_as_date(document.get("dissolved_on")),
    )


def site_ref(document: Document) -> SiteRef:
    return SiteRef(
        id=document["_id"],
        name=document["name"],
        kind=document["kind"],
        unit_id=document["unit_id"],
        province_id=document["province_id"],
    )


@dataclass
class ReferenceCache:
    units: UnitIndex = field(default_factory=UnitIndex)
    clubs: dict[str, ClubRef] = field(default_factory=dict)
    sites: dict[str, SiteRef] = field(default_factory=dict)
    programmes: dict[str, str] = field(default_factory=dict)
    # Period locks in force (services/events/locks.py).
    locks: LockIndex = field(default_factory=LockIndex)
    # The registry revision held of each reference: `{kind: {id: revision}}`.
    revisions: dict[str, dict[str, int]] = field(
        default_factory=lambda: {UNIT: {}, CLUB: {}, SITE: {}, PROGRAMME: {}, LOCK: {}}
    )
    _successor_provinces: dict[str, frozenset[str]] = field(default_factory=dict)

    def _held(self, kind: str, documents: list[Document]) -> list[Document]:
        """The documents at or above the revision memory holds (now held); an older
        one — the consumer storing what the follower already put here — is left out."""
        held = self.revisions[kind]
        kept = []
        for document in documents:
            revision = int(document.get("revision", 0))
            if revision >= held.get(document["_id"], 0):
                held[document["_id"]] = revision
                kept.append(document)
        return kept

    def put_units(self, documents: Iterable[Document]) -> None:
        self.units.put_many(unit_node(document) for document in self._held(UNIT, list(documents)))
        self._successor_provinces.clear()

    def put_clubs(self, documents: Iterable[Document]) -> None:
        held = self._held(CLUB, list(documents))
        self.clubs.update((document["_id"], club_ref(document)) for document in held)

    def put_sites(self, documents: Iterable[Document]) -> None:
        held = self._held(SITE, list(documents))
        self.sites.update((document["_id"], site_ref(document)) for document in held)

    def put_programmes(self, documents: Iterable[Document]) -> None:
        held = self._held(PROGRAMME, list(documents))
        self.programmes.update((document["_id"], document["name"]) for document in held)

    def put_locks(self, documents: Iterable[Document]) -> None:
        self.locks.put(self._held(LOCK, list(documents)))

    def knows(self, key: str) -> bool:
        kind, ref_id = split_key(key)
        if kind == UNIT:
            return ref_id in self.units
        if kind == CLUB:
            return ref_id in self.clubs
        if kind == SITE:
            return ref_id in self.sites
        return ref_id in self.programmes

    def province_of(self, unit_id: str) -> str | None:
        """The province a unit lies in, as far as the replica knows.

        A village the replica has not seen yet lies where its commune lies (its id
        names the commune: `vn63:06433.T05`); any other unknown unit, or one whose
        chain to its province is incomplete, gives `None`.
        """
        if unit_id in self.units:
            return self.units.province_of(unit_id)
        ref = parse_unit_id(unit_id)
        if ref is None or ref.village is None:
            return None
        commune_id = unit_id.rsplit(".", 1)[0]
        return self.units.province_of(commune_id) if commune_id in self.units else None

    def unit_name(self, unit_id: str) -> str | None:
        node = self.units.get(unit_id)
        return node.name if node is not None else None

    def label(self, unit_id: str) -> str:
        """`vn63:20 (Tỉnh Lạng Sơn)`, or the bare id when the unit is unknown."""
        name = self.unit_name(unit_id)
        return f"{unit_id} ({name})" if name else unit_id

    def successors_of(self, unit_id: str) -> list[tuple[str, float]]:
        """Where a vn63 unit went; a village goes where its commune went."""
        for candidate in self.units.lineage(unit_id):
            successors = self.units.successors(candidate)
            if successors:
                return successors
        return []

    def successor_provinces(self, province_id: str) -> frozenset[str]:
        """The vn34 province(s) a vn63 province went to.

        Taken from the province's own successors when the registry gives them,
        otherwise from where its units went.
        """
        cached = self._successor_provinces.get(province_id)
        if cached is not None:
            return cached
        targets = [unit for unit, _ in self.units.successors(province_id)]
        if not targets:
            targets = [
                unit
                for below in self.units.descendants(province_id)
                for unit, _ in self.units.successors(below)
            ]
        provinces = frozenset(
            found for found in (self.units.province_of(unit) for unit in targets) if found
        )
        self._successor_provinces[province_id] = provinces
        return provinces

    def same_province(self, first: str, second: str) -> bool:
        """Whether two provinces are the same, across the 2025 reorganisation."""
        if first == second:
            return True
        editions = (edition_of(first), edition_of(second))
        if editions == ("vn63", "vn34"):
            return second in self.successor_provinces(first)
        if editions == ("vn34", "vn63"):
            return first in self.successor_provinces(second)
        return False
