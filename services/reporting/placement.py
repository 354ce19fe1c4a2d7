"""Where a unit's figures belong at a date, in each structure (pure, in memory).

`as_was` counts a fact or club at the unit it was recorded on; a club registered on a
vn63 unit still exists after 2025-07-01 and is then counted at its unit's *principal
successor* (the vn34 unit that received the largest share of it; ties go to the
smaller id), and a club registered on a vn34 unit counted at a pre-reform date goes
to its *principal predecessor* the same way. `vn34` always counts clubs on today's
units. A club is a single group of people in one place, so it is never split by
shares (facts are: see facts.py).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from services.reporting.facts import successors_of
from shared.units import NATION_ID, UnitIndex, edition_of, edition_on

Structure = Literal["as_was", "vn34"]


def principal_successor(unit_id: str, units: UnitIndex) -> str | None:
    found = successors_of(unit_id, units)
    if not found:
        return None
    return min(found, key=lambda item: (-item[1], item[0]))[0]


def principal_predecessor(unit_id: str, units: UnitIndex) -> str | None:
    for candidate in units.lineage(unit_id):
        found = units.predecessors(candidate)
        if found:
            return min(found, key=lambda item: (-item[1], item[0]))[0]
    return None


def club_unit(unit_id: str, day: date, structure: Structure, units: UnitIndex) -> str:
    """The unit a club on `unit_id` counts at on `day`."""
    edition = edition_of(unit_id)
    wanted = "vn34" if structure == "vn34" else edition_on(day)
    if edition == wanted or unit_id == NATION_ID:
        return unit_id
    if wanted == "vn34":
        return principal_successor(unit_id, units) or unit_id
    return principal_predecessor(unit_id, units) or unit_id


def child_towards(unit_id: str, leaf: str, units: UnitIndex) -> str | None:
    """The child of `unit_id` on the way down to `leaf` (`leaf` itself when it is the
    unit), or `None` when `leaf` is not under `unit_id`."""
    lineage = units.lineage(leaf) if leaf in units else [leaf]
    if unit_id not in lineage:
        return None
    position = lineage.index(unit_id)
    return lineage[position - 1] if position > 0 else unit_id


def children_in_force(
    unit_id: str, start: date, end: date, structure: Structure, units: UnitIndex
) -> list[str]:
    """The children of a unit that existed at some point of the period (and, for
    `vn34`, only today's units)."""
    found: list[str] = []
    for child in units.children(unit_id):
        node = units.get(child)
        if node is None:
            continue
        if structure == "vn34":
            # Today's units, whatever the period: earlier figures are restated onto them.
            if node.edition == "vn34":
                found.append(child)
            continue
        if node.valid_from is not None and node.valid_from > end:
            continue
        if node.valid_to is not None and node.valid_to < start:
            continue
        found.append(child)
    return found


# How high each level sits, to compare them (a vn34 province has communes directly).
LEVEL_RANK = {"village": 0, "commune": 1, "district": 2, "province": 3, "nation": 4}


def level_of(unit_id: str, units: UnitIndex) -> str | None:
    if unit_id == NATION_ID:
        return "nation"
    node = units.get(unit_id)
    return node.level if node is not None else None


def unit_at_level(leaf: str, level: str, units: UnitIndex) -> str:
    """The unit on `leaf`'s way up that is at `level`; when there is none (a fact on a
    province split by district, a vn34 commune split by district), the nearest unit
    above that level, so that nothing is left out of the rows."""
    wanted = LEVEL_RANK[level]
    for candidate in units.lineage(leaf) if leaf in units else [leaf]:
        found = level_of(candidate, units)
        if found is not None and LEVEL_RANK.get(found, -1) >= wanted:
            return candidate
    return leaf


def units_at_level(
    unit_id: str, level: str, start: date, end: date, structure: Structure, units: UnitIndex
) -> list[str]:
    """The units at `level` below `unit_id` (or the unit itself when it is at that
    level) in force during the period, in id order."""
    if level_of(unit_id, units) == level:
        return [unit_id]
    wanted = LEVEL_RANK[level]
    found: list[str] = []
    frontier = [unit_id]
    while frontier:
        below: list[str] = []
        for parent in frontier:
            for child in children_in_force(parent, start, end, structure, units):
                rank = LEVEL_RANK.get(level_of(child, units) or "", -1)
                if rank == wanted:
                    found.append(child)
                elif rank > wanted:
                    below.append(child)
        frontier = below
    return sorted(found)
