"""Reporting periods: parsing the period syntax and the period keys stored on facts.

`2023`, `2023H1`, `2023Q4`, `2023-11`, school years `SY2017-2018` (1 September 2017 to
31 August 2018) and ranges `2021-01-01..2025-12-31` (both ends included). Every
period is a closed range of days; facts carry their date as an ISO string, so a
period is a string range on that field, which an index serves directly.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_YEAR = re.compile(r"^(\d{4})$")
_HALF = re.compile(r"^(\d{4})H([12])$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SCHOOL_YEAR = re.compile(r"^SY(\d{4})-(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")

# Ranges longer than this are refused: `by=month` over them would be unbounded.
MAX_RANGE_DAYS = 366 * 30


class PeriodError(ValueError):
    """A period that is not in one of the accepted forms."""


@dataclass(frozen=True)
class Period:
    key: str
    kind: str
    start: date
    end: date

    @property
    def start_iso(self) -> str:
        return self.start.isoformat()

    @property
    def end_iso(self) -> str:
        return self.end.isoformat()

    def months(self) -> list[str]:
        """The `YYYY-MM` months the period touches, in order."""
        months: list[str] = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_period(text: str) -> Period:
    """The period named by `text`, or `PeriodError` saying what is accepted."""
    value = text.strip()
    try:
        if match := _YEAR.match(value):
            year = int(match[1])
            return Period(value, "year", date(year, 1, 1), date(year, 12, 31))
        if match := _HALF.match(value):
            year, half = int(match[1]), int(match[2])
            first = 1 if half == 1 else 7
            return Period(value, "half", date(year, first, 1), _month_end(year, first + 5))
        if match := _QUARTER.match(value):
            year, quarter = int(match[1]), int(match[2])
            first = 3 * (quarter - 1) + 1
            return Period(value, "quarter", date(year, first, 1), _month_end(year, first + 2))
        if match := _MONTH.match(value):
            year, month = int(match[1]), int(match[2])
            return Period(value, "month", date(year, month, 1), _month_end(year, month))
        if match := _SCHOOL_YEAR.match(value):
            first, second = int(match[1]), int(match[2])
            if second != first + 1:
                raise PeriodError("a school year is two consecutive years, e.g. SY2017-2018")
            return Period(value, "school_year", date(first, 9, 1), date(second, 8, 31))
        if match := _RANGE.match(value):
            start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
            if end < start:
                raise PeriodError("a range must not end before it starts")
            if (end - start).days > MAX_RANGE_DAYS:
                raise PeriodError("a range may span at most 30 years")
            return Period(value, "range", start, end)
    except ValueError as exc:
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"{value!r} is not a valid period: {exc}") from exc
    raise PeriodError(
        f"{value!r} is not a period; use 2023, 2023H1, 2023Q4, 2023-11, SY2017-2018 "
        "or 2021-01-01..2025-12-31"
    )


def school_year_of(day: date) -> str:
    """`SY2017-2018` for any day from 1 September 2017 to 31 August 2018."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"SY{first}-{first + 1}"


def period_keys(day: date) -> dict[str, str]:
    """The period keys stored on a fact (no date operators are needed at query time)."""
    return {
        "y": f"{day.year:04d}",
        "h": f"{day.year:04d}H{1 if day.month <= 6 else 2}",
        "q": f"{day.year:04d}Q{(day.month - 1) // 3 + 1}",
        "m": f"{day.year:04d}-{day.month:02d}",
        "sy": school_year_of(day),
    }


# --- periods a month belongs to (splits by quarter, year, … derived from months) ------

# The period kinds a month can be mapped to, by the name a `by` split uses.
MONTH_GROUPINGS = ("month", "quarter", "half", "year", "school_year")


def _month_parts(month: str) -> tuple[int, int]:
    if not _MONTH.match(month):
        raise PeriodError(f"{month!r} is not a month (YYYY-MM)")
    year, number = int(month[:4]), int(month[5:7])
    if not 1 <= number <= 12:
        raise PeriodError(f"{month!r} is not a month (YYYY-MM)")
    return year, number


def period_of_month(month: str, kind: str) -> str:
    """The key of the period of `kind` (one of MONTH_GROUPINGS) containing `month`:
    `2023-11` → `2023Q4` (quarter), `2023H2` (half), `2023` (year), `SY2023-2024`
    (school year: September to August). Keys are those `parse_period` reads."""
    year, number = _month_parts(month)
    if kind == "month":
        return f"{year:04d}-{number:02d}"
    if kind == "quarter":
        return f"{year:04d}Q{(number - 1) // 3 + 1}"
    if kind == "half":
        return f"{year:04d}H{1 if number <= 6 else 2}"
    if kind == "year":
        return f"{year:04d}"
    if kind == "school_year":
        return school_year_of(date(year, number, 1))
    raise PeriodError(f"{kind!r} is not one of {', '.join(MONTH_GROUPINGS)}")


def month_after(month: str, count: int = 1) -> str:
    """The month `count` months after `month` (before it when negative)."""
    year, number = _month_parts(month)
    index = year * 12 + (number - 1) + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
