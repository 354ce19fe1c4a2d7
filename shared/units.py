"""Administrative unit ids across the 2025 reorganisation, and an in-memory hierarchy.

A unit id is `<edition>:<code>` (`vn63:06433`, `vn34:20`), a village is
`<commune id>.<village code>` (`vn63:06433.T05`), and `vn` is the whole country.
Activities dated before 2025-07-01 refer to `vn63` units, from that day on to `vn34`.

Every service keeps the units it needs in a `UnitIndex` (about 14,000 entries, a few
MB), filled from its own MongoDB at start and kept current from `unit.upserted`
events, so that hierarchy questions (ancestors, descendants, province, successors)
never cost a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

REFORM_DATE = date(2025, 7, 1)
LAST_DAY_VN63 = date(2025, 6, 30)
NATION_ID = "vn"

Edition = Literal["vn", "vn63", "vn34"]

_UNIT_ID = re.compile(
    r"^(?P<edition>vn63|vn34):(?P<code>\d{2,5})(?:\.(?P<village>[A-Za-z0-9_-]{1,32}))?$"
)


@dataclass(frozen=True)
class UnitRef:
    edition: Edition
    code: str
    village: str | None = None

    @property
    def is_village(self) -> bool:
        return self.village is not None


def parse_unit_id(unit_id: str) -> UnitRef | None:
    """The parts of a well-formed unit id, or `None` when it is not one."""
    if unit_id == NATION_ID:
        return UnitRef("vn", "")
    match = _UNIT_ID.match(unit_id)
    if match is None:
        return None
    edition: Edition = "vn63" if match["edition"] == "vn63" else "vn34"
    return UnitRef(edition, match["code"], match["village"])


def edition_on(day: date) -> Edition:
    """The edition in force on a day."""
    return "vn63" if day < REFORM_DATE else "vn34"


def edition_of(unit_id: str) -> Edition | None:
    ref = parse_unit_id(unit_id)
    return None if ref is None else ref.edition


@dataclass(frozen=True)
class UnitNode:
    id: str
    edition: Edition
    code: str
    name: str
    level: str
    parent_id: str | None
    valid_from: date | None = None
    valid_to: date | None = None
    successors: tuple[tuple[str, float], ...] = ()


def unit_node(data: Mapping[str, Any]) -> UnitNode:
    """A node from `unit.upserted` data, or from a copy of it stored under `_id`."""
    return UnitNode(
        id=str(data["id"] if "id" in data else data["_id"]),
        edition=data["edition"],
        code=data["code"],
        name=data["name"],
        level=data["level"],
        parent_id=data.get("parent_id"),
        valid_from=_day(data.get("valid_from")),
        valid_to=_day(data.get("valid_to")),
        successors=tuple(
            (successor["unit_id"], float(successor["share"]))
            for successor in data.get("successors") or ()
        ),
    )


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass
class UnitIndex:
    """Units by id with their children; ancestors are walked in memory."""

    _units: dict[str, UnitNode] = field(default_factory=dict)
    _children: dict[str, set[str]] = field(default_factory=dict)
    _predecessors: dict[str, dict[str, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._units

    def put(self, node: UnitNode) -> None:
        old = self._units.get(node.id)
        if old is not None:
            if old.parent_id is not None:
                self._children.get(old.parent_id, set()).discard(node.id)
            for successor, _ in old.successors:
                self._predecessors.get(successor, {}).pop(node.id, None)
        self._units[node.id] = node
        if node.parent_id is not None:
            self._children.setdefault(node.parent_id, set()).add(node.id)
        for successor, share in node.successors:
            self._predecessors.setdefault(successor, {})[node.id] = share

    def put_many(self, nodes: Iterable[UnitNode]) -> None:
        for node in nodes:
            self.put(node)

    def get(self, unit_id: str) -> UnitNode | None:
        return self._units.get(unit_id)

    def all(self) -> Iterator[UnitNode]:
        return iter(self._units.values())

    def children(self, unit_id: str) -> list[str]:
        return sorted(self._children.get(unit_id, ()))

    def ancestors(self, unit_id: str) -> list[str]:
        """Parent, grandparent, … up to `vn` (the unit itself excluded)."""
        chain: list[str] = []
        node = self._units.get(unit_id)
        while node is not None and node.parent_id is not None and len(chain) < 10:
            chain.append(node.parent_id)
            node = self._units.get(node.parent_id)
        return chain

    def lineage(self, unit_id: str) -> list[str]:
        """The unit and all its ancestors."""
        return [unit_id, *self.ancestors(unit_id)]

    def descendants(self, unit_id: str) -> set[str]:
        """Every unit below this one (not including it)."""
        found: set[str] = set()
        stack = list(self._children.get(unit_id, ()))
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self._children.get(current, ()))
        return found

    def province_of(self, unit_id: str) -> str | None:
        """The province a unit lies in (itself when it is a province)."""
        for candidate in self.lineage(unit_id):
            node = self._units.get(candidate)
            if node is not None and node.level == "province":
                return candidate
        return None

    def successors(self, unit_id: str) -> list[tuple[str, float]]:
        node = self._units.get(unit_id)
        return list(node.successors) if node is not None else []

    def predecessors(self, unit_id: str) -> list[tuple[str, float]]:
        return sorted(self._predecessors.get(unit_id, {}).items())
