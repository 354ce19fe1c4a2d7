"""A registry database restored from an older backup: its next changes still count."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import nats

from services.registry.publishing import REVISION_STEP
from shared.contracts import PROGRAMME_UPSERTED, REGISTRY
from shared.mongo import MongoHandle
from shared.replica import apply_latest
from tests.support.apps import eventually, registry_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

PROGRAMME = "PX"


async def programme_events(nats_url: str) -> list[dict[str, Any]]:
    """Every `programme.upserted` of PX on the stream, in order (as a consumer reads it)."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        info = await js.stream_info(REGISTRY.name)
        found = []
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(REGISTRY.name, sequence)
            if message.subject != PROGRAMME_UPSERTED.subject or message.data is None:
                continue
            data = json.loads(message.data)["data"]
            if data["code"] == PROGRAMME:
                found.append(data)
        return found
    finally:
        await connection.close()


async def put_programme(registry: httpx.AsyncClient, name: str) -> None:
    response = await registry.put(
        f"/v1/programmes/{PROGRAMME}", json={"name": name, "name_vi": name}
    )
    assert response.status_code in (200, 201), response.text


async def test_changes_after_a_restore_outrank_what_was_published_before_it(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = f"test_registry_{uuid.uuid4().hex[:10]}"
    handle = MongoHandle(mongo.url, database, "tests", data_dir=mongo.data_dir)
    try:
        async with running(registry_app(mongo, nats_server.url, database=database)) as registry:
            await put_programme(registry, "Before the backup")

            async def published(count: int) -> list[dict[str, Any]] | None:
                found = await programme_events(nats_server.url)
                return found if len(found) == count else None

            await eventually(lambda: published(1), timeout=10)
            # The backup: the programme as stored, and what the database notes publishing.
            backup = {
                name: await handle.db[name].find({}).to_list(None)
                for name in ("programmes", "publishing")
            }
            await put_programme(registry, "After the backup")
            await eventually(lambda: published(2), timeout=10)

        # The database restored from the backup; JetStream kept what was published.
        for name, documents in backup.items():
            await handle.db[name].delete_many({})
            await handle.db[name].insert_many(documents)

        async with running(registry_app(mongo, nats_server.url, database=database)) as registry:
            await put_programme(registry, "After the restore")
            events, _ = await eventually(lambda: published(3), timeout=10)

        revisions = [event["revision"] for event in events]
        assert revisions[:2] == [1, 2]
        assert revisions[2] == REVISION_STEP + 2, "stored revision 2 again, above the base"
        # A consumer keeps the highest revision per entity: the change after the restore
        # is what it holds, not the one the restore lost.
        consumer = handle.db[f"consumer_{uuid.uuid4().hex[:6]}"]
        for event in events:
            await apply_latest(consumer, [{"_id": event["code"], **event}])
        held = await consumer.find_one({"_id": PROGRAMME})
        assert held is not None
        assert held["name"] == "After the restore"
    finally:
        await handle.close()


async def test_a_plain_restart_keeps_revisions_counting_by_one(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = f"test_registry_{uuid.uuid4().hex[:10]}"

    async def published(count: int) -> list[dict[str, Any]] | None:
        found = await programme_events(nats_server.url)
        return found if len(found) == count else None

    for number, name in enumerate(("First", "Second"), start=1):
        async with running(registry_app(mongo, nats_server.url, database=database)) as registry:
            await put_programme(registry, name)
            events, _ = await eventually(lambda number=number: published(number), timeout=10)
    assert [event["revision"] for event in events] == [1, 2]
