"""Subscribers of the reporting service: both streams, projected into the read models.

Each handler receives a validated batch from its durable consumer and applies it to
the active generation (and, during a rebuild, to the generation being built).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.reporting.generations import Generations
from shared.contracts import CloudEvent


class RegistryHandler:
    """`REGISTRY`: units (with the in-memory hierarchy), programmes, targets, sites,
    clubs, members, approval records and locks, each kept at its highest revision."""

    def __init__(self, generations: Generations) -> None:
        self._generations = generations

    async def __call__(self, events: Sequence[CloudEvent]) -> None:
        await self._generations.apply_registry(events)


class ActivitiesHandler:
    """`ACTIVITIES`: one fact per activity at its highest version; voided facts stop
    counting."""

    def __init__(self, generations: Generations) -> None:
        self._generations = generations

    async def __call__(self, events: Sequence[CloudEvent]) -> None:
        await self._generations.apply_activities(events)
