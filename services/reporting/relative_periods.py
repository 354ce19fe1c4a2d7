"""Period lists and relative periods, resolved on today's date in Vietnam.

`period` takes a comma list of periods (`2023Q1,2023Q2`) and relative periods, which
expand the way DHIS2's do: `THIS_YEAR`, `LAST_YEAR`, `THIS_SCHOOL_YEAR`,
`LAST_SCHOOL_YEAR`, `THIS_QUARTER`, `LAST_QUARTER`, `THIS_MONTH`, `LAST_MONTH` are one
period each; `LAST_4_QUARTERS` is the four whole quarters before the current one and
`LAST_12_MONTHS` the twelve whole months before the current one, one period each.
"Today" is the date in Vietnam (UTC+7, no daylight saving time), so a query at
23:30 UTC on 31 December already counts as the new year. Answers echo what each
relative period resolved to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from shared.periods import Period, PeriodError, month_after, parse_period, school_year_of

VIETNAM = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
TIME_ZONE = "Asia/Ho_Chi_Minh"
RELATIVE_PERIODS = (
    "THIS_MONTH",
    "LAST_MONTH",
    "LAST_12_MONTHS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "LAST_4_QUARTERS",
    "THIS_YEAR",
    "LAST_YEAR",
    "THIS_SCHOOL_YEAR",
    "LAST_SCHOOL_YEAR",
)


def today_in_vietnam(now: datetime | None = None) -> date:
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(VIETNAM).date()


def _quarter(year: int, number: int) -> str:
    return f"{year:04d}Q{number}"


def _quarters_back(today: date, count: int) -> list[str]:
    """The `count` whole quarters before the current one, oldest first."""
    index = today.year * 4 + (today.month - 1) // 3
    return [_quarter(i // 4, i % 4 + 1) for i in range(index - count, index)]


def resolve_relative(name: str, today: date) -> list[str]:
    """The period keys a relative period stands for on `today` (oldest first)."""
    this_month = f"{today.year:04d}-{today.month:02d}"
    this_school_year = school_year_of(today)
    first = int(this_school_year[2:6])
    resolved = {
        "THIS_MONTH": [this_month],
        "LAST_MONTH": [month_after(this_month, -1)],
        "LAST_12_MONTHS": [month_after(this_month, offset) for offset in range(-12, 0)],
        "THIS_QUARTER": [_quarter(today.year, (today.month - 1) // 3 + 1)],
        "LAST_QUARTER": _quarters_back(today, 1),
        "LAST_4_QUARTERS": _quarters_back(today, 4),
        "THIS_YEAR": [f"{today.year:04d}"],
        "LAST_YEAR": [f"{today.year - 1:04d}"],
        "THIS_SCHOOL_YEAR": [this_school_year],
        "LAST_SCHOOL_YEAR": [f"SY{first - 1}-{first}"],
    }
    if name not in resolved:
        raise PeriodError(f"{name!r} is not a relative period")
    return resolved[name]


@dataclass(frozen=True)
class AskedPeriod:
    """One period of an answer and what the request said to get it (`2023Q1`, or the
    relative period it came from)."""

    period: Period
    asked: str


@dataclass(frozen=True)
class PeriodSelection:
    periods: tuple[AskedPeriod, ...]
    today: date
    relative: dict[str, list[str]] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [asked.period.key for asked in self.periods]


def parse_periods(text: str, today: date, most: int) -> PeriodSelection:
    """A comma list of periods and relative periods, in the order given (a period
    named twice counts once); `PeriodError` for anything else or more than `most`."""
    names = [part.strip() for part in text.split(",")]
    if not any(names) or not all(names):
        raise PeriodError("period is a comma list of periods, without empty items")
    chosen: dict[str, AskedPeriod] = {}
    relative: dict[str, list[str]] = {}
    for name in names:
        if name.upper() in RELATIVE_PERIODS:
            keys = resolve_relative(name.upper(), today)
            relative[name.upper()] = keys
            for key in keys:
                chosen.setdefault(key, AskedPeriod(parse_period(key), name.upper()))
        elif name.isupper() and "_" in name:
            raise PeriodError(
                f"{name!r} is not a relative period; use {', '.join(RELATIVE_PERIODS)}"
            )
        else:
            period = parse_period(name)
            chosen.setdefault(period.key, AskedPeriod(period, name))
    if len(chosen) > most:
        raise PeriodError(f"at most {most} periods per request ({len(chosen)} asked)")
    return PeriodSelection(tuple(chosen.values()), today, relative)
