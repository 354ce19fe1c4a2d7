"""Reporting periods and the keys stored on facts."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import PeriodError, parse_period, period_keys, school_year_of


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("2023H1", date(2023, 1, 1), date(2023, 6, 30)),
        ("2023H2", date(2023, 7, 1), date(2023, 12, 31)),
        ("2024Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2023Q4", date(2023, 10, 1), date(2023, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("SY2017-2018", date(2017, 9, 1), date(2018, 8, 31)),
        ("2021-01-01..2025-12-31", date(2021, 1, 1), date(2025, 12, 31)),
        ("2025-06-30..2025-06-30", date(2025, 6, 30), date(2025, 6, 30)),
    ],
)
def test_periods_are_closed_ranges_of_days(text: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.key) == (start, end, text)


@pytest.mark.parametrize(
    "text",
    ["", "23", "2023H3", "2023Q0", "2023-13", "SY2017-2019", "SY2018-2017",
     "2025-12-31..2025-01-01", "2023-02-30..2023-03-01", "1900-01-01..2000-01-01", "last year"],
)  # fmt: skip
def test_malformed_periods_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_months_of_a_school_year() -> None:
    months = parse_period("SY2017-2018").months()
    assert months[0] == "2017-09"
    assert months[-1] == "2018-08"
    assert len(months) == 12


def test_fact_keys_put_august_in_the_closing_school_year() -> None:
    assert period_keys(date(2018, 8, 31)) == {
        "y": "2018",
        "h": "2018H2",
        "q": "2018Q3",
        "m": "2018-08",
        "sy": "SY2017-2018",
    }
    assert school_year_of(date(2018, 9, 1)) == "SY2018-2019"
    assert period_keys(date(2023, 6, 30))["h"] == "2023H1"
