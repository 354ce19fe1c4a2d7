"""What each write does to a stored activity and which events it causes, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.events.transitions import (
    Change,
    Outcome,
    VoidedActivityError,
    activity_id,
    decide_put,
    decide_recheck,
    decide_void,
)
from services.events.validation import Verdict
from tests.events_support.activities import club_meeting, communication_session

KEY = ("langson-p8", "HL-2023-0042")
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
PLACED = Verdict(province_id="vn63:20", lineage=["vn63:06433", "vn63:186", "vn63:20", "vn"])
WAITING = Verdict(missing=["club:club-new"])
DAY = timedelta(hours=24)


def put(current: dict[str, Any] | None, body: dict[str, Any], verdict: Verdict) -> Change:
    return decide_put(current, KEY, body, verdict, NOW)


def event_types(change: Change) -> list[str]:
    return [event.type for event in change.events]


def test_the_id_is_derived_from_the_natural_key_only() -> None:
    assert activity_id(*KEY) == activity_id("langson-p8", "HL-2023-0042")
    assert activity_id(*KEY) != activity_id("langson-p8", "HL-2023-0043")
    # No separator trick makes two keys collide.
    assert activity_id("a/b", "c") != activity_id("a", "b/c")


def test_a_new_valid_activity_is_version_1_active_and_recorded() -> None:
    change = put(None, communication_session(), PLACED)
    assert change.outcome is Outcome.CREATED
    assert (change.document["version"], change.document["status"]) == (1, "active")
    [event] = change.events
    assert event.type == "vn.bdg.activity.recorded.v1"
    assert event.province == "vn63:20"
    assert event.subject == change.document["id"] == activity_id(*KEY)
    assert change.document["_id"] == "langson-p8/HL-2023-0042"
    assert event.data["version"] == 1
    assert event.data["activity"]["title"] == "Tuyên truyền phòng, chống bạo lực học đường"


def test_the_same_body_again_changes_nothing_and_announces_nothing() -> None:
    created = put(None, communication_session(), PLACED).document
    again = put(created, communication_session(), PLACED)
    assert again.outcome is Outcome.UNCHANGED
    assert again.document is created
    assert again.events == []


def test_a_changed_body_is_the_next_version_and_revised_with_history() -> None:
    created = put(None, communication_session(), PLACED).document
    changed = put(created, communication_session(title="Diễn đàn"), PLACED)
    assert changed.outcome is Outcome.REVISED
    assert changed.document["version"] == 2
    assert event_types(changed) == ["vn.bdg.activity.revised.v1"]
    assert changed.events[0].data["activity"]["title"] == "Diễn đàn"
    assert [entry["version"] for entry in changed.history] == [1]


def test_a_pending_activity_announces_nothing_until_it_resolves() -> None:
    pending = put(None, club_meeting("club-new"), WAITING)
    assert pending.document["status"] == "pending_reference"
    assert pending.document["pending_on"] == ["club:club-new"]
    assert pending.events == []
    # Revised while pending: still pending, still silent.
    revised = put(pending.document, club_meeting("club-new", title="Họp CLB"), WAITING)
    assert (revised.document["version"], revised.events) == (2, [])
    resolved = decide_recheck(revised.document, PLACED, NOW + timedelta(minutes=5), DAY)
    assert resolved is not None
    assert resolved.document["status"] == "active"
    assert resolved.document["version"] == 2
    assert event_types(resolved) == ["vn.bdg.activity.recorded.v1"]


def test_a_pending_activity_still_unresolved_after_the_timeout_is_rejected() -> None:
    pending = put(None, club_meeting("club-new"), WAITING).document
    assert decide_recheck(pending, WAITING, NOW + timedelta(hours=23), DAY) is None
    rejected = decide_recheck(pending, WAITING, NOW + timedelta(hours=24), DAY)
    assert rejected is not None
    assert rejected.document["status"] == "rejected"
    assert rejected.document["rejection"]["errors"] == [
        {
            "loc": ["club_id"],
            "msg": "club club-new is still unknown to the registry 24 h after the activity "
            "was written (2026-01-15T03:00:00+00:00)",
        }
    ]
    assert rejected.events == []


def test_a_counted_activity_whose_revision_is_rejected_is_withdrawn() -> None:
    counted = put(None, communication_session(), PLACED).document
    waiting = put(counted, club_meeting("club-new"), WAITING).document
    assert waiting["province_id"] == "vn63:20"
    rejected = decide_recheck(waiting, WAITING, NOW + DAY, DAY)
    assert rejected is not None
    assert event_types(rejected) == ["vn.bdg.activity.voided.v1"]
    assert rejected.events[0].data["version"] == 2
    assert rejected.document["counted"] is False


def test_a_rejected_activity_sent_again_is_checked_afresh_as_a_new_version() -> None:
    pending = put(None, club_meeting("club-new"), WAITING).document
    rejected = decide_recheck(pending, WAITING, NOW + DAY, DAY)
    assert rejected is not None
    again = put(rejected.document, club_meeting("club-new"), PLACED)
    assert again.outcome is Outcome.REVISED
    assert (again.document["version"], again.document["status"]) == (2, "active")
    assert event_types(again) == ["vn.bdg.activity.recorded.v1"]


def test_void_announces_only_what_counted_and_is_idempotent() -> None:
    active = put(None, communication_session(), PLACED).document
    voided = decide_void(active, "nhập trùng", NOW)
    assert (voided.document["version"], voided.document["status"]) == (2, "voided")
    [event] = voided.events
    assert event.type == "vn.bdg.activity.voided.v1"
    assert (event.data["reason"], event.data["version"], event.province) == (
        "nhập trùng",
        2,
        "vn63:20",
    )
    again = decide_void(voided.document, "nhập trùng", NOW)
    assert (again.outcome, again.events) == (Outcome.UNCHANGED, [])
    pending = put(None, club_meeting("club-new"), WAITING).document
    assert decide_void(pending, "sai", NOW).events == []


def test_a_voided_activity_cannot_be_revised_but_a_resend_is_unchanged() -> None:
    voided = decide_void(put(None, communication_session(), PLACED).document, "sai", NOW)
    same = put(voided.document, communication_session(), PLACED)
    assert same.outcome is Outcome.UNCHANGED
    with pytest.raises(VoidedActivityError, match="was voided \\(sai\\)"):
        put(voided.document, communication_session(title="Khác"), PLACED)
