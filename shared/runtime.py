"""What a service holds while it runs: MongoDB, the broker, the outbox relay, its consumers.

The app lifespan drives it: `start()` connects MongoDB, then connects NATS in the
background (retrying while NATS is away, so the HTTP side and `/readyz` answer at
once), declares the streams and starts the subscribers; `stop()` stops taking
messages, lets in-flight ones finish, flushes the outbox and closes the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from faststream.nats import NatsBroker

from shared.broker import JetStreamPublisher, create_broker, ensure_streams
from shared.consumer import ApplyBatch, StreamConsumer
from shared.consumer_state import ConsumerStateRepository, DeadLetterRepository
from shared.contracts.streams import StreamSpec
from shared.logging import get_logger
from shared.mongo import MongoHandle
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings

log = get_logger(__name__)


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

    def on_start(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the service is up (e.g. start a periodic task)."""
        self._on_start.append(callback)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` first when stopping, while MongoDB and NATS are still open."""
        self._on_stop.append(callback)

    def consume(self, stream: StreamSpec, apply: ApplyBatch) -> StreamConsumer:
        """Subscribe `apply` to a whole stream with this service's durable consumer."""
        consumer = StreamConsumer(
            service=self.settings.service_name,
            stream=stream,
            durable=f"{self.settings.service_name}-{stream.name.lower()}",
            apply=apply,
            state=self.consumer_state,
            dead_letters=self.dead_letters,
            max_deliver=self.settings.consumer_max_deliver,
            batch_size=self.settings.consumer_batch_size,
            check_every_seconds=self.settings.consumer_check_every_seconds,
            declare_streams=self._declare_streams,
        )
        self.consumers[stream.name] = consumer
        return consumer

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

    async def start(self) -> None:
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
                for consumer in self.consumers.values():
                    await consumer.start(self.broker)
            except Exception as exc:  # NATS not there yet: keep trying.
                log.warning("waiting for NATS", url=self.settings.nats_url, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.streams_ready.set()
            log.info("connected to NATS", url=self.settings.nats_url)
            # From here on the relay rides out NATS outages by itself.
            if self.relay is not None:
                self.relay.start()
            return

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
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
        await asyncio.gather(
            *(consumer.stop() for consumer in self.consumers.values()), return_exceptions=True
        )
        if self.relay is not None:
            await self.relay.stop()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.mongo.close()
