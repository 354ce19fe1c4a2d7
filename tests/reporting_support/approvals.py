"""Approval records, locks and a few activities as the registry and events services
publish them, for the approval tests (exact figures below each)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contracts import (
    ACTIVITY_RECORDED,
    APPROVAL_SET,
    CLUB_UPSERTED,
    LOCK_SET,
    MEMBER_UPSERTED,
    PROGRAMME_UPSERTED,
    UNIT_UPSERTED,
    ActivityState,
    ApprovalSet,
    ClubUpserted,
    LockSet,
    MemberUpserted,
    ProgrammeUpserted,
    UnitUpserted,
    approval_key,
    lock_key,
)
from shared.contracts.approvals import ApprovalState, ApprovalStep
from tests.reporting_support import scenario
from tests.reporting_support.events import Published, event, province_of

VN63_PATH: list[ApprovalState] = ["open", "submitted", "approved", "accepted"]
_STATE_OF = {"submit": "submitted", "approve": "approved", "accept": "accepted"}


def reference_events() -> list[Published]:
    """The scenario's units and programmes, and one P8 club with three members in Vân
    Nham (vn63:06433) and one with one member in Đồng Tiến (vn63:06436)."""
    published = [
        event(UNIT_UPSERTED, UnitUpserted(revision=1, **unit), unit["id"])
        for unit in scenario.UNITS
    ]
    for code, body in scenario.PROGRAMMES.items():
        published.append(
            event(PROGRAMME_UPSERTED, ProgrammeUpserted(code=code, revision=1, **body), code)
        )
    for key, unit, members in (("VN", "vn63:06433", 3), ("DT", "vn63:06436", 1)):
        club = ClubUpserted(
            id=f"club-{key}",
            source_system="test",
            external_id=key,
            name=f"CLB {key}",
            kind="school",
            unit_id=unit,
            province_id="vn63:20",
            programme="P8",
            established_on=datetime(2022, 9, 1).date(),
            revision=1,
        )
        published.append(event(CLUB_UPSERTED, club, club.id, club.province_id))
        for number in range(members):
            member = MemberUpserted(
                id=f"member-{key}-{number}",
                club_id=club.id,
                member_code=f"M{number}",
                sex="female" if number % 2 == 0 else "male",
                ethnic_minority=True,
                joined_on=datetime(2022, 9, 1).date(),
                revision=1,
            )
            published.append(event(MEMBER_UPSERTED, member, member.id))
    return published


# (key, programme, unit, day, female, male): communication sessions.
SESSIONS: list[tuple[str, str, str, str, int, int]] = [
    ("VN-1", "P8", "vn63:06433", "2023-03-10", 10, 5),  # approved commune: 15
    ("VN-T05", "P8", "vn63:06433.T05", "2023-04-02", 4, 1),  # village under it: 5
    ("DT-1", "P8", "vn63:06436", "2023-05-05", 20, 10),  # submitted only: 30
    ("MT-1", "P8", "vn63:06445", "2023-02-01", 7, 0),  # approved, then reopened: 7
    ("VN-H2", "P8", "vn63:06433", "2023-08-01", 3, 3),  # after the approved half: 6
    ("VN-CLC", "CLC", "vn63:06433", "2023-03-01", 2, 2),  # another programme: 4
]
ALL_2023 = 67
APPROVED_2023 = 20


def activity_events() -> list[Published]:
    published: list[Published] = []
    for key, programme, unit, day, female, male in SESSIONS:
        state = ActivityState.model_validate(
            {
                "id": f"act-{key}",
                "source_system": "test",
                "external_id": key,
                "version": 1,
                "province_id": province_of(unit),
                "activity": {
                    "type": "communication_session",
                    "programme": programme,
                    "unit_id": unit,
                    "title": f"Truyền thông {key}",
                    "started_on": day,
                    "ended_on": day,
                    "participants": {"female": female, "male": male},
                },
            }
        )
        published.append(event(ACTIVITY_RECORDED, state, state.id, state.province_id))
    return published


def approval(
    unit_id: str,
    actions: list[str],
    period: str = "2023H1",
    programme: str = "P8",
    path: list[ApprovalState] | None = None,
) -> Published:
    """The record after `actions` (submit, approve, accept, reopen); its revision is the
    number of steps taken."""
    steps: list[ApprovalStep] = []
    state: ApprovalState = "open"
    for number, action in enumerate(actions, start=1):
        state = "submitted" if action == "reopen" else _STATE_OF[action]  # type: ignore[assignment]
        steps.append(
            ApprovalStep(
                action=action,  # type: ignore[arg-type]
                state=state,
                by=f"officer-{action}",
                at=datetime(2023, 8, number, 3, 0, tzinfo=UTC),
                reason="sai số liệu" if action == "reopen" else None,
            )
        )
    data = ApprovalSet(
        id=approval_key(programme, period, unit_id),
        revision=len(actions),
        programme=programme,
        period=period,
        unit_id=unit_id,
        province_id="vn63:20",
        state=state,
        path=path or VN63_PATH,
        steps=steps,
    )
    return event(APPROVAL_SET, data, data.id, data.province_id)


def lock(unit_id: str, period: str = "2023H1", programme: str = "P8") -> Published:
    data = LockSet(
        id=lock_key(programme, period, unit_id, "approval"),
        revision=1,
        programme=programme,
        period=period,
        unit_id=unit_id,
        locked=True,
        origin="approval",
        reason="Đã phê duyệt",
        since=datetime(2023, 8, 2, 3, 0, tzinfo=UTC),
        by="officer-approve",
    )
    return event(LOCK_SET, data, data.id, "vn63:20")


def approval_events() -> list[Published]:
    """Vân Nham approved (the older revision arriving late), Đồng Tiến submitted, Minh
    Tiến approved and then reopened; Văn An (vn63:06300) has no record."""
    return [
        approval("vn63:06433", ["submit", "approve"]),
        approval("vn63:06433", ["submit"]),  # out of order: changes nothing
        lock("vn63:06433"),
        approval("vn63:06436", ["submit"]),
        approval("vn63:06445", ["submit"]),
        approval("vn63:06445", ["submit", "approve"]),
        approval("vn63:06445", ["submit", "approve", "reopen"]),
    ]


def params(**given: Any) -> dict[str, str]:
    return {key: str(value) for key, value in given.items()}
