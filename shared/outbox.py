"""Transactional outbox with single-document atomicity.

A change and the events it causes are written in one document write: the pending
events ride in the changed document's `_outbox` array, and the indexed marker
`_outbox_pending` says that the document has some, so the relay finds them through an
index rather than by scanning. The relay publishes them to
JetStream with `Nats-Msg-Id` = event id (so a re-publish after a lost ack is
de-duplicated by the server), and only after the server's ack pulls them out of the
document. While NATS is down the events wait and the relay backs off; nothing is lost.
This needs neither a replica set nor multi-document transactions, so it behaves the
same on a standalone server, a replica set and the in-process emulation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from nats.errors import MaxPayloadError
from prometheus_client import Counter, Gauge
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.contracts import CloudEvent
from shared.logging import get_logger
from shared.mongo import Document, create_partial_index

OUTBOX_FIELD = "_outbox"
PENDING_FIELD = "_outbox_pending"
PENDING_FILTER: dict[str, Any] = {PENDING_FIELD: True}

EVENTS_PUBLISHED = Counter(
    "bdg_outbox_events_published_total", "Events published from the outbox", ["service"]
)
PUBLISH_FAILURES = Counter(
    "bdg_outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"]
)
OLDEST_PENDING = Gauge(
    "bdg_outbox_oldest_pending_seconds",
    "Age of the oldest event written and not yet published (0: none)",
    ["service"],
)
DEAD_EVENTS = Gauge(
    "bdg_outbox_dead_letters",
    "Events set aside because NATS can never take them (too large, no subject)",
    ["service"],
)
OUTBOX_DEAD_LETTERS = "outbox_dead_letters"


class Unpublishable(Exception):
    """An event NATS will never take as it is: set aside, so the others flow."""


def unpublishable(exc: BaseException) -> bool:
    return isinstance(exc, (MaxPayloadError, Unpublishable))


log = get_logger(__name__)


def outbox_fields(events: Sequence[CloudEvent]) -> dict[str, Any]:
    """The fields a new document stores its pending events in."""
    fields: dict[str, Any] = {OUTBOX_FIELD: [event.to_document() for event in events]}
    if events:
        fields[PENDING_FIELD] = True
    return fields


def with_outbox(update: dict[str, Any], events: Sequence[CloudEvent]) -> dict[str, Any]:
    """`update` (an update document) appending `events` to the document's outbox."""
    if not events:
        return update
    merged = dict(update)
    merged["$push"] = {
        **merged.get("$push", {}),
        OUTBOX_FIELD: {"$each": [event.to_document() for event in events]},
    }
    merged["$set"] = {**merged.get("$set", {}), PENDING_FIELD: True}
    return merged


async def ensure_outbox_index(collection: AsyncCollection[dict[str, Any]]) -> None:
    """The relay's read: documents with pending events, in `_id` order. A partial index:
    it holds only the documents whose events are still to go out, so it stays small and
    a document leaves it when its events are published."""
    await create_partial_index(
        collection,
        [(PENDING_FIELD, 1), ("_id", 1)],
        name="outbox_pending_only",
        only=PENDING_FILTER,
        replaces=["outbox_pending"],
    )


class EventPublisher(Protocol):
    async def publish(self, event: dict[str, Any]) -> None:
        """Publish one stored event; return only once the stream has acknowledged it."""


class OutboxRelay:
    """Publishes pending events of the given collections, oldest documents first."""

    def __init__(
        self,
        service: str,
        publisher: EventPublisher,
        collections: Sequence[AsyncCollection[dict[str, Any]]],
        *,
        poll_seconds: float = 2.0,
        read_documents: int = 20_000,
        chunk_documents: int = 1000,
        max_in_flight: int = 256,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self._service = service
        self._publisher = publisher
        self._collections = list(collections)
        self._poll_seconds = poll_seconds
        self._read_documents = read_documents
        self._chunk_documents = chunk_documents
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._max_backoff = max_backoff_seconds
        self._wake = asyncio.Event()
        # Set when the pass that starts next has ended (a new one for every pass).
        self._next_pass = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # What a service may do to each event just before it goes out, and after a pass
        # that published something (the registry's revision base, services/registry).
        self.prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.after_pass: Callable[[], Awaitable[None]] | None = None

    def wake(self) -> None:
        """Called after a write that stored events, so they go out at once."""
        self._wake.set()

    async def passed(self, timeout: float) -> bool:
        """Wake the relay and wait (at most `timeout` seconds) until a pass that began
        after this call has ended: what was stored before the call is then published,
        unless NATS refused it. False if this process is not publishing or time ran out."""
        if self._task is None or self._task.done():
            return False
        ending = self._next_pass
        self.wake()
        try:
            await asyncio.wait_for(ending.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        """Start publishing (again, after a `stop`: the relay follows its lease)."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-outbox-relay")

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop the loop, then make a last attempt to publish what is pending."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        await self._task
        self._task = None
        with contextlib.suppress(Exception):
            if await asyncio.wait_for(self.flush(), flush_timeout) and self.after_pass:
                await asyncio.wait_for(self.after_pass(), flush_timeout)

    async def flush(self) -> int:
        """Publish everything pending now; returns how many events went out."""
        sent = 0
        for collection in self._collections:
            while True:
                documents = await self._pending(collection)
                for start in range(0, len(documents), self._chunk_documents):
                    chunk = documents[start : start + self._chunk_documents]
                    sent += await self._publish_chunk(collection, chunk)
                if len(documents) < self._read_documents:
                    break
        return sent

    async def _run(self) -> None:
        backoff = 0.1
        indexed = False
        while not self._stopping:
            if not indexed:
                try:
                    for collection in self._collections:
                        await ensure_outbox_index(collection)
                    indexed = True
                except Exception as exc:  # MongoDB away: the loop below waits too.
                    log.warning("outbox index not created yet", error=repr(exc))
            self._wake.clear()
            ending, self._next_pass = self._next_pass, asyncio.Event()
            try:
                if await self.flush() and self.after_pass is not None:
                    await self.after_pass()
                backoff = 0.1
                timeout = self._poll_seconds
                OLDEST_PENDING.labels(self._service).set(0)
            except Exception as exc:  # NATS or MongoDB unreachable: wait and retry.
                PUBLISH_FAILURES.labels(self._service).inc()
                with contextlib.suppress(Exception):
                    OLDEST_PENDING.labels(self._service).set(await self._oldest_age())
                log.warning("outbox relay waiting to retry", error=repr(exc), retry_in=backoff)
                timeout = backoff
                backoff = min(backoff * 2, self._max_backoff)
            ending.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _oldest_age(self) -> float:
        """Seconds since the oldest event still waiting was written (one page's look)."""
        now = datetime.now(UTC)
        oldest = now
        for collection in self._collections:
            for document in await self._pending(collection):
                for event in document.get(OUTBOX_FIELD, []):
                    with contextlib.suppress(KeyError, ValueError, TypeError):
                        oldest = min(oldest, datetime.fromisoformat(event["time"]))
        return (now - oldest).total_seconds()

    async def _pending(self, collection: AsyncCollection[dict[str, Any]]) -> list[Document]:
        return (
            await collection.find(PENDING_FILTER, {OUTBOX_FIELD: 1})
            .sort("_id", 1)
            .limit(self._read_documents)
            .to_list(None)
        )

    async def _publish_chunk(
        self, collection: AsyncCollection[dict[str, Any]], documents: list[Document]
    ) -> int:
        events = [event for document in documents for event in document.get(OUTBOX_FIELD, [])]
        if not events:
            return 0
        outcomes = await asyncio.gather(
            *(self._publish_one(event) for event in events), return_exceptions=True
        )
        sent_ids = [
            event["id"] for event, outcome in zip(events, outcomes, strict=True) if outcome is None
        ]
        dead = [
            (event, outcome)
            for event, outcome in zip(events, outcomes, strict=True)
            if isinstance(outcome, BaseException) and unpublishable(outcome)
        ]
        if dead:
            await self._set_aside(collection, dead)
        if sent_ids or dead:
            await self._mark_sent(
                collection, documents, set(sent_ids) | {event["id"] for event, _ in dead}
            )
            EVENTS_PUBLISHED.labels(self._service).inc(len(sent_ids))
        failures = [
            outcome
            for outcome in outcomes
            if isinstance(outcome, BaseException) and not unpublishable(outcome)
        ]
        if failures:
            raise failures[0]
        return len(sent_ids)

    async def _set_aside(
        self,
        collection: AsyncCollection[dict[str, Any]],
        dead: list[tuple[dict[str, Any], BaseException]],
    ) -> None:
        """Keep what NATS refused for good in the outbox's dead letters, with why."""
        letters = self._dead_letters(collection)
        for event, error in dead:
            log.error(
                "event set aside: NATS cannot take it",
                event_id=event["id"],
                type=event.get("type"),
                error=repr(error),
            )
            await letters.replace_one(
                {"_id": event["id"]},
                {
                    "_id": event["id"],
                    "event": event,
                    "collection": collection.name,
                    "error": f"{type(error).__name__}: {error}",
                    "set_aside_at": datetime.now(UTC),
                },
                upsert=True,
            )
        DEAD_EVENTS.labels(self._service).set(await letters.count_documents({}))

    def _dead_letters(
        self, collection: AsyncCollection[dict[str, Any]]
    ) -> AsyncCollection[dict[str, Any]]:
        return collection.database[OUTBOX_DEAD_LETTERS]

    async def _mark_sent(
        self,
        collection: AsyncCollection[dict[str, Any]],
        documents: list[Document],
        sent: set[str],
    ) -> None:
        """Take out exactly the acknowledged events; events added meanwhile stay.

        A document whose every pending event went out (the usual case) has its outbox
        emptied and its marker removed in one update, guarded by the outbox being as
        read; the others, and any whose guard missed, have the sent events pulled."""
        emptied: list[Document] = []
        pulls: dict[Any, list[str]] = {}
        for document in documents:
            pending = document.get(OUTBOX_FIELD, [])
            ids = [event["id"] for event in pending if event["id"] in sent]
            if ids and len(ids) == len(pending):
                emptied.append(document)
            elif ids:
                pulls[document["_id"]] = ids
        operations = [
            UpdateOne(
                {"_id": document["_id"], OUTBOX_FIELD: document[OUTBOX_FIELD]},
                {"$set": {OUTBOX_FIELD: []}, "$unset": {PENDING_FIELD: ""}},
            )
            for document in emptied
        ]
        operations += [
            UpdateOne({"_id": owner}, {"$pull": {OUTBOX_FIELD: {"id": {"$in": ids}}}})
            for owner, ids in pulls.items()
        ]
        if not operations:
            return
        result = await collection.bulk_write(operations, ordered=False)
        if result.matched_count == len(operations):
            return
        # Some outbox changed since it was read: pull what went out, then drop the
        # marker where nothing is left (an event added meanwhile keeps it).
        owners = sorted(document["_id"] for document in emptied)
        await collection.update_many(
            {"_id": {"$in": owners}}, {"$pull": {OUTBOX_FIELD: {"id": {"$in": sorted(sent)}}}}
        )
        await collection.update_many(
            {"_id": {"$in": owners}, OUTBOX_FIELD: {"$size": 0}}, {"$unset": {PENDING_FIELD: ""}}
        )

    async def _publish_one(self, event: dict[str, Any]) -> None:
        async with self._in_flight:
            await self._publisher.publish(event if self.prepare is None else self.prepare(event))
