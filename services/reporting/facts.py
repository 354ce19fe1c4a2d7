"""One fact per activity: its measures, period keys and where it counts (as_was and vn34).

A fact is written from an activity event and replaced only by a higher version. It
stores at write time what queries need without date operators or tree walks:

- `on`: the reference date deciding the period (`started_on`; for a learning-centre
  rating the last day of its school year) and the keys `y`, `h`, `q`, `m`, `sy`;
- the measures, already reduced to numbers (`female`, `male`, `em`, `emk`, …);
- `lineage`: the unit and all its ancestors up to `vn`, as the units were (as_was);
- `v34`: the `vn34` units the fact is restated onto with their shares (the crosswalk
  shares of its vn63 commune; share 1 for a fact already on a vn34 unit), and `r34`
  every vn34 unit those reach with their ancestors, for the index.

When a unit the fact needs is not known yet (the two streams are independent),
`pending` is set and the placement is recomputed when the unit arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.contracts import ActivityState, ActivityVoided
from shared.periods import period_keys
from shared.units import NATION_ID, UnitIndex, parse_unit_id

ACTIVE = "active"
VOIDED = "voided"


@dataclass(frozen=True)
class Placement:
    lineage: list[str]
    r34: list[str]
    v34: list[dict[str, Any]]
    pending: bool

    def fields(self) -> dict[str, Any]:
        return {"lineage": self.lineage, "r34": self.r34, "v34": self.v34, "pending": self.pending}


def _complete(lineage: list[str]) -> bool:
    return bool(lineage) and lineage[-1] == NATION_ID


def successors_of(unit_id: str, units: UnitIndex) -> list[tuple[str, float]]:
    """Where a vn63 unit went: its own crosswalk entry, else its nearest ancestor's
    (a village goes with its commune), shares normalised to add up to 1."""
    for candidate in units.lineage(unit_id):
        found = units.successors(candidate)
        if found:
            total = sum(share for _, share in found)
            return [(successor, share / total) for successor, share in found]
    return []


def place(unit_id: str, units: UnitIndex) -> Placement:
    """Where a fact on `unit_id` counts, in both structures."""
    if unit_id == NATION_ID:
        return Placement([NATION_ID], [NATION_ID], [{"u": NATION_ID, "s": 1.0}], False)
    lineage = units.lineage(unit_id) if unit_id in units else [unit_id]
    pending = not _complete(lineage)
    ref = parse_unit_id(unit_id)
    if ref is not None and ref.edition == "vn34":
        return Placement(lineage, lineage, [{"u": unit_id, "s": 1.0}], pending)
    targets = successors_of(unit_id, units)
    reached: list[str] = []
    for successor, _ in targets:
        successor_lineage = units.lineage(successor) if successor in units else [successor]
        pending = pending or not _complete(successor_lineage)
        reached.extend(u for u in successor_lineage if u not in reached)
    if not targets:
        pending = True
    shares = [{"u": successor, "s": share} for successor, share in targets]
    return Placement(lineage, reached, shares, pending)


def reference_date(state: ActivityState) -> date:
    activity = state.activity
    if activity.type == "learning_centre_rating":
        return date(int(activity.school_year.split("-")[1]), 8, 31)
    return activity.started_on


def fact_from_state(state: ActivityState, units: UnitIndex) -> dict[str, Any]:
    activity = state.activity
    on = reference_date(state)
    participants = activity.participants
    em_known = participants.ethnic_minority is not None
    fact: dict[str, Any] = {
        "_id": state.id,
        "version": state.version,
        "status": ACTIVE,
        "source_system": state.source_system,
        "external_id": state.external_id,
        "province_id": state.province_id,
        "type": activity.type,
        "programme": activity.programme,
        "unit_id": activity.unit_id,
        "club_id": activity.club_id,
        "site_id": activity.site_id,
        "started_on": activity.started_on.isoformat(),
        "ended_on": activity.ended_on.isoformat(),
        "on": on.isoformat(),
        **period_keys(on),
        "n": 1,
        "female": participants.female,
        "male": participants.male,
        "em": participants.ethnic_minority or 0,
        "emk": participants.total if em_known else 0,
        "recipients": 0,
        "value_vnd": 0,
        "budget_vnd": activity.budget_vnd,
        "days": 0.0,
        "support_kind": None,
        "grade": None,
    }
    if activity.type == "training_course":
        fact["days"] = float(activity.duration_days)
        fact["sessions"] = activity.sessions
    elif activity.type == "support_delivery":
        fact["recipients"] = activity.beneficiaries.women + activity.beneficiaries.children
        fact["women"] = activity.beneficiaries.women
        fact["children"] = activity.beneficiaries.children
        fact["value_vnd"] = activity.value_vnd
        fact["support_kind"] = activity.support_kind
    elif activity.type == "learning_centre_rating":
        fact["grade"] = activity.grade
        fact["school_year"] = activity.school_year
    fact.update(place(activity.unit_id, units).fields())
    return fact


def fact_from_void(voided: ActivityVoided) -> dict[str, Any]:
    """A voided activity stops counting; the tombstone keeps its version so that a
    late, lower version cannot bring it back."""
    return {
        "_id": voided.id,
        "version": voided.version,
        "status": VOIDED,
        "source_system": voided.source_system,
        "external_id": voided.external_id,
        "province_id": voided.province_id,
        "reason": voided.reason,
        "pending": False,
    }
