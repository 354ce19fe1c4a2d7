"""The registry's events (`bdg.registry.v1.*`), built from stored states.

Data carries only the contract's fields; the envelope's `province` names the
province of province data (villages, classifications, sites, clubs, members, locks
and approvals) and is absent for national reference data, programmes, targets and a
lock on the whole country.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from shared.contracts import (
    APPROVAL_SET,
    CLASSIFICATION_SET,
    CLUB_UPSERTED,
    LOCK_SET,
    MEMBER_UPSERTED,
    PROGRAMME_UPSERTED,
    REGISTRY,
    SITE_UPSERTED,
    TARGET_SET,
    UNIT_UPSERTED,
    ApprovalSet,
    ClassificationSet,
    CloudEvent,
    ClubUpserted,
    EventKind,
    LockSet,
    MemberUpserted,
    ProgrammeUpserted,
    SiteUpserted,
    TargetSet,
    UnitUpserted,
)
from shared.logging import current_correlation_id

SOURCE = REGISTRY.source


def _event(kind: EventKind, data: BaseModel, subject: str, province: str | None) -> CloudEvent:
    return CloudEvent.new(
        kind,
        data,
        source=SOURCE,
        subject=subject,
        correlation_id=current_correlation_id(),
        province=province,
    )


def _fields(model: type[BaseModel], state: Mapping[str, Any], revision: int) -> dict[str, Any]:
    return {name: state[name] for name in model.model_fields if name in state} | {
        "revision": revision
    }


def unit_upserted(state: Mapping[str, Any], revision: int, province: str | None) -> CloudEvent:
    data = UnitUpserted.model_validate(_fields(UnitUpserted, state, revision))
    return _event(UNIT_UPSERTED, data, data.id, province)


def classification_set(state: Mapping[str, Any], revision: int, province: str | None) -> CloudEvent:
    data = ClassificationSet.model_validate(_fields(ClassificationSet, state, revision))
    return _event(CLASSIFICATION_SET, data, f"{data.unit_id}/{data.name}", province)


def programme_upserted(state: Mapping[str, Any], revision: int) -> CloudEvent:
    data = ProgrammeUpserted.model_validate(_fields(ProgrammeUpserted, state, revision))
    return _event(PROGRAMME_UPSERTED, data, data.code, None)


def target_set(state: Mapping[str, Any], revision: int) -> CloudEvent:
    data = TargetSet.model_validate(_fields(TargetSet, state, revision))
    return _event(TARGET_SET, data, data.programme, None)


def site_upserted(state: Mapping[str, Any], revision: int) -> CloudEvent:
    data = SiteUpserted.model_validate(_fields(SiteUpserted, state, revision))
    return _event(SITE_UPSERTED, data, data.id, data.province_id)


def club_upserted(state: Mapping[str, Any], revision: int) -> CloudEvent:
    data = ClubUpserted.model_validate(_fields(ClubUpserted, state, revision))
    return _event(CLUB_UPSERTED, data, data.id, data.province_id)


def member_upserted(state: Mapping[str, Any], revision: int, province: str) -> CloudEvent:
    data = MemberUpserted.model_validate(_fields(MemberUpserted, state, revision))
    return _event(MEMBER_UPSERTED, data, data.id, province)


def lock_set(state: Mapping[str, Any], revision: int, province: str | None) -> CloudEvent:
    data = LockSet.model_validate(_fields(LockSet, state, revision))
    return _event(LOCK_SET, data, data.id, province)


def approval_set(state: Mapping[str, Any], revision: int) -> CloudEvent:
    data = ApprovalSet.model_validate(_fields(ApprovalSet, state, revision))
    return _event(APPROVAL_SET, data, data.id, data.province_id)
