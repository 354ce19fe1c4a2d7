"""Relative periods, period lists, and the periods a month belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.reporting.relative_periods import (
    RELATIVE_PERIODS,
    parse_periods,
    resolve_relative,
    today_in_vietnam,
)
from shared.periods import PeriodError, month_after, parse_period, period_of_month


@pytest.mark.parametrize(
    ("month", "kind", "key"),
    [
        ("2023-11", "quarter", "2023Q4"),
        ("2023-01", "quarter", "2023Q1"),
        ("2023-06", "half", "2023H1"),
        ("2023-07", "half", "2023H2"),
        ("2023-11", "year", "2023"),
        ("2023-08", "school_year", "SY2022-2023"),
        ("2023-09", "school_year", "SY2023-2024"),
        ("2023-09", "month", "2023-09"),
    ],
)
def test_a_month_belongs_to_one_period_of_each_kind(month: str, kind: str, key: str) -> None:
    assert period_of_month(month, kind) == key
    # …and that period contains the month's first day.
    period, first_day = parse_period(key), parse_period(month).start
    assert period.start <= first_day <= period.end


def test_months_count_across_years_and_bad_months_are_refused() -> None:
    assert month_after("2023-12") == "2024-01"
    assert month_after("2024-03", -15) == "2022-12"
    with pytest.raises(PeriodError):
        period_of_month("2023-13", "year")
    with pytest.raises(PeriodError):
        period_of_month("2023-11", "fortnight")


def test_today_is_the_date_in_vietnam() -> None:
    assert today_in_vietnam(datetime(2023, 12, 31, 16, 59, tzinfo=UTC)) == date(2023, 12, 31)
    assert today_in_vietnam(datetime(2023, 12, 31, 17, 0, tzinfo=UTC)) == date(2024, 1, 1)


def test_relative_periods_on_a_day_in_the_third_quarter() -> None:
    today = date(2025, 8, 20)
    assert {name: resolve_relative(name, today) for name in RELATIVE_PERIODS} == {
        "THIS_MONTH": ["2025-08"],
        "LAST_MONTH": ["2025-07"],
        "LAST_12_MONTHS": [f"2024-{m:02d}" for m in range(8, 13)]
        + [f"2025-{m:02d}" for m in range(1, 8)],
        "THIS_QUARTER": ["2025Q3"],
        "LAST_QUARTER": ["2025Q2"],
        "LAST_4_QUARTERS": ["2024Q3", "2024Q4", "2025Q1", "2025Q2"],
        "THIS_YEAR": ["2025"],
        "LAST_YEAR": ["2024"],
        # 20 August still belongs to the school year that began in September 2024.
        "THIS_SCHOOL_YEAR": ["SY2024-2025"],
        "LAST_SCHOOL_YEAR": ["SY2023-2024"],
    }


def test_a_list_keeps_its_order_counts_a_period_once_and_says_where_each_came_from() -> None:
    selection = parse_periods("2024Q4, LAST_4_QUARTERS,2023", date(2025, 1, 15), 60)
    assert selection.keys == ["2024Q4", "2024Q1", "2024Q2", "2024Q3", "2023"]
    assert [asked.asked for asked in selection.periods] == [
        "2024Q4",
        "LAST_4_QUARTERS",
        "LAST_4_QUARTERS",
        "LAST_4_QUARTERS",
        "2023",
    ]
    assert selection.relative == {"LAST_4_QUARTERS": ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("2023,", "empty"),
        ("NEXT_YEAR", "not a relative period"),
        ("2023Q5", "not a period"),
        ("LAST_12_MONTHS,LAST_4_QUARTERS,2020,2021", "at most 15"),
    ],
)
def test_bad_lists_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(PeriodError, match=reason):
        parse_periods(text, date(2025, 1, 15), 15)
