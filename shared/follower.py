"""Each replica's own, complete view of a stream, for the copies it keeps in memory.

A durable consumer shares its messages among the replicas of a service: right for
writing the database once, wrong for an in-memory copy (a unit index, a reference
cache), which every replica needs whole. So each replica also follows the stream with
an ephemeral consumer of its own — no acknowledgements, nothing written — from the
sequence its database was at when it loaded its copy, applying every event to memory
with the same highest-revision-wins rule, so overlapping the database's copy changes
nothing. When NATS goes away or the consumer expires, it is created again from the
next sequence it has not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.contracts import CloudEvent, EnvelopeError, parse_envelope
from shared.contracts.streams import StreamSpec
from shared.logging import get_logger
from shared.tasks import cancel_and_wait

ApplyToMemory = Callable[[Sequence[CloudEvent]], Awaitable[None]]

log = get_logger(__name__)


class Follower:
    def __init__(
        self,
        *,
        stream: StreamSpec,
        subject: str,
        apply: ApplyToMemory,
        after: Callable[[], Awaitable[int]],
        batch_size: int = 512,
        fetch_timeout_seconds: float = 1.0,
    ) -> None:
        """`subject`: what of the stream to follow; `after()`: the last sequence the
        in-memory copy already reflects (read before loading it from the database)."""
        self._stream = stream
        self._subject = subject
        self._apply = apply
        self._after = after
        self._batch_size = batch_size
        self._fetch_timeout = fetch_timeout_seconds
        self._next = 1
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._stopping = False

    @property
    def next_sequence(self) -> int:
        return self._next

    async def start(self, broker: NatsBroker) -> None:
        self._next = await self._after() + 1
        self._stopping = False
        js = broker.config.connection_state.stream
        self._task = asyncio.create_task(self._run(js), name=f"follow-{self._subject}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        return await js.pull_subscribe(
            self._subject,
            durable=None,
            stream=self._stream.name,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self._next,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
            ),
        )

    async def _run(self, js: JetStreamContext) -> None:
        self._subscription = None
        try:
            await self._follow(js)
        finally:
            # Left subscribed, its pending pull would hold the connection's drain.
            if self._subscription is not None:
                with contextlib.suppress(Exception):
                    await self._subscription.unsubscribe()
                self._subscription = None

    async def _follow(self, js: JetStreamContext) -> None:
        backoff = 0.2
        while not self._stopping:
            subscription = self._subscription
            try:
                if subscription is None:
                    subscription = self._subscription = await self._subscribe(js)
                messages = await subscription.fetch(self._batch_size, timeout=self._fetch_timeout)
            except TimeoutError:
                continue
            except Exception as exc:  # NATS away, or the ephemeral consumer expired
                log.warning("following again", subject=self._subject, error=repr(exc))
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
                self._subscription = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            events = []
            for message in messages:
                with contextlib.suppress(EnvelopeError):  # the durable consumer letters it
                    event = parse_envelope(message.data)
                    if event.source == self._stream.source:
                        events.append(event)
            try:
                if events:
                    await self._apply(events)
            except Exception as exc:  # memory only: the next start reloads from the database
                log.error("follower could not apply", subject=self._subject, error=repr(exc))
            if messages:
                self._next = messages[-1].metadata.sequence.stream + 1
