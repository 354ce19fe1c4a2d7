"""Which province an activity belongs to, and who may write or read it, without I/O."""

from __future__ import annotations

from datetime import date

import pytest

from services.events.access import activity_province, authorizable
from services.events.items import ACTIVITY_ADAPTER
from services.events.validation import validate
from shared.auth import Principal
from shared.edge.authorization import refusal, require_role
from shared.http import Problem
from tests.events_support.activities import club_meeting, communication_session
from tests.events_support.registry import CLUB_BAN_MAY, reference_cache

TODAY = date(2026, 1, 15)
LANGSON = Principal("langson-app", frozenset({"submitter"}), frozenset({"vn63:20", "vn34:20"}))
VIEWER = Principal("langson-dashboard", frozenset({"viewer"}), frozenset({"vn63:20"}))


@pytest.mark.parametrize(
    ("unit_id", "province"),
    [
        ("vn63:20", "vn63:20"),
        ("vn63:186", "vn63:20"),
        ("vn63:06433", "vn63:20"),
        ("vn34:06415", "vn34:20"),
        ("vn63:01024", "vn63:02"),
        # A village not registered yet lies where its commune lies.
        ("vn63:06433.T05", "vn63:20"),
        ("vn34:01024.T01", "vn34:08"),
        # Nothing tells where an unknown commune lies, nor a village of one.
        ("vn63:99999", None),
        ("vn63:99999.T01", None),
        ("not-a-unit", None),
    ],
)
def test_the_province_of_a_unit_comes_from_the_replica(unit_id: str, province: str | None) -> None:
    assert reference_cache().province_of(unit_id) == province


def test_a_stored_activity_keeps_its_province_and_falls_back_to_its_unit() -> None:
    cache = reference_cache()
    body = communication_session(unit_id="vn63:06433.T05")
    assert activity_province(cache, {"province_id": "vn63:02", "activity": body}) == "vn63:02"
    assert activity_province(cache, {"province_id": None, "activity": body}) == "vn63:20"


def test_a_pending_village_activity_is_placed_in_its_communes_province() -> None:
    body = communication_session(unit_id="vn63:06433.T05")
    verdict = validate(ACTIVITY_ADAPTER.validate_python(body), reference_cache(), TODAY)
    assert verdict.pending
    assert verdict.province_id == "vn63:20"
    # So a club of another province is refused at once, not after the village arrives.
    other = club_meeting(CLUB_BAN_MAY, unit_id="vn63:06433.T05")
    verdict = validate(ACTIVITY_ADAPTER.validate_python(other), reference_cache(), TODAY)
    assert [error["loc"] for error in verdict.errors] == [["club_id"]]


def test_a_submitter_may_write_its_provinces_in_both_editions_only() -> None:
    assert refusal(LANGSON, "submitter", "vn63:20") is None
    assert refusal(LANGSON, "submitter", "vn34:20") is None
    assert refusal(LANGSON, "viewer", "vn34:20") is None
    problem = refusal(LANGSON, "submitter", "vn63:02")
    assert problem is not None
    assert (problem.status, problem.kind) == (403, "forbidden")
    assert problem.extensions == {"required_role": "submitter", "required_province": "vn63:02"}
    national = refusal(LANGSON, "submitter", None)
    assert national is not None
    assert national.extensions["required_province"] == "vn"
    assert "national scope" in national.detail
    assert "does not act for province vn63:02" in problem.detail


def test_a_viewer_may_read_but_not_write() -> None:
    assert refusal(VIEWER, "viewer", "vn63:20") is None
    assert refusal(VIEWER, "submitter", "vn63:20") is not None
    require_role(VIEWER, "viewer")
    with pytest.raises(Problem) as raised:
        require_role(VIEWER, "submitter")
    assert raised.value.extensions["required_role"] == "submitter"
    assert "needs role 'submitter'" in raised.value.detail


@pytest.mark.parametrize(
    ("unit_id", "checked"),
    [("vn63:06433", True), ("vn63:06433.T05", True), ("vn", False), ('{"$gt": ""}', False)],
)
def test_rights_are_checked_on_well_formed_units_only(unit_id: str, checked: bool) -> None:
    # Others are refused by validation, with a message about the id itself.
    assert authorizable(unit_id) is checked
