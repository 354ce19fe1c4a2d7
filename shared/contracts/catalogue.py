"""Which event types exist, the subject each is published on and the model of its data."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from shared.contracts.streams import ACTIVITIES, REGISTRY, StreamSpec


@dataclass(frozen=True)
class EventKind:
    """One event type: `vn.bdg.<entity>.<action>.v1` on its stream's subject."""

    entity: str
    action: str
    stream: StreamSpec
    data_model: type[BaseModel]

    @property
    def type(self) -> str:
        return f"vn.bdg.{self.entity}.{self.action}.v1"

    @property
    def subject(self) -> str:
        if self.stream is ACTIVITIES:
            return f"{ACTIVITIES.subject_prefix}.{self.action}"
        return f"{REGISTRY.subject_prefix}.{self.entity}.{self.action}"


EVENT_KINDS: dict[str, EventKind] = {}


def register_kind(kind: EventKind) -> EventKind:
    if kind.type in EVENT_KINDS:
        raise ValueError(f"event type {kind.type} declared twice")
    EVENT_KINDS[kind.type] = kind
    return kind


def kind_for_type(event_type: str) -> EventKind | None:
    return EVENT_KINDS.get(event_type)
