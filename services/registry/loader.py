"""Loads the national reference at every start, idempotently and without a network.

1. Read the package (≈0.4 s) and shape the selected provinces into chunks.
2. Compare each chunk's checksum with the stored one: equal chunks cost nothing;
   a changed chunk gets new revisions (and events) for the units that changed only.
3. Put every unit in the in-memory directory at once, so the API answers at once.
4. Store the new or changed chunks in the background, each with its events, a
   group of about `group_events` events at a time, and wait for the outbox relay to
   publish a group before writing the next: a province's chunk carries its units'
   events, and groups keep each document and each relay pass small.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from services.registry.directory import UnitDirectory
from services.registry.messages import unit_upserted
from services.registry.reference import Chunk, NationalReference, Selection, build_reference
from services.registry.repository import ReferenceRepository, new_document
from shared.contracts import CloudEvent
from shared.logging import correlation_scope, get_logger
from shared.mongo import Document

log = get_logger(__name__)

UnitState = dict[str, Any]


@dataclass
class ChunkWrite:
    chunk: Chunk
    units: list[UnitState]  # with revisions
    changed: list[UnitState]  # the units whose events go with this write
    held_revision: int | None  # the stored chunk's revision; None for a new chunk


@dataclass
class LoadStatus:
    units: int = 0
    chunks: int = 0
    chunks_to_write: int = 0
    chunks_written: int = 0
    events_to_publish: int = 0
    events_published: int = 0
    prepared_seconds: float = 0.0
    published_seconds: float | None = None
    fingerprint: str = ""
    dropped_links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def state(self) -> Literal["storing", "publishing", "complete"]:
        if self.published_seconds is not None:
            return "complete"
        return "publishing" if self.chunks_written else "storing"


def _revised(chunk: Chunk, held: Document | None) -> tuple[list[UnitState], list[UnitState]]:
    """The chunk's units with revisions, and those that are new or changed."""
    held_units = {unit["id"]: unit for unit in (held or {}).get("units", [])}
    units: list[UnitState] = []
    changed: list[UnitState] = []
    for state in chunk.units:
        before = held_units.pop(state["id"], None)
        if before is not None and {k: before.get(k) for k in state} == state:
            units.append(before)
            continue
        revised = {**state, "revision": 1 if before is None else int(before["revision"]) + 1}
        units.append(revised)
        changed.append(revised)
    # A unit the package no longer lists is kept: clubs and figures may refer to it.
    units.extend(held_units.values())
    return units, changed


class ReferenceLoader:
    def __init__(
        self,
        repository: ReferenceRepository,
        directory: UnitDirectory,
        wake_relay: Callable[[], None],
        *,
        group_events: int = 500,
        poll_seconds: float = 0.02,
    ) -> None:
        self._repository = repository
        self._directory = directory
        self._wake_relay = wake_relay
        self._group_events = group_events
        self._poll_seconds = poll_seconds
        self._writes: list[ChunkWrite] = []
        self._started = time.monotonic()
        self.status = LoadStatus()

    async def prepare(self, selection: Selection) -> None:
        """Work out what to store and fill the directory; takes well under a second."""
        self._started = time.monotonic()
        reference: NationalReference = await asyncio.to_thread(build_reference, selection)
        stored = {document["_id"]: document for document in await self._repository.chunks()}
        for chunk in reference.chunks:
            held = stored.pop(chunk.id, None)
            if held is not None and held.get("checksum") == chunk.checksum:
                self._directory.put_many(held["units"])
                continue
            units, changed = _revised(chunk, held)
            self._directory.put_many(units)
            held_revision = None if held is None else int(held["revision"])
            self._writes.append(ChunkWrite(chunk, units, changed, held_revision))
        for held in stored.values():  # provinces stored earlier, outside this selection
            self._directory.put_many(held["units"])
        self.status = LoadStatus(
            units=len(self._directory),
            chunks=len(reference.chunks),
            chunks_to_write=len(self._writes),
            events_to_publish=sum(len(write.changed) for write in self._writes),
            prepared_seconds=time.monotonic() - self._started,
            fingerprint=reference.fingerprint,
            dropped_links=sorted(reference.crosswalk.dropped),
        )
        if not self._writes:
            self.status.published_seconds = self.status.prepared_seconds
        log.info(
            "national reference prepared",
            units=self.status.units,
            chunks_to_write=self.status.chunks_to_write,
            events=self.status.events_to_publish,
            seconds=round(self.status.prepared_seconds, 3),
        )

    async def store_and_publish(self) -> None:
        """Store the prepared chunks group by group, each after the previous is published.

        A failing step (MongoDB away) is retried with back-off; both steps are safe
        to repeat."""
        with correlation_scope(f"reference-{self.status.fingerprint[:16]}"):
            for group in list(self._groups()):
                await self._retrying(self._store, group)
                self._wake_relay()
                await self._retrying(self._published, group)
                self.status.events_published += sum(len(write.changed) for write in group)
        self._writes = []
        self.status.published_seconds = time.monotonic() - self._started
        log.info(
            "national reference stored and published",
            events=self.status.events_published,
            seconds=round(self.status.published_seconds, 3),
        )

    async def _retrying(
        self, step: Callable[[list[ChunkWrite]], Awaitable[None]], group: list[ChunkWrite]
    ) -> None:
        delay = 0.5
        while True:
            try:
                await step(group)
                return
            except Exception as exc:
                log.warning(
                    "storing the reference failed; retrying", error=repr(exc), retry_in=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _groups(self) -> Iterator[list[ChunkWrite]]:
        group: list[ChunkWrite] = []
        size = 0
        for write in self._writes:
            group.append(write)
            size += len(write.changed)
            if size >= self._group_events:
                yield group
                group, size = [], 0
        if group:
            yield group

    async def _store(self, group: list[ChunkWrite]) -> None:
        inserts: list[Document] = []
        for write in group:
            events = self._events(write)
            fields = {"checksum": write.chunk.checksum, "units": write.units}
            if write.held_revision is None:
                inserts.append(new_document(write.chunk.id, fields, events))
            elif not await self._repository.replace(
                write.chunk.id, write.held_revision, fields, events
            ):
                log.warning("reference chunk changed by another writer", chunk=write.chunk.id)
        if inserts:
            for taken in await self._repository.insert(inserts):
                log.warning("reference chunk stored by another writer", chunk=taken)
        self.status.chunks_written += len(group)

    def _events(self, write: ChunkWrite) -> list[CloudEvent]:
        return [unit_upserted(state, state["revision"], None) for state in write.changed]

    async def _published(self, group: list[ChunkWrite]) -> None:
        """Wait until the relay has published the group's events (it shows in the
        documents); polls quickly while it makes progress, slowly while NATS is away."""
        waiting = {write.chunk.id for write in group}
        delay = self._poll_seconds
        while waiting:
            await asyncio.sleep(delay)
            pending = await self._repository.pending(waiting)
            delay = self._poll_seconds if pending < waiting else min(delay * 1.5, 1.0)
            waiting = pending
