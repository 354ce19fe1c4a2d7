"""Idempotent JetStream consumers with bounded redelivery and dead letters.

Each service subscribes to a whole stream with one durable pull consumer and explicit
acks, started from the position its database holds (shared/positions.py). Messages
arrive in batches, are validated against the contract — an event of the stream's
kinds, from the stream's owner — and are handed to the service's `apply` function,
which must be idempotent (revision-guarded upserts, no unguarded `$inc`): applying an
event twice, late or out of order changes nothing. An invalid message is
dead-lettered at once. A message whose
application fails is redelivered with back-off, and after `max_deliver` attempts it
is dead-lettered with its error; dead letters can be retried through the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge, Histogram

from shared.consumer_state import ConsumerStateRepository, DeadLetterRepository
from shared.contracts import CloudEvent, EnvelopeError, kind_for_type, parse_envelope
from shared.contracts.streams import StreamSpec
from shared.logging import correlation_scope, get_logger
from shared.mongo import Document
from shared.positions import StreamNow, decide

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
BATCH = Histogram(
    "bdg_consumer_batch_messages",
    "Messages per fetched batch (at most BDG_CONSUMER_BATCH_SIZE)",
    ["service", "stream"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
)

PENDING = Gauge(
    "bdg_consumer_pending_messages",
    "Messages of the stream this service's consumer has yet to apply",
    ["service", "stream"],
)
DEAD_LETTERS_OPEN = Gauge(
    "bdg_consumer_dead_letters_open",
    "Dead letters not yet retried successfully",
    ["service", "stream"],
)
STREAM_GAP = Gauge(
    "bdg_stream_gap",
    "1 while the stream no longer holds events the database has not applied",
    ["service", "stream"],
)

log = get_logger(__name__)
_MEASURE_SECONDS = 5.0


def redelivery_delay(delivered: int) -> float:
    """Back-off before the next attempt: 1 s, 2 s, 4 s … capped at 30 s."""
    return float(min(2 ** max(delivered - 1, 0), 30))


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
        check_every_seconds: float = 30.0,
        declare_streams: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.stream = stream
        self.durable = durable
        self._apply = apply
        self._state = state
        self._dead_letters = dead_letters
        self._max_deliver = max_deliver
        self._batch_size = batch_size
        # Unacknowledged messages the server lets this consumer hold: four batches.
        self._max_ack_pending = max(batch_size * 4, 1000)
        self._fetch_timeout = fetch_timeout_seconds
        self._check_every = check_every_seconds
        self._declare_streams = declare_streams
        self._js: JetStreamContext | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Why nothing is applied (the stream lost what the database needs), or None.
        self.gap: str | None = None

    def consumer_config(self, start_at: int = 1) -> ConsumerConfig:
        deliver = (
            {"deliver_policy": DeliverPolicy.ALL}
            if start_at <= 1
            else {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": start_at}
        )
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            # One attempt beyond ours, so a crash during the last attempt still brings
            # the message back to be dead-lettered.
            max_deliver=self._max_deliver + 1,
            ack_wait=60,
            max_ack_pending=self._max_ack_pending,
            **deliver,
        )

    async def start(self, broker: NatsBroker) -> None:
        self._js = broker.config.connection_state.stream
        self._stopping = False
        await self._attach()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def _attach(self) -> None:
        """(Re)bind to the durable consumer, from the position the database holds."""
        if self._js is None:
            raise RuntimeError("the consumer is not started")
        js = self._js
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
        try:
            info = await js.stream_info(self.stream.name)
        except NotFoundError:
            # NATS came back without its store: declare the streams again, then compare.
            if self._declare_streams is None:
                raise
            await self._declare_streams()
            info = await js.stream_info(self.stream.name)
        now = StreamNow(info.state.first_seq, info.state.last_seq, info.created)
        existing: ConsumerInfo | None
        try:
            existing = await js.consumer_info(self.stream.name, self.durable)
        except NotFoundError:
            existing = None
        floor = None
        if existing is not None:
            floor = existing.ack_floor.stream_seq if existing.ack_floor else 0
        recorded = await self._state.recorded(self.durable)
        decision = decide(self.stream.name, recorded, now, floor)
        self._set_gap(decision.gap)
        if decision.gap is not None:
            return
        if recorded is None or recorded.stream_created is None:
            await self._state.identify(self.durable, self.stream.name, info.created)
        if decision.recreate:
            log.warning(
                "database behind its consumer: replaying from its position",
                consumer=self.durable,
                from_sequence=decision.start_at,
                nats_ack_floor=floor,
            )
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(self.stream.name, self.durable)
        elif existing is not None:
            await self._widen(js, existing)
        self._subscription = await js.pull_subscribe(
            self.stream.subjects[0],
            durable=self.durable,
            stream=self.stream.name,
            config=self.consumer_config(decision.start_at or 1),
        )

    async def _widen(self, js: JetStreamContext, existing: ConsumerInfo) -> None:
        """A durable consumer made for smaller batches (an earlier default, or a smaller
        `BDG_CONSUMER_BATCH_SIZE`) is let take this one's: the server hands a fetch no
        more than the consumer's `max_ack_pending` unacknowledged messages."""
        wanted = self._max_ack_pending
        held = existing.config.max_ack_pending or 0
        if 0 < held < wanted:
            await js.add_consumer(self.stream.name, existing.config.evolve(max_ack_pending=wanted))
            log.info("consumer widened", consumer=self.durable, max_ack_pending=wanted)

    def _set_gap(self, reason: str | None) -> None:
        if reason is not None and reason != self.gap:
            log.error("stream gap: not applying", consumer=self.durable, reason=reason)
        self.gap = reason
        STREAM_GAP.labels(self.service, self.stream.name).set(1 if reason else 0)

    async def adopt(self) -> None:
        """Count from the stream as it now is (an operator's decision after a gap)."""
        if self._js is None:
            raise RuntimeError("the consumer is not started")
        info = await self._js.stream_info(self.stream.name)
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(self.stream.name, self.durable)
        await self._state.adopt(
            self.durable, self.stream.name, info.state.first_seq - 1, info.created
        )
        log.warning("stream adopted", consumer=self.durable, from_sequence=info.state.first_seq)
        await self._attach()

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

    async def _measure(self) -> None:
        """The consumer's lag and open dead letters, for /metrics."""
        if self._subscription is not None:
            info = await self._subscription.consumer_info()
            pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
            PENDING.labels(self.service, self.stream.name).set(pending)
        open_letters = (await self._dead_letters.count_by_stream()).get(self.stream.name, 0)
        DEAD_LETTERS_OPEN.labels(self.service, self.stream.name).set(open_letters)

    async def _run(self) -> None:
        backoff = 0.1
        checked = measured = time.monotonic()
        while not self._stopping:
            if time.monotonic() - measured > _MEASURE_SECONDS:
                measured = time.monotonic()
                with contextlib.suppress(Exception):
                    await self._measure()
            if self._subscription is None or time.monotonic() - checked > self._check_every:
                # A gap waits for the operator; a stream or consumer recreated behind our
                # back (a NATS restart on a wiped store) is found here too.
                checked = time.monotonic()
                try:
                    await self._attach()
                except Exception as exc:
                    log.warning("cannot check the stream", consumer=self.durable, error=repr(exc))
                if self._subscription is None:
                    await asyncio.sleep(min(self._check_every, 5.0))
                    continue
            subscription = self._subscription
            try:
                messages = await subscription.fetch(
                    batch=self._batch_size, timeout=self._fetch_timeout
                )
            except TimeoutError:  # nothing new (nats' own TimeoutError is a subclass)
                continue
            except NotFoundError:  # the consumer or stream is gone: look again at once
                self._subscription = None
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
        BATCH.labels(self.service, self.stream.name).observe(len(messages))
        parsed: list[tuple[Msg, CloudEvent]] = []
        for msg in messages:
            try:
                parsed.append((msg, self._accepted(parse_envelope(msg.data))))
            except EnvelopeError as exc:
                # Poison is cheap: dead-lettered at its first delivery, with the reason.
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

    def _accepted(self, event: CloudEvent) -> CloudEvent:
        """An event of this stream's contract, from the stream's owner."""
        kind = kind_for_type(event.type)
        if kind is None or kind.stream.name != self.stream.name:
            raise EnvelopeError(f"{event.type} is not an event of stream {self.stream.name}")
        if event.source != self.stream.source:
            raise EnvelopeError(
                f"{event.type} from {event.source!r}: only {self.stream.source} "
                f"publishes on {self.stream.name}"
            )
        return event

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
        freshness = FRESHNESS.labels(self.service, self.stream.name)
        for msg, event in parsed:
            await msg.ack()
            freshness.observe(max(now - event.time.timestamp(), 0.0))
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
        await self._state.passed(self.durable, self.stream.name, msg.metadata.sequence.stream)
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
