"""Idempotent JetStream consumers with bounded redelivery and dead letters.

Each service subscribes to a whole stream with one durable pull consumer and explicit
acks. Messages arrive in batches, are validated against the contract, and are handed
to the service's `apply` function, which must be idempotent (revision-guarded
upserts, no unguarded `$inc`): applying an event twice, late or out of order changes
nothing. A schema-invalid message is dead-lettered at once. A message whose
application fails is redelivered with back-off, and after `max_deliver` attempts it
is dead-lettered with its error; dead letters can be retried through the API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Histogram
from pymongo.asynchronous.collection import AsyncCollection

from shared.contracts import CloudEvent, EnvelopeError, parse_envelope
from shared.contracts.streams import StreamSpec
from shared.logging import correlation_scope, get_logger
from shared.mongo import Database, Document

ApplyBatch = Callable[[Sequence[CloudEvent]], Awaitable[None]]

EVENTS_APPLIED = Counter(
    "bdg_consumer_events_applied_total", "Events applied by consumers", ["service", "stream"]
)
DEAD_LETTERED = Counter(
    "bdg_consumer_dead_letters_total", "Messages moved to dead letters", ["service", "stream"]
)
FRESHNESS = Histogram(
    "bdg_consumer_freshness_seconds",
    "Time from an event's creation to its application",
    ["service", "stream"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)

log = get_logger(__name__)


def redelivery_delay(delivered: int) -> float:
    """Back-off before the next attempt: 1 s, 2 s, 4 s … capped at 30 s."""
    return float(min(2 ** max(delivered - 1, 0), 30))


@dataclass(frozen=True)
class StreamPosition:
    stream: str
    last_sequence: int
    last_event_time: datetime | None
    applied_at: datetime | None
    applied_total: int


class ConsumerStateRepository:
    """Where each consumer has got to in its stream (for `/v1/status`)."""

    def __init__(self, db: Database, collection: str = "consumer_state") -> None:
        self._collection: AsyncCollection[Document] = db[collection]

    async def record(
        self, durable: str, stream: str, events: Sequence[tuple[int, datetime]]
    ) -> None:
        last_sequence = max(sequence for sequence, _ in events)
        newest = max(event_time for _, event_time in events)
        await self._collection.update_one(
            {"_id": durable},
            {
                "$set": {"stream": stream, "applied_at": datetime.now(UTC)},
                "$max": {"last_sequence": last_sequence, "last_event_time": newest},
                "$inc": {"applied_total": len(events)},
            },
            upsert=True,
        )

    async def positions(self) -> list[StreamPosition]:
        documents = await self._collection.find({}).to_list(None)
        return [
            StreamPosition(
                stream=document["stream"],
                last_sequence=document.get("last_sequence", 0),
                last_event_time=document.get("last_event_time"),
                applied_at=document.get("applied_at"),
                applied_total=document.get("applied_total", 0),
            )
            for document in documents
        ]


class DeadLetterRepository:
    """Messages that could not be applied, kept with their error until retried."""

    def __init__(self, db: Database, collection: str = "dead_letters") -> None:
        self._collection: AsyncCollection[Document] = db[collection]

    async def add(
        self, *, stream: str, sequence: int, subject: str, body: bytes, error: str, deliveries: int
    ) -> None:
        key = f"{stream}:{sequence}"
        await self._collection.update_one(
            {"_id": key},
            {
                "$set": {
                    "stream": stream,
                    "sequence": sequence,
                    "subject": subject,
                    "body": body.decode("utf-8", errors="replace"),
                    "error": error,
                    "deliveries": deliveries,
                    "failed_at": datetime.now(UTC),
                    "status": "failed",
                }
            },
            upsert=True,
        )

    async def list(self, status: str | None = None, limit: int = 100) -> list[Document]:
        query: Document = {} if status is None else {"status": status}
        return await self._collection.find(query).sort("_id", 1).limit(limit).to_list(None)

    async def get(self, key: str) -> Document | None:
        return await self._collection.find_one({"_id": key})

    async def mark(self, key: str, status: str, error: str | None = None) -> None:
        update: Document = {"status": status, "retried_at": datetime.now(UTC)}
        if error is not None:
            update["error"] = error
        await self._collection.update_one({"_id": key}, {"$set": update})

    async def count_by_stream(self, status: str = "failed") -> dict[str, int]:
        counts: dict[str, int] = {}
        async for row in self._collection.find({"status": status}, {"stream": 1}):
            counts[row["stream"]] = counts.get(row["stream"], 0) + 1
        return counts


class StreamConsumer:
    """One durable pull consumer over a whole stream, applying batches idempotently.

    The fetch loop is ours rather than FastStream's batch subscriber: FastStream 0.7.8's
    loop dies on the builtin `TimeoutError` that nats-py's `fetch` can raise, leaving a
    pull request on the server that holds the next message until `ack_wait` expires,
    and it waits to fill a batch where `fetch` returns as soon as one message is there.
    The broker (connection, reconnection, publishing) is FastStream's.
    """

    def __init__(
        self,
        *,
        service: str,
        stream: StreamSpec,
        durable: str,
        apply: ApplyBatch,
        state: ConsumerStateRepository,
        dead_letters: DeadLetterRepository,
        max_deliver: int,
        batch_size: int,
        fetch_timeout_seconds: float = 1.0,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
    ) -> None:
        self.service = service
        self.stream = stream
        self.durable = durable
        self._apply = apply
        self._state = state
        self._dead_letters = dead_letters
        self._max_deliver = max_deliver
        self._batch_size = batch_size
        self._fetch_timeout = fetch_timeout_seconds
        self._deliver_policy = deliver_policy
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=self._deliver_policy,
            ack_policy=AckPolicy.EXPLICIT,
            # One attempt beyond ours, so a crash during the last attempt still brings
            # the message back to be dead-lettered.
            max_deliver=self._max_deliver + 1,
            ack_wait=60,
            max_ack_pending=max(self._batch_size * 4, 1000),
        )

    async def start(self, broker: NatsBroker) -> None:
        js = broker.config.connection_state.stream
        self._subscription = await js.pull_subscribe(
            self.stream.subjects[0],
            durable=self.durable,
            stream=self.stream.name,
            config=self.consumer_config(),
        )
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        """Finish the batch in hand and the fetch under way, then stop taking messages."""
        self._stopping = True
        if self._task is not None:
            await asyncio.wait_for(self._task, self._fetch_timeout + 30)
            self._task = None
        if self._subscription is not None:
            # Only the client side goes: the durable consumer keeps its position.
            # Left subscribed, late status replies would hold the connection's drain.
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _run(self) -> None:
        assert self._subscription is not None
        backoff = 0.1
        while not self._stopping:
            try:
                messages = await self._subscription.fetch(
                    batch=self._batch_size, timeout=self._fetch_timeout
                )
            except TimeoutError:  # nothing new (nats' own TimeoutError is a subclass)
                continue
            except Exception as exc:  # NATS away or reconnecting: wait and fetch again.
                log.warning("cannot fetch", consumer=self.durable, error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            try:
                await self.process(messages)
            except Exception as exc:  # e.g. MongoDB away: unacked messages come back.
                log.error("batch not processed", consumer=self.durable, error=repr(exc))
                await asyncio.sleep(1.0)

    async def process(self, messages: Sequence[Msg]) -> None:
        parsed: list[tuple[Msg, CloudEvent]] = []
        for msg in messages:
            try:
                parsed.append((msg, parse_envelope(msg.data)))
            except EnvelopeError as exc:
                await self._dead_letter(msg, str(exc))
        if not parsed:
            return
        if len(parsed) == 1:
            await self._apply_one(*parsed[0])
            return
        try:
            await self._apply([event for _, event in parsed])
        except Exception:
            # Find the message(s) at fault: apply one by one.
            for msg, event in parsed:
                await self._apply_one(msg, event)
            return
        await self._applied(parsed)

    async def _apply_one(self, msg: Msg, event: CloudEvent) -> None:
        try:
            with correlation_scope(event.correlationid):
                await self._apply([event])
        except Exception as exc:
            delivered = msg.metadata.num_delivered
            if delivered >= self._max_deliver:
                await self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
            else:
                log.warning(
                    "event not applied, will retry",
                    event_id=event.id,
                    type=event.type,
                    delivered=delivered,
                    error=str(exc),
                )
                await msg.nak(delay=redelivery_delay(delivered))
            return
        await self._applied([(msg, event)])

    async def _applied(self, parsed: Sequence[tuple[Msg, CloudEvent]]) -> None:
        positions = [(msg.metadata.sequence.stream, event.time) for msg, event in parsed]
        await self._state.record(self.durable, self.stream.name, positions)
        now = time.time()
        for msg, event in parsed:
            await msg.ack()
            FRESHNESS.labels(self.service, self.stream.name).observe(
                max(now - event.time.timestamp(), 0.0)
            )
        EVENTS_APPLIED.labels(self.service, self.stream.name).inc(len(parsed))

    async def _dead_letter(self, msg: Msg, error: str) -> None:
        log.error("message dead-lettered", subject=msg.subject, error=error)
        await self._dead_letters.add(
            stream=self.stream.name,
            sequence=msg.metadata.sequence.stream,
            subject=msg.subject,
            body=msg.data,
            error=error,
            deliveries=msg.metadata.num_delivered,
        )
        DEAD_LETTERED.labels(self.service, self.stream.name).inc()
        await msg.term()

    async def retry_dead_letter(self, key: str) -> Document | None:
        """Apply a dead-lettered message again; it is marked `retried` when it succeeds."""
        letter = await self._dead_letters.get(key)
        if letter is None:
            return None
        try:
            event = parse_envelope(letter["body"].encode())
            with correlation_scope(event.correlationid):
                await self._apply([event])
        except Exception as exc:
            await self._dead_letters.mark(key, "failed", f"{type(exc).__name__}: {exc}")
        else:
            await self._state.record(
                self.durable, self.stream.name, [(letter["sequence"], event.time)]
            )
            await self._dead_letters.mark(key, "retried")
        return await self._dead_letters.get(key)


def document_time(value: Any) -> datetime | None:
    """Datetimes read back from MongoDB, made timezone-aware (UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
