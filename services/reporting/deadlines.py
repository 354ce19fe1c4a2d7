"""Reporting deadlines per programme and period kind, from an operator-editable file.

The file (JSON, `services/reporting/deadlines.json` unless the `deadlines_file` setting
names another) maps a programme code to rules per period kind (`year`, `H1`, `H2`,
`quarter`, `month`, `school_year`): the deadline is day `day` of the month that comes
`months_after_end` months after the period's last month, or that month's last day
when it is shorter. The file shipped holds the national rule for the ethnic-minority
programmes (P8): the first half-year by 15 September of the same year, the year (and
the second half-year, reported with it) by 31 January of the next year.

The file is read and validated once when the service starts: a broken file stops the
start with a message naming it, rather than answering without deadlines. Every replica
reads its own copy; a change takes effect at the next start.

A unit is *overdue* when today's date in Vietnam is past the deadline and its data has
not been submitted (its approval record is absent or `open`): it is flagged, never
blocked.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.periods import Period

DEFAULT_DEADLINES = Path(__file__).with_name("deadlines.json")
PeriodKind = Literal["year", "H1", "H2", "quarter", "month", "school_year"]


class DeadlineRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    months_after_end: int = Field(ge=0, le=24)
    day: int = Field(ge=1, le=31)


class DeadlineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str = ""
    programmes: dict[str, dict[PeriodKind, DeadlineRule]]


class DeadlineFileError(ValueError):
    """The deadlines file cannot be used (unreadable, not JSON, not the schema)."""


def period_kind(period: Period) -> str:
    """The kind a rule is written for: halves are told apart (`H1`, `H2`)."""
    if period.kind == "half":
        return period.key[-2:]
    return period.kind


def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Deadlines:
    rules: dict[str, dict[str, DeadlineRule]]
    source: Path

    @classmethod
    def load(cls, path: Path = DEFAULT_DEADLINES) -> Deadlines:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            parsed = DeadlineFile.model_validate(data)
        except (OSError, ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DeadlineFileError(f"the deadlines file {path} cannot be used: {first}") from exc
        rules: dict[str, dict[str, DeadlineRule]] = {
            code: {str(kind): rule for kind, rule in kinds.items()}
            for code, kinds in parsed.programmes.items()
        }
        return cls(rules, path)

    def deadline(self, programme: str, period: Period) -> date | None:
        """The day by which a unit reports `programme` for `period`; none without a rule
        (ranges never have one)."""
        rule = self.rules.get(programme, {}).get(period_kind(period))
        if rule is None:
            return None
        months = period.end.year * 12 + period.end.month - 1 + rule.months_after_end
        return _month_day(months // 12, months % 12 + 1, rule.day)

    def overdue(self, deadline: date | None, state: str, today: date) -> bool:
        """Past the deadline without a submission (no record, or one reopened)."""
        return deadline is not None and today > deadline and state == "open"
