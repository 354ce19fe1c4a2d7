"""The rules an activity must meet against the registry replica, without I/O."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.events.items import ACTIVITY_ADAPTER
from services.events.validation import Verdict, validate
from tests.events_support.activities import club_meeting, communication_session
from tests.events_support.registry import (
    CENTRE_VAN_NHAM,
    CLUB_BAN_MAY,
    CLUB_VAN_NHAM,
    SCHOOL_VAN_NHAM,
    club_event,
    reference_cache,
)

TODAY = date(2026, 1, 15)


def check(body: dict[str, Any], today: date = TODAY) -> Verdict:
    return validate(ACTIVITY_ADAPTER.validate_python(body), reference_cache(), today)


def messages(verdict: Verdict) -> list[str]:
    return [error["msg"] for error in verdict.errors]


def test_a_valid_activity_lies_in_its_commune_district_province_and_nation() -> None:
    verdict = check(communication_session())
    assert verdict.valid
    assert verdict.province_id == "vn63:20"
    assert verdict.lineage == ["vn63:06433", "vn63:186", "vn63:20", "vn"]


def test_a_vn63_unit_after_the_reform_is_rejected_naming_its_vn34_successor() -> None:
    verdict = check(communication_session(started_on="2025-08-01", ended_on="2025-08-01"))
    assert verdict.kind == "wrong-unit-edition"
    assert verdict.errors[0]["loc"] == ["unit_id"]
    assert "vn34:06415 (Xã Vân Nham)" in verdict.errors[0]["msg"]
    assert "2025-06-30" in verdict.errors[0]["msg"]
    assert verdict.successors == [{"unit_id": "vn34:06415", "share": 1.0, "name": "Xã Vân Nham"}]


def test_a_vn63_unit_on_the_last_day_before_the_reform_is_accepted() -> None:
    assert check(communication_session(started_on="2025-06-30", ended_on="2025-07-02")).valid


def test_a_vn34_unit_before_the_reform_is_rejected_naming_its_predecessors() -> None:
    verdict = check(
        communication_session(unit_id="vn34:06415", started_on="2024-05-01", ended_on="2024-05-01")
    )
    assert verdict.kind == "wrong-unit-edition"
    msg = verdict.errors[0]["msg"]
    # vn34:06415 reuses the code of the old Xã Minh Tiến, one of the communes it absorbed.
    assert "vn63:06415 (Xã Minh Tiến)" in msg
    assert "vn63:06433 (Xã Vân Nham)" in msg
    assert [unit["unit_id"] for unit in verdict.predecessors or []] == [
        "vn63:06415",
        "vn63:06433",
    ]


def test_dates_in_the_future_are_rejected_with_today_named() -> None:
    body = communication_session(
        unit_id="vn34:06415", started_on="2026-01-10", ended_on="2026-01-16"
    )
    verdict = check(body)
    assert verdict.errors == [
        {
            "loc": ["ended_on"],
            "msg": "ended_on 2026-01-16 is in the future (today is 2026-01-15 in Vietnam)",
        }
    ]


@pytest.mark.parametrize("unit_id", ["06433", "vn63-06433", "vn99:06433", "vn"])
def test_a_malformed_unit_id_is_an_error_not_a_pending_reference(unit_id: str) -> None:
    verdict = check(communication_session(unit_id=unit_id))
    assert verdict.errors[0]["loc"] == ["unit_id"]
    assert not verdict.missing


def test_unknown_but_well_formed_references_make_the_activity_pending() -> None:
    verdict = check(
        club_meeting("club-new", unit_id="vn63:06433.T05", programme="NEW", site_id="site-new")
    )
    assert verdict.pending
    assert sorted(verdict.missing) == [
        "club:club-new",
        "programme:NEW",
        "site:site-new",
        "unit:vn63:06433.T05",
    ]


def test_a_club_in_another_province_is_rejected_naming_both_provinces() -> None:
    verdict = check(club_meeting(CLUB_BAN_MAY))
    assert messages(verdict) == [
        f"club {CLUB_BAN_MAY} (CLB THCS Bản Máy) lies in vn63:02 (Tỉnh Hà Giang), but the "
        "activity's unit vn63:06433 lies in vn63:20 (Tỉnh Lạng Sơn)"
    ]


def test_a_club_registered_before_the_reform_is_in_the_same_province_after_it() -> None:
    after = {"started_on": "2025-09-10", "ended_on": "2025-09-10"}
    assert check(club_meeting(CLUB_VAN_NHAM, unit_id="vn34:06415", **after)).valid
    # Hà Giang went into Tuyên Quang (vn34:08).
    assert check(club_meeting(CLUB_BAN_MAY, unit_id="vn34:01024", **after)).valid
    verdict = check(club_meeting(CLUB_BAN_MAY, unit_id="vn34:06415", **after))
    assert "lies in vn63:02 (Tỉnh Hà Giang)" in messages(verdict)[0]


def test_a_club_dissolved_before_the_activity_is_rejected() -> None:
    cache = reference_cache()
    dissolved = club_event(
        "club-old", "vn63:06433", "vn63:20", dissolved_on=date(2022, 6, 1), name="CLB cũ"
    )
    cache.put_clubs([{"_id": "club-old", **dissolved.data}])
    verdict = validate(ACTIVITY_ADAPTER.validate_python(club_meeting("club-old")), cache, TODAY)
    assert messages(verdict) == [
        "club club-old (CLB cũ) was dissolved on 2022-06-01, before the activity started"
    ]


def test_a_learning_centre_class_needs_a_learning_centre() -> None:
    body = communication_session(type="learning_centre_class", programme="CLC")
    assert check({**body, "site_id": CENTRE_VAN_NHAM}).valid
    verdict = check({**body, "site_id": SCHOOL_VAN_NHAM})
    assert verdict.errors == [
        {
            "loc": ["site_id"],
            "msg": f"site {SCHOOL_VAN_NHAM} (Trường THCS Vân Nham) is a school; "
            "a learning_centre_class needs a learning_centre",
        }
    ]


def test_a_school_exchange_checks_its_partner_schools() -> None:
    body = communication_session(
        type="school_exchange",
        programme="SFES",
        site_id=SCHOOL_VAN_NHAM,
        partner_site_ids=[CENTRE_VAN_NHAM, "site-unknown"],
    )
    verdict = check(body)
    assert verdict.errors[0]["loc"] == ["partner_site_ids", 0]
    assert verdict.missing == ["site:site-unknown"]


def test_type_rules_support_rating_and_roles() -> None:
    support = communication_session(
        type="support_delivery",
        support_kind="scholarship",
        beneficiaries={"women": 0, "children": 0},
        value_vnd=3_000_000,
    )
    assert check(support).errors[0]["loc"] == ["beneficiaries"]
    rating = communication_session(
        type="learning_centre_rating",
        programme="CLC",
        site_id=CENTRE_VAN_NHAM,
        school_year="2024-2025",
        grade="good",
    )
    assert check(rating).errors[0]["loc"] == ["school_year"]
    assert check({**rating, "school_year": "2022-2023"}).valid
    crowded = communication_session(roles={"student": 60})
    assert messages(check(crowded)) == [
        "roles add up to 60, more than the 55 participants (female + male)"
    ]
