"""Subscribers of the events service: the registry replica used for validation."""

from __future__ import annotations

from collections.abc import Sequence

from services.events.pending import PendingResolver
from services.events.replica import RegistryReplica
from shared.contracts import CloudEvent


class RegistryReplicaHandler:
    """Applies `REGISTRY` events to the replica, then resolves what waited for them.

    Idempotent: the replica keeps the highest revision per entity, and resolving
    checks pending activities against the current references only.
    """

    def __init__(self, replica: RegistryReplica, resolver: PendingResolver) -> None:
        self._replica = replica
        self._resolver = resolver

    async def __call__(self, events: Sequence[CloudEvent]) -> None:
        changed = await self._replica.apply(events)
        await self._resolver.resolve(changed)
