"""Period locks the registry publishes (`lock.set`), and which of them covers an activity.

How it is fed, refreshed and rebuilt: like the other reference data of this service.
The `REGISTRY` consumer stores every lock at its highest revision in `ref_locks`
(`ReferenceRepository`) and puts it in memory; each replica's follower puts the same
events in its own memory (every replica sees every lock); at start the replica loads
`ref_locks` before following the stream from the position its database holds. A lock
reopened (`locked` false) leaves memory's index but keeps its revision, so a late
copy of an older revision changes nothing.

Lookups are by `(programme, unit)`: for an activity, the units whose locks could
cover it are its own lineage (the unit and every unit above it) and, across the
2025-07-01 reorganisation, the units on the other side of it:

- dated from 2025-07-01 (a vn34 unit): the vn63 units whose successors lie in its
  lineage — a lock on a vn63 unit covers its vn34 successors and everything under them;
- dated before (a vn63 unit): the vn34 units the units of its lineage went to, of
  the same level (a commune's commune, a province's province; an island district
  without communes counts as a commune) — a lock on a vn34 unit covers its vn63
  predecessors and everything under them.

An activity lies on the day reporting counts it on: `started_on`, or for a learning
centre rating the last day of its school year (31 August).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.mongo import Document
from shared.periods import PeriodError, parse_period
from shared.units import REFORM_DATE, UnitIndex, parse_unit_id

PERIOD_LOCKED = "period-locked"


@dataclass(frozen=True)
class LockRef:
    id: str
    programme: str
    period: str
    unit_id: str
    origin: str
    reason: str
    since: datetime
    by: str
    start: date
    end: date

    def member(self) -> dict[str, Any]:
        """The lock as a problem names it (`lock` member)."""
        return {
            "id": self.id,
            "programme": self.programme,
            "period": self.period,
            "unit_id": self.unit_id,
            "origin": self.origin,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "by": self.by,
        }


def _since(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def lock_ref(document: Mapping[str, Any]) -> LockRef | None:
    """The lock a stored `lock.set` state describes, `None` when it is not in force."""
    if not document.get("locked"):
        return None
    try:
        period = parse_period(str(document["period"]))
    except PeriodError:
        return None  # the registry refuses these; nothing to enforce
    return LockRef(
        id=str(document["id"]),
        programme=str(document["programme"]),
        period=period.key,
        unit_id=str(document["unit_id"]),
        origin=str(document.get("origin", "lock")),
        reason=str(document.get("reason", "")),
        since=_since(document["since"]),
        by=str(document["by"]),
        start=period.start,
        end=period.end,
    )


def counted_on(body: Mapping[str, Any]) -> date | None:
    """The day an activity counts on (as reporting places it), `None` if unreadable."""
    try:
        if body.get("type") == "learning_centre_rating" and body.get("school_year"):
            return date(int(str(body["school_year"]).split("-")[1]), 8, 31)
        value = body.get("started_on")
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except (ValueError, IndexError):
        return None


@dataclass
class LockIndex:
    """Locks in force by `(programme, unit_id)` (the revisions held are the cache's)."""

    _by_unit: dict[tuple[str, str], dict[str, LockRef]] = field(default_factory=dict)
    _where: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._where)

    def put(self, documents: Iterable[Document]) -> None:
        """Apply lock states already known to be newer than what memory holds."""
        for document in documents:
            lock_id = str(document["_id"])
            where = self._where.pop(lock_id, None)
            if where is not None:
                held = self._by_unit.get(where, {})
                held.pop(lock_id, None)
                if not held:
                    self._by_unit.pop(where, None)
            ref = lock_ref(document)
            if ref is not None:
                key = (ref.programme, ref.unit_id)
                self._by_unit.setdefault(key, {})[lock_id] = ref
                self._where[lock_id] = key

    def covering(self, body: Mapping[str, Any], units: UnitIndex) -> LockRef | None:
        """The lock in force covering this activity body (the first by id), if any."""
        programme, unit_id = body.get("programme"), body.get("unit_id")
        day = counted_on(body)
        if not self._where or not programme or not unit_id or day is None:
            return None
        found = [
            lock
            for candidate in _candidates(str(unit_id), day, units)
            for lock in self._by_unit.get((str(programme), candidate), {}).values()
            if lock.start <= day <= lock.end
        ]
        return min(found, key=lambda lock: lock.id) if found else None


def _lineage(unit_id: str, units: UnitIndex) -> list[str]:
    """The unit and its ancestors; a village not seen yet lies under its commune."""
    if unit_id in units:
        return units.lineage(unit_id)
    ref = parse_unit_id(unit_id)
    if ref is not None and ref.village is not None:
        commune = unit_id.rsplit(".", 1)[0]
        return [unit_id, *units.lineage(commune)]
    return [unit_id]


def _level(unit_id: str, units: UnitIndex) -> str | None:
    node = units.get(unit_id)
    return None if node is None else node.level


def _same_level(old: str, new: str, units: UnitIndex) -> bool:
    """Whether a vn34 unit an old unit went to stands in for it (see the module doc)."""
    old_level, new_level = _level(old, units), _level(new, units)
    if old_level == new_level:
        return True
    return old_level == "district" and new_level == "commune" and not units.children(old)


def _candidates(unit_id: str, day: date, units: UnitIndex) -> list[str]:
    """The units a lock may sit on to cover an activity on `unit_id` on `day`."""
    lineage = _lineage(unit_id, units)
    found = list(lineage)
    if day >= REFORM_DATE:
        for unit in lineage:
            found.extend(old for old, _ in units.predecessors(unit))
    else:
        for unit in lineage:
            found.extend(new for new, _ in units.successors(unit) if _same_level(unit, new, units))
    return list(dict.fromkeys(found))
