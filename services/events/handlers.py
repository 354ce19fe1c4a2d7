"""Subscribers of the events service: the registry replica used for validation."""

from __future__ import annotations

from collections.abc import Sequence

from services.events.repository import ReferenceRepository
from shared.contracts import PROGRAMME_UPSERTED, CloudEvent


class RegistryReplicaHandler:
    """Applies `REGISTRY` events to the local reference collections."""

    def __init__(self, references: ReferenceRepository) -> None:
        self._references = references

    async def __call__(self, events: Sequence[CloudEvent]) -> None:
        programmes = [
            {"_id": event.data["code"], **event.data}
            for event in events
            if event.type == PROGRAMME_UPSERTED.type
        ]
        if programmes:
            await self._references.apply_programmes(programmes)
