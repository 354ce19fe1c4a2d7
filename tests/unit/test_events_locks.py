"""Which lock covers an activity: the hierarchy, the period, the programme, and the 2025
reorganisation both ways (no I/O)."""

from __future__ import annotations

from typing import Any

from services.events.locks import LockIndex, counted_on
from shared.contracts import lock_key
from shared.units import UnitIndex, unit_node
from tests.events_support.registry import unit_events


def units() -> UnitIndex:
    index = UnitIndex()
    index.put_many(unit_node(event.data) for event in unit_events())
    return index


def lock(
    programme: str, period: str, unit_id: str, revision: int = 1, locked: bool = True
) -> dict[str, Any]:
    key = lock_key(programme, period, unit_id)
    return {
        "_id": key,
        "id": key,
        "programme": programme,
        "period": period,
        "unit_id": unit_id,
        "locked": locked,
        "origin": "lock",
        "reason": "chốt",
        "since": "2025-01-20T08:30:00+00:00",
        "by": "langson-approver",
        "revision": revision,
    }


def activity(unit_id: str, started_on: str, programme: str = "P8") -> dict[str, Any]:
    return {"programme": programme, "unit_id": unit_id, "started_on": started_on}


def covered_by(index: LockIndex, body: dict[str, Any]) -> str | None:
    found = index.covering(body, units())
    return None if found is None else found.id


def test_a_lock_covers_its_unit_and_below_on_the_days_of_its_period() -> None:
    index = LockIndex()
    index.put([lock("P8", "2024H1", "vn63:186")])
    key = "P8|2024H1|vn63:186"
    assert covered_by(index, activity("vn63:186", "2024-01-01")) == key
    assert covered_by(index, activity("vn63:06433", "2024-06-30")) == key
    # A village the replica has not seen lies under its commune.
    assert covered_by(index, activity("vn63:06433.T05", "2024-03-01")) == key
    assert covered_by(index, activity("vn63:06433", "2024-07-01")) is None
    assert covered_by(index, activity("vn63:06433", "2023-12-31")) is None
    assert covered_by(index, activity("vn63:06433", "2024-03-01", "SFES")) is None
    assert covered_by(index, activity("vn63:20", "2024-03-01")) is None  # above it
    assert covered_by(index, activity("vn63:01024", "2024-03-01")) is None  # Hà Giang
    # Reopened: nothing covers it any more.
    index.put([lock("P8", "2024H1", "vn63:186", revision=2, locked=False)])
    assert covered_by(index, activity("vn63:06433", "2024-03-01")) is None
    assert len(index) == 0


def test_locks_reach_across_the_reorganisation() -> None:
    index = LockIndex()
    index.put([lock("P8", "2025", "vn63:06433"), lock("SFES", "2025", "vn34:06415")])
    # vn63 Vân Nham's lock covers the vn34 commune it went into, from 2025-07-01.
    assert covered_by(index, activity("vn34:06415", "2025-08-01")) == "P8|2025|vn63:06433"
    assert covered_by(index, activity("vn34:06436", "2025-08-01")) is None
    # vn34 Vân Nham's lock covers both old communes that formed it, before 2025-07-01.
    for old in ("vn63:06433", "vn63:06415"):
        assert covered_by(index, activity(old, "2025-03-01", "SFES")) == "SFES|2025|vn34:06415"
    assert covered_by(index, activity("vn63:06436", "2025-03-01", "SFES")) is None
    # A province's lock covers the province it went into.
    index.put([lock("CLC", "2025", "vn63:20")])
    assert covered_by(index, activity("vn34:06436", "2025-09-01", "CLC")) == "CLC|2025|vn63:20"


def test_an_activity_counts_on_the_day_reporting_places_it() -> None:
    rating = {"type": "learning_centre_rating", "school_year": "2023-2024", "started_on": "x"}
    assert str(counted_on(rating)) == "2024-08-31"
    assert str(counted_on({"started_on": "2023-10-12"})) == "2023-10-12"
    assert counted_on({"started_on": "not a date"}) is None
