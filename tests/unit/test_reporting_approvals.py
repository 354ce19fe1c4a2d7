"""Approved regions and reporting deadlines, without I/O."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from services.reporting.approvals import ApprovalScope, ApprovedSpan, Region, approval_filter
from services.reporting.deadlines import DEFAULT_DEADLINES, DeadlineFileError, Deadlines
from shared.http import Problem
from shared.periods import parse_period
from shared.units import UnitIndex, unit_node
from tests.reporting_support.scenario import UNITS


def index() -> UnitIndex:
    units = UnitIndex()
    units.put_many(unit_node({"_id": unit["id"], **unit}) for unit in UNITS)
    return units


def span(unit: str, period: str, programme: str = "P8") -> ApprovedSpan:
    parsed = parse_period(period)
    return ApprovedSpan(programme, unit, parsed.start, parsed.end)


def test_regions_keep_days_apart_and_drop_roots_under_other_roots() -> None:
    scope = ApprovalScope(
        [span("vn63:186", "2023Q2"), span("vn63:06433", "2023H1"), span("vn63:06300", "2023")],
        index(),
    )
    regions = scope.regions("vn63:20", date(2023, 1, 1), date(2023, 12, 31), "P8", False)
    assert regions == [
        Region("P8", date(2023, 1, 1), date(2023, 3, 31), ("vn63:06300", "vn63:06433")),
        Region("P8", date(2023, 4, 1), date(2023, 6, 30), ("vn63:06300", "vn63:186")),
        Region("P8", date(2023, 7, 1), date(2023, 12, 31), ("vn63:06300",)),
    ]
    # Asked below an approved unit: the asked unit is the root; elsewhere: nothing.
    below = scope.regions("vn63:06433.T05", date(2023, 1, 1), date(2023, 12, 31), None, False)
    assert below == [Region("P8", date(2023, 1, 1), date(2023, 6, 30), ("vn63:06433.T05",))]
    assert scope.regions("vn63:181", date(2023, 1, 1), date(2023, 1, 31), "CLC", False) == []


def test_coverage_of_a_day_and_of_a_whole_period() -> None:
    scope = ApprovalScope([span("vn63:06433", "2023H1"), span("vn63:06433", "2023H2")], index())
    assert scope.covers("P8", "vn63:06433.T05", date(2023, 6, 30))
    assert not scope.covers("CLC", "vn63:06433", date(2023, 6, 30))
    assert not scope.covers("P8", "vn63:06436", date(2023, 6, 30))
    assert scope.covers_period(None, "vn63:06433", date(2023, 1, 1), date(2023, 12, 31))
    assert not scope.covers_period("P8", "vn63:06433", date(2023, 1, 1), date(2024, 1, 1))


def test_the_approval_filter_names_its_values() -> None:
    assert approval_filter(None) == approval_filter("all") == "all"
    assert approval_filter("approved") == "approved"
    with pytest.raises(Problem) as refused:
        approval_filter("accepted")
    assert refused.value.status == 422
    assert "all, approved" in refused.value.detail


def test_shipped_deadlines_follow_the_national_rule() -> None:
    deadlines = Deadlines.load(DEFAULT_DEADLINES)
    assert deadlines.deadline("P8", parse_period("2023H1")) == date(2023, 9, 15)
    assert deadlines.deadline("P8", parse_period("2023H2")) == date(2024, 1, 31)
    assert deadlines.deadline("P8", parse_period("2023")) == date(2024, 1, 31)
    assert deadlines.deadline("P8", parse_period("2023Q1")) is None
    assert deadlines.deadline("CLC", parse_period("2023")) is None
    day = date(2023, 9, 16)
    assert deadlines.overdue(date(2023, 9, 15), "open", day)
    assert not deadlines.overdue(date(2023, 9, 15), "open", date(2023, 9, 15))
    assert not deadlines.overdue(date(2023, 9, 15), "submitted", day)
    assert not deadlines.overdue(None, "open", day)


def test_a_short_month_ends_a_deadline_and_a_broken_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deadlines.json"
    path.write_text(
        json.dumps({"programmes": {"SFES": {"quarter": {"months_after_end": 2, "day": 31}}}}),
        encoding="utf-8",
    )
    assert Deadlines.load(path).deadline("SFES", parse_period("2023Q4")) == date(2024, 2, 29)
    path.write_text(
        json.dumps({"programmes": {"P8": {"H3": {"months_after_end": 1, "day": 1}}}}),
        encoding="utf-8",
    )
    with pytest.raises(DeadlineFileError, match=str(path)):
        Deadlines.load(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(DeadlineFileError):
        Deadlines.load(path)
