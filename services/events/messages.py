"""The events the service publishes about activities, built from a stored document."""

from __future__ import annotations

from shared.contracts import (
    ACTIVITIES,
    ACTIVITY_RECORDED,
    ACTIVITY_REVISED,
    ACTIVITY_VOIDED,
    ActivityState,
    ActivityVoided,
    CloudEvent,
)
from shared.contracts.catalogue import EventKind
from shared.logging import current_correlation_id
from shared.mongo import Document

SOURCE = ACTIVITIES.source


def _event(kind: EventKind, data: ActivityState | ActivityVoided, province: str) -> CloudEvent:
    return CloudEvent.new(
        kind,
        data,
        source=SOURCE,
        subject=data.id,
        correlation_id=current_correlation_id(),
        province=province,
    )


def state_event(document: Document, *, first: bool) -> CloudEvent:
    """`recorded` when the activity starts counting, `revised` when it already counts."""
    province = document["province_id"]
    data = ActivityState.model_validate(
        {
            "id": document["id"],
            "source_system": document["source_system"],
            "external_id": document["external_id"],
            "version": document["version"],
            "province_id": province,
            "activity": document["activity"],
        }
    )
    return _event(ACTIVITY_RECORDED if first else ACTIVITY_REVISED, data, province)


def voided_event(document: Document, reason: str) -> CloudEvent:
    province = document["province_id"]
    data = ActivityVoided(
        id=document["id"],
        source_system=document["source_system"],
        external_id=document["external_id"],
        version=document["version"],
        province_id=province,
        reason=reason,
    )
    return _event(ACTIVITY_VOIDED, data, province)
