"""Every unit in memory: the hierarchy, the crosswalk both ways, and search by name.

About 14,150 units plus the villages provinces add; lookups, listings and searches
never touch the database. Villages added through another registry replica arrive
through this replica's follower of the registry stream (registry/main.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.registry.folding import fold
from shared.units import UnitIndex, UnitNode

UnitState = dict[str, Any]
SortKey = tuple[int, int, str]

_EDITION_RANK = {"vn": 0, "vn63": 1, "vn34": 2}
_LEVEL_RANK = {"nation": 0, "province": 1, "district": 2, "commune": 3, "village": 4}
LEVELS = tuple(_LEVEL_RANK)


def sort_key(state: UnitState) -> SortKey:
    return (_EDITION_RANK[state["edition"]], _LEVEL_RANK[state["level"]], state["id"])


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey | None:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        edition, level, unit_id = raw
        if isinstance(edition, int) and isinstance(level, int) and isinstance(unit_id, str):
            return (edition, level, unit_id)
    except (ValueError, TypeError, binascii.Error):
        pass
    return None


@dataclass(frozen=True)
class UnitQuery:
    level: str | None = None
    parent: str | None = None
    q: str | None = None
    as_of: date | None = None
    edition: str | None = None


def valid_on(state: UnitState, day: date) -> bool:
    start, end = state.get("valid_from"), state.get("valid_to")
    return (start is None or date.fromisoformat(start) <= day) and (
        end is None or day <= date.fromisoformat(end)
    )


class UnitDirectory:
    def __init__(self) -> None:
        self.index = UnitIndex()
        self._states: dict[str, UnitState] = {}
        self._folded: dict[str, str] = {}
        self._order: list[tuple[SortKey, str]] | None = None

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._states

    def put_many(self, states: Iterable[UnitState]) -> None:
        for state in states:
            self._states[state["id"]] = state
            self._folded[state["id"]] = fold(state["name"])
            self.index.put(
                UnitNode(
                    id=state["id"],
                    edition=state["edition"],
                    code=state["code"],
                    name=state["name"],
                    level=state["level"],
                    parent_id=state["parent_id"],
                    valid_from=_day(state.get("valid_from")),
                    valid_to=_day(state.get("valid_to")),
                    successors=tuple(
                        (link["unit_id"], link["share"]) for link in state.get("successors", ())
                    ),
                )
            )
        self._order = None

    def get(self, unit_id: str) -> UnitState | None:
        return self._states.get(unit_id)

    def counts(self) -> dict[str, int]:
        """Units per `<edition>/<level>`."""
        found: dict[str, int] = {}
        for state in self._states.values():
            key = f"{state['edition']}/{state['level']}"
            found[key] = found.get(key, 0) + 1
        return found

    def province_of(self, unit_id: str) -> str | None:
        return self.index.province_of(unit_id)

    def commune_of(self, unit_id: str) -> str | None:
        """The commune a commune or village lies in."""
        for candidate in self.index.lineage(unit_id):
            state = self._states.get(candidate)
            if state is not None and state["level"] == "commune":
                return candidate
        return None

    def within(self, unit_id: str, ancestor: str) -> bool:
        return ancestor in self.index.lineage(unit_id)

    def subtree(self, unit_id: str) -> set[str]:
        return {unit_id} | self.index.descendants(unit_id)

    def predecessors(self, unit_id: str, level: str | None) -> list[tuple[str, float]]:
        """Old units whose successors include this one.

        By default only those of the level the crosswalk links directly: old communes
        (and island districts, which had no communes) for a new commune, old provinces
        for a new province. `level` picks another level (e.g. `district`)."""
        found = self.index.predecessors(unit_id)
        if level is not None:
            return [(old, share) for old, share in found if self._level(old) == level]
        target_level = self._level(unit_id)
        return [
            (old, share)
            for old, share in found
            if self._level(old) == target_level
            or (
                target_level == "commune"
                and self._level(old) == "district"
                and not self.index.children(old)
            )
        ]

    def _level(self, unit_id: str) -> str | None:
        state = self._states.get(unit_id)
        return None if state is None else str(state["level"])

    def search(self, query: UnitQuery, after: SortKey | None, limit: int) -> list[UnitState]:
        """Up to `limit` units matching `query`, in sort order, after the cursor key."""
        found: list[UnitState] = []
        for state in self._candidates(query, after):
            if self._matches(state, query):
                found.append(state)
                if len(found) == limit:
                    break
        return found

    def _candidates(self, query: UnitQuery, after: SortKey | None) -> Iterator[UnitState]:
        if query.parent is not None:
            children = [self._states[c] for c in self.index.children(query.parent)]
            for state in sorted(children, key=sort_key):
                if after is None or sort_key(state) > after:
                    yield state
            return
        order = self._sorted()
        start = 0 if after is None else bisect_right(order, (after, "\uffff"))
        for _, unit_id in order[start:]:
            yield self._states[unit_id]

    def _matches(self, state: UnitState, query: UnitQuery) -> bool:
        if query.level is not None and state["level"] != query.level:
            return False
        if query.edition is not None and state["edition"] != query.edition:
            return False
        if query.as_of is not None and not valid_on(state, query.as_of):
            return False
        if query.q:
            needle = fold(query.q)
            return needle in self._folded[state["id"]] or needle in (
                state["code"].casefold(),
                state["id"].casefold(),
            )
        return True

    def _sorted(self) -> list[tuple[SortKey, str]]:
        if self._order is None:
            self._order = sorted(
                (sort_key(state), unit_id) for unit_id, state in self._states.items()
            )
        return self._order


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)
