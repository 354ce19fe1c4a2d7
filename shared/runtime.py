"""What a service holds while it runs: MongoDB, the broker, the outbox relay, its consumers.

The app lifespan drives it: `start()` connects MongoDB, then connects NATS in the
background (retrying while NATS is away, so the HTTP side and `/readyz` answer at
once), declares the streams and starts the subscribers; `stop()` stops taking
messages, lets in-flight ones finish, flushes the outbox and closes the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Sequence

from faststream.nats import NatsBroker

from shared.broker import JetStreamPublisher, create_broker, ensure_streams
from shared.consumer import ApplyBatch, StreamConsumer
from shared.consumer_state import ConsumerStateRepository, DeadLetterRepository
from shared.contracts.streams import StreamSpec
from shared.follower import ApplyToMemory, Follower
from shared.lease import Lease, LeasedWork
from shared.logging import get_logger
from shared.mongo import MongoHandle
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings
from shared.tasks import cancel_and_wait

log = get_logger(__name__)
Step = Callable[[], Awaitable[None]]


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.mongo = MongoHandle(
            settings.mongodb_url,
            settings.database,
            settings.service_name,
            data_dir=settings.data_dir,
            server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
            timeout_ms=settings.mongodb_timeout_ms,
        )
        self.broker: NatsBroker = create_broker(
            settings.nats_url,
            f"bdg-{settings.service_name}",
            settings.nats_user,
            settings.nats_password,
        )
        self.consumer_state = ConsumerStateRepository(self.mongo.db)
        self.dead_letters = DeadLetterRepository(self.mongo.db)
        self.consumers: dict[str, StreamConsumer] = {}
        self.relay: OutboxRelay | None = None
        self.streams_ready = asyncio.Event()
        # Set when the process was asked to stop: readiness answers 503 from then on.
        self.draining = False
        self._connect_task: asyncio.Task[None] | None = None
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._leased_consumers: dict[str, list[StreamConsumer]] = {}
        self.followers: list[Follower] = []
        # Per lease name, what to begin when this process takes it and end when it loses it.
        self._under_lease: dict[str, list[tuple[Step, Step]]] = {}
        self._leased_work: list[LeasedWork] = []
        self.leases: dict[str, Lease] = {}
        # Leases name their holder by host and port: a replica restarted on its port
        # takes its lease back at once instead of waiting for it to expire.
        self._holder = f"{socket.gethostname()}:{settings.port}"

    def on_start(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the service is up (e.g. start a periodic task)."""
        self._on_start.append(callback)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` first when stopping, while MongoDB and NATS are still open."""
        self._on_stop.append(callback)

    def consume(
        self, stream: StreamSpec, apply: ApplyBatch, *, lease: str | None = None
    ) -> StreamConsumer:
        """Subscribe `apply` to a whole stream with this service's durable consumer.

        Without `lease` every replica takes part (the durable consumer shares the
        messages among them: `apply` must not need to see them all). With one, only
        the holder of that lease consumes (a single writer, e.g. reporting's projection).
        """
        consumer = StreamConsumer(
            service=self.settings.service_name,
            stream=stream,
            durable=self._durable(stream),
            apply=apply,
            state=self.consumer_state,
            dead_letters=self.dead_letters,
            max_deliver=self.settings.consumer_max_deliver,
            batch_size=self.settings.consumer_batch_size,
            check_every_seconds=self.settings.consumer_check_every_seconds,
            declare_streams=self._declare_streams,
        )
        self.consumers[stream.name] = consumer
        if lease is not None:
            self._leased_consumers.setdefault(lease, []).append(consumer)
        return consumer

    def follow(
        self,
        stream: StreamSpec,
        subject: str,
        apply: ApplyToMemory,
        after: Callable[[], Awaitable[int]],
    ) -> Follower:
        """Keep an in-memory copy fed by every event of `subject`, in this replica
        (shared/follower.py); `after()` is where the copy loaded from the database is."""
        follower = Follower(stream=stream, subject=subject, apply=apply, after=after)
        self.followers.append(follower)
        return follower

    async def position(self, stream: StreamSpec) -> int:
        """The sequence this service's database has applied `stream` up to."""
        recorded = await self.consumer_state.recorded(self._durable(stream))
        return recorded.last_sequence if recorded else 0

    def _durable(self, stream: StreamSpec) -> str:
        return f"{self.settings.service_name}-{stream.name.lower()}"

    def under_lease(
        self, name: str, begin: Callable[[], Awaitable[None]], end: Callable[[], Awaitable[None]]
    ) -> None:
        """Run work that must happen once among the replicas: `begin` when this process
        takes lease `name`, `end` when it loses it (shared/lease.py); several steps may
        share one lease (begun in order, ended in reverse). Started once NATS is
        reachable."""
        self._under_lease.setdefault(name, []).append((begin, end))

    async def _declare_streams(self) -> None:
        await ensure_streams(self.broker, self.settings.stream_replicas)

    def relay_outbox_of(self, collections: Sequence[str]) -> OutboxRelay:
        """Publish the pending events stored in these collections."""
        self.relay = OutboxRelay(
            self.settings.service_name,
            JetStreamPublisher(self.broker),
            [self.mongo.db[name] for name in collections],
            poll_seconds=self.settings.outbox_poll_seconds,
        )
        return self.relay

    def wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    async def published(self, timeout: float = 2.0) -> bool:
        """Wait until what this process stored so far is published, where that matters
        more than the answer's speed (a lock must be in force when its 201 arrives).
        Only the replica holding the `outbox` lease publishes; on another one this
        returns False at once and its write goes out at the holder's next pass."""
        if self.relay is None or not self.holds("outbox"):
            return False
        return await self.relay.passed(timeout)

    async def start(self) -> None:
        await self.dead_letters.ensure_indexes()
        self._connect_task = asyncio.create_task(self._connect_broker(), name="broker-connect")
        for callback in self._on_start:
            await callback()

    async def _connect_broker(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.broker.connect()
                await ensure_streams(self.broker, self.settings.stream_replicas)
                await self.broker.start()
                leased = {id(c) for group in self._leased_consumers.values() for c in group}
                for consumer in self.consumers.values():
                    if id(consumer) not in leased:
                        await consumer.start(self.broker)
                for follower in self.followers:
                    await follower.start(self.broker)
            except Exception as exc:  # NATS not there yet: keep trying.
                log.warning("waiting for NATS", url=self.settings.nats_url, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.streams_ready.set()
            log.info("connected to NATS", url=self.settings.nats_url)
            self._start_leased_work()
            return

    def _start_leased_work(self) -> None:
        # From here on the relay rides out NATS outages by itself; one replica at a
        # time publishes (the others' writes wake nothing but their own poll).
        relay = self.relay
        if relay is not None:

            async def relay_on() -> None:
                relay.start()

            self.under_lease("outbox", relay_on, relay.stop)
        for name, group in self._leased_consumers.items():
            self._under_lease.setdefault(name, []).append(self._consuming(group))
        for name, steps in self._under_lease.items():
            lease = Lease(
                self.mongo.db, name, service=self.settings.service_name, holder=self._holder
            )
            work = LeasedWork(lease, *_in_order(steps))
            self.leases[name] = lease
            self._leased_work.append(work)
            work.start()

    def _consuming(
        self, consumers: Sequence[StreamConsumer]
    ) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
        async def begin() -> None:
            for consumer in consumers:
                await consumer.start(self.broker)

        async def end() -> None:
            for consumer in consumers:
                await consumer.stop()

        return begin, end

    def holds(self, lease: str) -> bool:
        """Whether this process holds `lease` now."""
        found = self.leases.get(lease)
        return found is not None and found.held

    async def ready(self) -> dict[str, bool]:
        """Which dependencies answer now: MongoDB, and NATS with the streams declared."""
        mongo_ok = True
        try:
            await asyncio.wait_for(self.mongo.ping(), 2.0)
        except Exception:
            mongo_ok = False
        nats_ok = self.streams_ready.is_set()
        if nats_ok:
            try:
                nats_ok = await self.broker.ping(timeout=1.0)
            except Exception:
                nats_ok = False
        # A consumer whose stream lost what its database needs serves a partial truth.
        streams_ok = not any(consumer.gap for consumer in self.consumers.values())
        return {
            "mongodb": mongo_ok,
            "nats": nats_ok,
            "streams": streams_ok,
            "serving": not self.draining,
        }

    def not_ready_because(self) -> list[str]:
        """Reasons that need an operator (each consumer's stream gap)."""
        return [consumer.gap for consumer in self.consumers.values() if consumer.gap]

    async def stop(self) -> None:
        self.draining = True
        for callback in reversed(self._on_stop):
            try:
                await callback()
            except Exception as exc:
                log.error("stop step failed", error=repr(exc))
        if self._connect_task is not None and not self._connect_task.done():
            await cancel_and_wait(self._connect_task)
        await asyncio.gather(*(work.stop() for work in self._leased_work), return_exceptions=True)
        await asyncio.gather(*(f.stop() for f in self.followers), return_exceptions=True)
        await asyncio.gather(
            *(consumer.stop() for consumer in self.consumers.values()), return_exceptions=True
        )
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.mongo.close()


def _in_order(steps: Sequence[tuple[Step, Step]]) -> tuple[Step, Step]:
    async def begin() -> None:
        for start, _ in steps:
            await start()

    async def end() -> None:
        for _, stop in reversed(steps):
            with contextlib.suppress(Exception):
                await stop()

    return begin, end
