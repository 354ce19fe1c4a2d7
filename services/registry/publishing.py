"""Revisions that keep growing when the registry's database is restored from a backup.

Consumers keep, per entity, the highest `revision` they have seen. A registry database
restored from a backup older than what it has published would start counting again
from the older revisions, and the consumers would ignore its next changes. So the
events carry the stored revision plus a *revision base*, kept in this database with
the `REGISTRY` stream's last sequence after each publishing pass. When the replica
that publishes takes the `outbox` lease and finds the stream holding more than its
database knows it published (a restore, a lost database, or a stop between a publish
and the note of it), the base grows by `REVISION_STEP`, above any revision one entity
reaches: every later event outranks everything published before. Stored revisions,
and those the API shows, are unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nats.js import JetStreamContext

from services.registry.repository import PublishingRepository
from shared.contracts import REGISTRY
from shared.logging import get_logger

REVISION_STEP = 1_000_000_000
_NATS_SECONDS = 5.0

log = get_logger(__name__)


class RevisionBase:
    """The base added to the revision of every event this registry publishes."""

    def __init__(
        self, repository: PublishingRepository, stream: Callable[[], JetStreamContext]
    ) -> None:
        self._repository = repository
        self._stream = stream
        self.value = 0

    async def _last_sequence(self) -> int:
        info = await self._stream().stream_info(REGISTRY.name)
        return int(info.state.last_seq)

    async def check(self) -> None:
        """Before publishing: raise the base if the stream holds events this database
        does not know it published."""
        base, noted = await self._repository.state()
        try:
            last = await asyncio.wait_for(self._last_sequence(), _NATS_SECONDS)
        except Exception as exc:  # cannot compare: raising the base is always safe
            log.warning("REGISTRY not readable: revision base raised", error=repr(exc))
            self.value = base + REVISION_STEP
            await self._repository.save(self.value, noted)
            return
        if last > noted:
            base += REVISION_STEP
            log.warning(
                "REGISTRY holds events this database did not note publishing (a restored "
                "or new database): later events outrank them",
                stream_sequence=last,
                noted_sequence=noted,
                revision_base=base,
            )
        self.value = base
        await self._repository.save(base, last)

    async def published(self) -> None:
        """After a publishing pass: note the stream's last sequence (a note missed only
        makes the next start raise the base, which is safe)."""
        try:
            last = await asyncio.wait_for(self._last_sequence(), _NATS_SECONDS)
            await self._repository.save(self.value, last)
        except Exception as exc:
            log.warning("publishing pass not noted", error=repr(exc))

    def prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        """The stored event as it goes out: its data's revision raised by the base."""
        data = event.get("data")
        if not self.value or not isinstance(data, dict) or "revision" not in data:
            return event
        return {**event, "data": {**data, "revision": int(data["revision"]) + self.value}}
