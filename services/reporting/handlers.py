"""Subscribers of the reporting service: projections of both streams into read models."""

from __future__ import annotations

from collections.abc import Sequence

from services.reporting.repository import ProgrammeReadModel
from shared.contracts import PROGRAMME_UPSERTED, CloudEvent


class RegistryProjection:
    """Applies `REGISTRY` events to the reporting read models."""

    def __init__(self, programmes: ProgrammeReadModel) -> None:
        self._programmes = programmes

    async def __call__(self, events: Sequence[CloudEvent]) -> None:
        programmes = [
            {"_id": event.data["code"], **event.data}
            for event in events
            if event.type == PROGRAMME_UPSERTED.type
        ]
        if programmes:
            await self._programmes.apply(programmes)
