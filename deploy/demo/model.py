"""The shape of a province's demo records, and helpers that keep them deterministic.

Nothing here is random: every "varied" figure comes from a hash of fixed strings, so
each run sends exactly the same bodies and the services answer `unchanged`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Body = dict[str, Any]
Key = tuple[str, str]  # (source_system, external_id)

REFORM_DATE = date(2025, 7, 1)


@dataclass(frozen=True)
class SiteSpec:
    source_system: str
    external_id: str
    kind: str
    name: str
    unit_id: str

    @property
    def key(self) -> Key:
        return (self.source_system, self.external_id)

    def body(self) -> Body:
        return {"kind": self.kind, "name": self.name, "unit_id": self.unit_id}


@dataclass(frozen=True)
class ClubSpec:
    source_system: str
    external_id: str
    name: str
    kind: str
    unit_id: str
    site: Key | None
    programme: str
    established_on: date

    @property
    def key(self) -> Key:
        return (self.source_system, self.external_id)

    def body(self, site_id: str | None) -> Body:
        body: Body = {
            "name": self.name,
            "kind": self.kind,
            "unit_id": self.unit_id,
            "programme": self.programme,
            "established_on": self.established_on.isoformat(),
        }
        if site_id is not None:
            body["site_id"] = site_id
        return body


@dataclass
class Refs:
    """What the registry answered: ids of sites and clubs, and where old units went."""

    sites: dict[Key, str]
    clubs: dict[Key, str]
    successors: dict[str, str]

    def successor(self, unit_id: str) -> str:
        """The vn34 unit that received the largest share of a vn63 unit (village: its commune)."""
        commune = unit_id.split(".", 1)[0]
        try:
            return self.successors[commune]
        except KeyError:
            raise KeyError(f"successor of {commune} was not read from the registry") from None


@dataclass
class Plan:
    """One province's demo records, in the order they must be written."""

    # units to check before writing: parent id → {unit id: expected name}
    expected_units: dict[str, dict[str, str]] = field(default_factory=dict)
    villages: list[Body] = field(default_factory=list)
    # (unit id, classification name, body)
    classifications: list[tuple[str, str, Body]] = field(default_factory=list)
    sites: list[SiteSpec] = field(default_factory=list)
    clubs: list[ClubSpec] = field(default_factory=list)
    members: dict[Key, list[Body]] = field(default_factory=dict)
    # programme → targets (merged per programme: a PUT replaces the whole plan)
    targets: dict[str, list[Body]] = field(default_factory=dict)
    # vn63 units whose successors the activities after the reform need
    reformed_units: list[str] = field(default_factory=list)
    activities: Callable[[Refs], list[Body]] = lambda _refs: []


def fraction(*parts: object) -> float:
    """A stable number in [0, 1) from the given parts."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def between(low: int, high: int, *parts: object) -> int:
    """A stable whole number in [low, high]."""
    return low + int(fraction(*parts) * (high - low + 1))


def choose(options: Sequence[tuple[str, float]], *parts: object) -> str:
    """A stable weighted choice among (value, weight) pairs."""
    point = fraction(*parts) * sum(weight for _, weight in options)
    for value, weight in options:
        point -= weight
        if point < 0:
            return value
    return options[-1][0]


def is_nth_of(index: int, part: int, whole: int) -> bool:
    """Spread `part` marks evenly over `whole` positions: is position `index` one of them?"""
    return (index + 1) * part // whole > index * part // whole


def split(total: int, share: float) -> tuple[int, int]:
    """`total` split into (share, rest), rounded half up."""
    first = min(total, int(total * share + 0.5))
    return first, total - first


def activity(
    source_system: str,
    external_id: str,
    kind: str,
    programme: str,
    unit_id: str,
    title: str,
    started_on: date,
    ended_on: date | None = None,
    *,
    organiser: str | None = None,
    female: int = 0,
    male: int = 0,
    ethnic_minority: int | None = None,
    roles: dict[str, int] | None = None,
    topics: list[str] | None = None,
    budget_vnd: int = 0,
    **fields: Any,
) -> Body:
    """A batch item: the activity body with its natural key."""
    body: Body = {
        "source_system": source_system,
        "external_id": external_id,
        "type": kind,
        "programme": programme,
        "unit_id": unit_id,
        "title": title,
        "started_on": started_on.isoformat(),
        "ended_on": (ended_on or started_on).isoformat(),
        "budget_vnd": budget_vnd,
    }
    if organiser:
        body["organiser"] = organiser
    if female or male:
        participants: Body = {"female": female, "male": male}
        if ethnic_minority is not None:
            participants["ethnic_minority"] = ethnic_minority
        body["participants"] = participants
    if roles:
        body["roles"] = roles
    if topics:
        body["topics"] = topics
    body.update({name: value for name, value in fields.items() if value is not None})
    return body
