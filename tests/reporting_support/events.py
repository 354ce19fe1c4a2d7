"""The scenario as contract events, published straight to JetStream as the registry and
events services would publish them (deterministic ids, some deliberately out of order)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shared.contracts import (
    ACTIVITY_RECORDED,
    ACTIVITY_REVISED,
    ACTIVITY_VOIDED,
    CLUB_UPSERTED,
    MEMBER_UPSERTED,
    PROGRAMME_UPSERTED,
    TARGET_SET,
    UNIT_UPSERTED,
    ActivityState,
    ActivityVoided,
    CloudEvent,
    ClubUpserted,
    EventKind,
    MemberUpserted,
    ProgrammeUpserted,
    TargetSet,
    UnitUpserted,
)
from tests.reporting_support import scenario
from tests.support.events import publish_events

Published = tuple[str, CloudEvent]


def event(kind: EventKind, data: Any, subject: str, province: str | None = None) -> Published:
    cloud_event = CloudEvent(
        id=str(uuid.uuid4()),
        source=kind.stream.source,
        type=kind.type,
        subject=subject,
        time=datetime.now(UTC),
        correlationid=uuid.uuid4().hex,
        province=province,
        data=data.model_dump(mode="json"),
    )
    return kind.subject, cloud_event


def province_of(unit_id: str) -> str:
    return "vn34:20" if unit_id.startswith("vn34") else "vn63:20"


def club_id(key: str) -> str:
    return f"club-{key}"


def activity_id(key: str) -> str:
    return f"act-{key}"


def registry_events() -> list[Published]:
    published = [
        event(UNIT_UPSERTED, UnitUpserted(revision=1, **unit), unit["id"])
        for unit in scenario.UNITS
    ]
    for code, body in scenario.PROGRAMMES.items():
        published.append(
            event(PROGRAMME_UPSERTED, ProgrammeUpserted(code=code, revision=1, **body), code)
        )
    for programme, plans in scenario.TARGET_PLANS.items():
        revisions = [
            event(
                TARGET_SET, TargetSet(programme=programme, targets=plan, revision=number), programme
            )
            for number, plan in enumerate(plans, start=1)
        ]
        published.extend(reversed(revisions))  # the newer plan arrives first
    for club in scenario.CLUBS:
        data = ClubUpserted(
            id=club_id(club.key),
            source_system=scenario.SOURCE,
            external_id=club.key,
            province_id=province_of(club.body["unit_id"]),
            revision=1,
            **club.body,
        )
        published.append(event(CLUB_UPSERTED, data, data.id, data.province_id))
    for member in scenario.MEMBERS:
        revisions = [
            event(
                MEMBER_UPSERTED,
                MemberUpserted(
                    id=f"member-{member.club}-{member.code}",
                    club_id=club_id(member.club),
                    member_code=member.code,
                    revision=number,
                    **body,
                ),
                f"member-{member.club}-{member.code}",
            )
            for number, body in enumerate(member.bodies, start=1)
        ]
        published.extend(reversed(revisions))  # a correction overtaking the original
    return published


def _state(activity: scenario.Activity, version: int) -> ActivityState:
    body = dict(activity.versions[version - 1])
    if body.get("club_id"):
        body["club_id"] = club_id(body["club_id"])
    return ActivityState.model_validate(
        {
            "id": activity_id(activity.key),
            "source_system": scenario.SOURCE,
            "external_id": activity.key,
            "version": version,
            "province_id": province_of(body["unit_id"]),
            "activity": body,
        }
    )


def activity_events() -> list[Published]:
    published: list[Published] = []
    for activity in scenario.ACTIVITIES:
        own: list[Published] = []
        for version in range(1, len(activity.versions) + 1):
            kind = ACTIVITY_RECORDED if version == 1 else ACTIVITY_REVISED
            state = _state(activity, version)
            own.append(event(kind, state, state.id, state.province_id))
        if activity.voided:
            unit = activity.versions[-1]["unit_id"]
            voided = ActivityVoided(
                id=activity_id(activity.key),
                source_system=scenario.SOURCE,
                external_id=activity.key,
                version=len(activity.versions) + 1,
                province_id=province_of(unit),
                reason=activity.voided,
            )
            # The void overtakes the recording: the late version 1 must not revive it.
            own.insert(0, event(ACTIVITY_VOIDED, voided, voided.id, voided.province_id))
        if len(own) == 3 and not activity.voided:
            own = [own[0], own[2], own[1]]  # version 3 before version 2
        published.extend(own)
    return published


async def publish(nats_url: str, events: Sequence[Published]) -> int:
    """Publish in order on one connection; returns the last stream sequence."""
    return await publish_events(nats_url, [cloud_event for _, cloud_event in events])
