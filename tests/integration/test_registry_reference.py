"""The national reference at start: exact counts, all events published, nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from services.registry.directory import UnitDirectory
from services.registry.loader import ReferenceLoader
from services.registry.reference import Selection
from services.registry.repository import Repositories
from shared.mongo import MongoHandle
from shared.outbox import OUTBOX_FIELD, PENDING_FIELD
from tests.registry_support.helpers import (
    SLICE,
    SLICE_UNITS,
    Stream,
    reference_complete,
    sliced_registry,
)
from tests.support.apps import eventually, registry_app, running, unique_database
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

# What the outbox relay leaves once everything is published.
PUBLISHED = {"$set": {OUTBOX_FIELD: []}, "$unset": {PENDING_FIELD: ""}}

FULL = {
    "vn/nation": 1,
    "vn63/province": 63,
    "vn63/district": 696,
    "vn63/commune": 10_035,
    "vn34/province": 34,
    "vn34/commune": 3_321,
}


async def test_full_reference_is_held_and_published_once(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    started = time.monotonic()
    async with running(registry_app(mongo, nats_server.url, reference_provinces="all")) as client:
        ready = time.monotonic() - started
        status = (await client.get("/v1/reference")).json()
        # Every unit answers at once, before the events are out.
        assert status["counts"] == FULL
        assert (await client.get("/v1/units/vn63:06433")).json()["name"] == "Xã Vân Nham"
        status = await reference_complete(client, timeout=90)
        assert status["events_to_publish"] == status["events_published"] == 14_150

        async def all_published() -> int | None:
            count = await stream.count()
            return count if count >= 14_150 + 3 else None

        count, _ = await eventually(all_published, timeout=30, interval=0.1)
        published = time.monotonic() - started
        print(
            f"\nfull reference: ready {ready:.2f} s, all {count} events published {published:.2f} s"
        )
        assert count == 14_150 + 3  # the units and the three seeded programmes
        assert published < 60
        events = await stream.messages("bdg.registry.v1.unit.upserted")
        assert len(events) == 14_150
        assert len({event["data"]["id"] for event in events}) == 14_150
        by_id = {event["data"]["id"]: event for event in events}
        van_nham = by_id["vn63:06433"]
        assert van_nham["data"]["successors"] == [{"unit_id": "vn34:06415", "share": 1.0}]
        assert "province" not in van_nham
        assert van_nham["subject"] == "vn63:06433"
        assert by_id["vn"]["data"]["level"] == "nation"
        assert by_id["vn34:20"]["data"]["valid_from"] == "2025-07-01"
        levels = Counter((e["data"]["edition"], e["data"]["level"]) for e in events)
        assert levels[("vn63", "commune")] == 10_035


def _publish_everything(database: Any) -> Any:
    """Stands in for the outbox relay: marks every pending event published."""

    def wake() -> None:
        asyncio.get_running_loop().create_task(database["reference"].update_many({}, PUBLISHED))

    return wake


async def test_restart_writes_and_publishes_only_what_changed(mongo: MongoBackend) -> None:
    handle = MongoHandle(
        mongo.url, unique_database("test_reference"), "test", data_dir=mongo.data_dir
    )
    try:
        repositories = Repositories(handle.db)
        outboxes = handle.db["reference"]

        async def load() -> tuple[ReferenceLoader, UnitDirectory]:
            directory = UnitDirectory()
            loader = ReferenceLoader(
                repositories.reference, directory, _publish_everything(handle.db)
            )
            await loader.prepare(Selection.parse(SLICE))
            await asyncio.wait_for(loader.store_and_publish(), 10)
            return loader, directory

        first, directory = await load()
        assert (first.status.chunks_to_write, first.status.events_to_publish) == (5, SLICE_UNITS)
        assert len(directory) == SLICE_UNITS

        second, directory = await load()
        assert (second.status.chunks_to_write, second.status.events_to_publish) == (0, 0)
        assert second.status.state == "complete"
        assert len(directory) == SLICE_UNITS
        assert directory.get("vn63:06433")["revision"] == 1  # type: ignore[index]

        # Stored as an older package had it: one name differs.
        stored = await outboxes.find_one({"_id": "vn63:20"})
        assert stored is not None
        for unit in stored["units"]:
            if unit["id"] == "vn63:06433":
                unit["name"] = "Xã Vân Nham cũ"
        await outboxes.update_one(
            {"_id": "vn63:20"}, {"$set": {"units": stored["units"], "checksum": "old"}}
        )
        events: list[dict[str, Any]] = []

        def capture() -> None:
            async def take() -> None:
                document = await outboxes.find_one({"_id": "vn63:20"})
                assert document is not None
                events.extend(document["_outbox"])
                await outboxes.update_many({}, PUBLISHED)

            asyncio.get_running_loop().create_task(take())

        directory = UnitDirectory()
        third = ReferenceLoader(repositories.reference, directory, capture)
        await third.prepare(Selection.parse(SLICE))
        await asyncio.wait_for(third.store_and_publish(), 10)
        assert (third.status.chunks_to_write, third.status.events_to_publish) == (1, 1)
        assert [(e["data"]["id"], e["data"]["name"], e["data"]["revision"]) for e in events] == [
            ("vn63:06433", "Xã Vân Nham", 2)
        ]
        assert directory.get("vn63:06433")["revision"] == 2  # type: ignore[index]
        assert directory.get("vn63:06436")["revision"] == 1  # type: ignore[index]
    finally:
        await handle.close()


async def test_units_answer_while_nats_is_away_and_flow_when_it_is_back(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    nats_server.kill()
    app = sliced_registry(mongo, nats_server.url)
    async with running(app, wait_for_nats=False) as client:
        unit = await client.get("/v1/units/vn63:06433")
        assert unit.json()["name"] == "Xã Vân Nham"

        # Stored, but nothing can go out while NATS is away (no sleep: the state says so).
        async def stored() -> dict[str, Any] | None:
            status: dict[str, Any] = (await client.get("/v1/reference")).json()
            return status if status["state"] == "publishing" else None

        waiting, _ = await eventually(stored, timeout=10)
        assert waiting["events_published"] == 0
        nats_server.start()
        status = await reference_complete(client, timeout=30)
        assert status["events_published"] == SLICE_UNITS
        assert await Stream(nats_server.url).count() == SLICE_UNITS + 3
