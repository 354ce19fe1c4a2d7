"""Where the approval of one programme's period stands, unit by unit.

For the units at a level below a unit (its children by default), each with: the state
of its approval record (`open` when the registry has none yet), the path its record
follows and the last step taken (who, when), whether its data for the period is
approved (its own record or one above it approved or accepted), whether data exists
(activities of the programme dated in the period, its own or below it), whether a lock
holds the period, the deadline (deadlines.py) and `overdue`: past the deadline, on
today's date in Vietnam, without a submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from services.reporting.approvals import STATES, ApprovalScope, spans_of
from services.reporting.deadlines import Deadlines
from services.reporting.indicators import IndicatorEngine
from services.reporting.reports import Reports
from services.reporting.repository import ReadModels
from shared.mongo import Document
from shared.periods import Period
from shared.units import NATION_ID, REFORM_DATE, UnitIndex


def _last_step(record: Document | None) -> dict[str, Any] | None:
    steps: Sequence[Document] = (record or {}).get("steps") or ()
    if not steps:
        return None
    last = steps[-1]
    return {key: last.get(key) for key in ("action", "state", "by", "at", "reason")}


class ApprovalReport:
    def __init__(self, models: ReadModels, units: UnitIndex, deadlines: Deadlines) -> None:
        self._models = models
        self._units = units
        self._deadlines = deadlines

    def _lineage(self, unit_id: str) -> list[str]:
        if unit_id == NATION_ID or unit_id not in self._units:
            return [unit_id]
        return self._units.lineage(unit_id)

    async def items(
        self, programme: str, period: Period, parent: str, level: str, today: date
    ) -> tuple[date | None, list[dict[str, Any]]]:
        """The deadline of the period and one item per unit at `level` below `parent`."""
        candidates = Reports(self._models, self._units).units_at(parent, level, period)
        records = {
            str(record["unit_id"]): record
            for record in await self._models.approval_records(programme, period.key)
        }
        approved = await self._models.approved_records(programme, period.start_iso, period.end_iso)
        scope = ApprovalScope(spans_of(approved), self._units)
        locks = await self._models.locks_meeting(programme, period.start_iso, period.end_iso)
        locked_units = {
            str(lock["unit_id"])
            for lock in locks
            if lock.get("starts_on")
            and lock["starts_on"] <= period.start_iso
            and period.end_iso <= lock["ends_on"]
        }
        counts = dict.fromkeys(candidates, 0)
        engine = IndicatorEngine(self._models, self._units)
        for recorded_on, count in (await engine.activity_counts(parent, period, programme)).items():
            for unit in self._lineage(recorded_on):
                if unit in counts:
                    counts[unit] += count
                    break
        # A period across the 2025-07-01 reorganisation cannot be submitted by any unit
        # (each edition's units report their own side of it): no deadline to miss.
        spans_reform = period.start < REFORM_DATE <= period.end
        deadline = None if spans_reform else self._deadlines.deadline(programme, period)
        items: list[dict[str, Any]] = []
        for unit in candidates:
            record = records.get(unit)
            state = str(record["state"]) if record else "open"
            node = self._units.get(unit)
            items.append(
                {
                    "unit_id": unit,
                    "name": node.name if node else None,
                    "level": node.level if node else level,
                    "state": state,
                    "path": list(record["path"]) if record else None,
                    "last_step": _last_step(record),
                    "data_approved": scope.covers_period(programme, unit, period.start, period.end),
                    "locked": any(u in locked_units for u in self._lineage(unit)),
                    "has_data": counts[unit] > 0,
                    "activities": counts[unit],
                    "deadline": deadline,
                    "overdue": self._deadlines.overdue(deadline, state, today),
                }
            )
        return deadline, items


def state_counts(items: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {state: sum(1 for item in items if item["state"] == state) for state in STATES}
