"""Consumers on real JetStream: duplicates, stale revisions, poison messages, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import REGISTRY as METRICS

from shared.broker import JetStreamPublisher, create_broker, ensure_streams
from shared.consumer import StreamConsumer
from shared.consumer_state import ConsumerStateRepository, DeadLetterRepository
from shared.contracts import PROGRAMME_UPSERTED, REGISTRY, CloudEvent
from shared.mongo import MongoHandle
from tests.support.apps import eventually, reporting_app, running, runtime_of, unique_database
from tests.support.events import programme_event, publish_events, publish_raw
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


async def test_same_event_delivered_twice_is_applied_once(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as reporting:
        first = programme_event("DUP", 1, "First name")
        second = programme_event("DUP", 2, "Second name")
        # Distinct message ids get past the server's de-duplication, as a
        # re-publish after the duplicate window would: the consumer must cope.
        subject = PROGRAMME_UPSERTED.subject
        await publish_raw(nats_server.url, subject, first.to_bytes())
        await publish_raw(nats_server.url, subject, second.to_bytes())
        await publish_raw(nats_server.url, subject, second.to_bytes())
        last = await publish_raw(nats_server.url, subject, first.to_bytes())

        async def caught_up() -> bool:
            stream = (await reporting.get("/v1/status")).json()["streams"][0]
            return bool(stream["last_sequence"] == last)

        await eventually(caught_up)
        items = (await reporting.get("/v1/programmes")).json()["items"]
        duplicates = [item for item in items if item["code"] == "DUP"]
        assert duplicates == [
            {
                "code": "DUP",
                "name": "Second name",
                "name_vi": "Second name (vi)",
                "starts_on": None,
                "ends_on": None,
                "revision": 2,
            }
        ]


async def test_schema_invalid_message_goes_to_dead_letters_at_once(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as reporting:
        sequence = await publish_raw(
            nats_server.url, PROGRAMME_UPSERTED.subject, b'{"not": "a cloudevent"}'
        )
        good = programme_event("AFTER", 1, "After the poison")
        after = await publish_raw(nats_server.url, PROGRAMME_UPSERTED.subject, good.to_bytes())

        async def past_the_poison() -> dict[str, Any] | None:
            stream = (await reporting.get("/v1/status")).json()["streams"][0]
            done = stream["dead_letters"] == 1 and stream["last_sequence"] == after
            return stream if done else None

        await eventually(past_the_poison)
        items = (await reporting.get("/v1/programmes")).json()["items"]
        assert any(item["code"] == "AFTER" for item in items), "the poison blocked the stream"

        letters = await runtime_of(app).dead_letters.list()
        assert letters[0]["_id"] == f"REGISTRY:{sequence}"
        assert "not a CloudEvents 1.0 envelope" in letters[0]["error"]
        assert letters[0]["deliveries"] == 1


@pytest.fixture
async def consumer_parts(mongo: MongoBackend, nats_server: NatsServer) -> Any:
    handle = MongoHandle(
        mongo.url, unique_database("test_consumer"), "tests", data_dir=mongo.data_dir
    )
    broker = create_broker(nats_server.url, "tests")
    await broker.connect()
    await ensure_streams(broker, replicas=1)
    yield handle, broker
    await broker.stop()
    await handle.close()


def _registry_consumer(
    handle: MongoHandle,
    apply: Callable[[Sequence[CloudEvent]], Awaitable[None]],
    *,
    max_deliver: int,
    batch_size: int,
) -> StreamConsumer:
    """The test service's durable consumer `tests-registry` of REGISTRY."""
    return StreamConsumer(
        service="tests",
        stream=REGISTRY,
        durable="tests-registry",
        apply=apply,
        state=ConsumerStateRepository(handle.db),
        dead_letters=DeadLetterRepository(handle.db),
        max_deliver=max_deliver,
        batch_size=batch_size,
    )


async def test_failing_event_is_retried_then_dead_lettered_then_retried_by_hand(
    consumer_parts: Any, nats_server: NatsServer
) -> None:
    handle, broker = consumer_parts
    attempts: list[str] = []
    applied: list[str] = []
    broken = {"POISON"}

    async def apply(events: Sequence[CloudEvent]) -> None:
        for event in events:
            if len(events) == 1:  # a failed batch is retried one event at a time
                attempts.append(event.data["code"])
            if event.data["code"] in broken:
                raise RuntimeError("cannot apply this one yet")
        applied.extend(event.data["code"] for event in events)

    consumer = _registry_consumer(handle, apply, max_deliver=2, batch_size=10)
    await broker.start()
    await consumer.start(broker)

    publisher = JetStreamPublisher(broker)
    for code in ("GOOD1", "POISON", "GOOD2"):
        await publisher.publish(programme_event(code, 1, code).to_document())

    dead = DeadLetterRepository(handle.db)

    async def dead_lettered() -> list[Any] | None:
        return await dead.list() or None

    letters, _ = await eventually(dead_lettered, timeout=10)
    assert attempts.count("POISON") == 2, "two deliveries: max_deliver bounds the retries"
    assert sorted(applied) == ["GOOD1", "GOOD2"], "the others were applied meanwhile"
    assert letters[0]["deliveries"] == 2
    assert "cannot apply this one yet" in letters[0]["error"]

    broken.clear()
    retried = await consumer.retry_dead_letter(letters[0]["_id"])
    assert retried is not None
    assert retried["status"] == "retried"
    assert "POISON" in applied
    await asyncio.sleep(1.5)
    assert attempts.count("POISON") == 3, "a dead letter is not redelivered by the stream"
    await consumer.stop()


async def test_republishing_an_event_is_deduplicated_by_the_stream(
    consumer_parts: Any, nats_server: NatsServer
) -> None:
    _, broker = consumer_parts
    event = programme_event("ONCE", 1, "Once").to_document()
    publisher = JetStreamPublisher(broker)
    await publisher.publish(event)
    await publisher.publish(event)  # as after a crash between publish and marking sent
    nc = await nats.connect(nats_server.url)
    info = await nc.jetstream().stream_info("REGISTRY")
    await nc.close()
    assert info.state.messages == 1


async def test_a_consumer_left_by_smaller_batches_takes_whole_batches_again(
    consumer_parts: Any, nats_server: NatsServer
) -> None:
    """A durable consumer made when batches were smaller (an earlier default) holds a
    smaller `max_ack_pending`, and the server would hand each fetch no more than that:
    at start it is widened, and every event is still applied once."""
    handle, broker = consumer_parts
    events = [programme_event(f"P{n:04d}", 1, f"Programme {n}") for n in range(2500)]
    last = await publish_events(nats_server.url, events)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    old = ConsumerConfig(
        durable_name="tests-registry",
        ack_policy=AckPolicy.EXPLICIT,
        max_deliver=6,
        ack_wait=60,
        max_ack_pending=1000,
        deliver_policy=DeliverPolicy.ALL,
    )
    await js.add_consumer("REGISTRY", old)

    batches: list[int] = []
    applied: list[str] = []

    async def apply(batch: Sequence[CloudEvent]) -> None:
        batches.append(len(batch))
        applied.extend(event.data["code"] for event in batch)

    consumer = _registry_consumer(handle, apply, max_deliver=5, batch_size=2000)
    labels = {"service": "tests", "stream": "REGISTRY"}

    def taken() -> float:
        return METRICS.get_sample_value("bdg_consumer_batch_messages_sum", labels) or 0.0

    before = taken()
    await broker.start()
    await consumer.start(broker)
    try:

        async def all_applied() -> bool:
            info = await js.consumer_info("REGISTRY", "tests-registry")
            return info.ack_floor.stream_seq == last

        await eventually(all_applied)
        info = await js.consumer_info("REGISTRY", "tests-registry")
    finally:
        await consumer.stop()
        await nc.close()
    assert info.config.max_ack_pending == 8000
    assert batches[0] == 2000, f"the first fetch took {batches[0]} events"
    assert sorted(applied) == sorted(event.data["code"] for event in events)
    assert taken() - before == 2500, "bdg_consumer_batch_messages counts the messages taken"
