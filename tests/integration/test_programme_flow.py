"""A programme put through the registry reaches events and reporting over real JetStream."""

from __future__ import annotations

from typing import Any

import nats

from tests.support.apps import events_app, eventually, registry_app, reporting_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

PROGRAMME = {
    "name": "Leaders of Change pilot",
    "name_vi": "Thí điểm CLB Thủ lĩnh của sự thay đổi",
    "starts_on": "2023-01-01",
    "ends_on": "2025-12-31",
}


async def test_programme_reaches_reporting_and_events_within_two_seconds(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with (
        running(registry_app(mongo, nats_server.url)) as registry,
        running(events_app(mongo, nats_server.url)) as events,
        running(reporting_app(mongo, nats_server.url)) as reporting,
    ):
        before = (await reporting.get("/v1/status")).json()["streams"][0]["last_sequence"]

        response = await registry.put("/v1/programmes/LOC", json=PROGRAMME)
        assert response.status_code == 201
        assert response.json()["name_vi"] == PROGRAMME["name_vi"]

        async def in_reporting() -> dict[str, Any] | None:
            items = (await reporting.get("/v1/programmes")).json()["items"]
            return next((item for item in items if item["code"] == "LOC"), None)

        programme, seconds = await eventually(in_reporting, timeout=2.0)
        assert seconds < 2.0
        assert programme["name_vi"] == "Thí điểm CLB Thủ lĩnh của sự thay đổi"
        assert programme["starts_on"] == "2023-01-01"

        status = (await reporting.get("/v1/status")).json()["streams"][0]
        assert status["stream"] == "REGISTRY"
        assert status["last_sequence"] > before
        assert status["last_sequence"] == status["stream_last_sequence"]

        async def in_events_replica() -> bool:
            state = (await events.get("/v1/status")).json()["streams"][0]
            return bool(state["last_sequence"] == status["last_sequence"])

        await eventually(in_events_replica, timeout=2.0)


async def test_repeated_put_changes_nothing_and_publishes_nothing(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(registry_app(mongo, nats_server.url)) as registry:
        first = await registry.put("/v1/programmes/LOC", json=PROGRAMME)
        again = await registry.put("/v1/programmes/LOC", json=PROGRAMME)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["revision"] == 1

        changed = await registry.put("/v1/programmes/LOC", json={**PROGRAMME, "name": "Renamed"})
        assert changed.status_code == 200
        assert changed.json()["revision"] == 2

        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()

        async def all_published() -> int | None:
            info = await js.stream_info("REGISTRY")
            # Three seeded programmes, then LOC created and LOC renamed.
            return info.state.messages if info.state.messages == 5 else None

        await eventually(all_published, timeout=3.0)
        message = await js.get_last_msg("REGISTRY", "bdg.registry.v1.programme.upserted")
        assert message.headers is not None
        assert message.data is not None
        import json

        body = json.loads(message.data)
        assert message.headers["Nats-Msg-Id"] == body["id"]
        assert body["type"] == "vn.bdg.programme.upserted.v1"
        assert body["data"]["name"] == "Renamed"
        assert body["data"]["revision"] == 2
        await nc.close()


async def test_write_while_nats_is_down_is_published_after_restart(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with (
        running(
            registry_app(
                mongo, nats_server.url, outbox_poll_seconds=0.2, reference_provinces="none"
            )
        ) as registry,
        running(reporting_app(mongo, nats_server.url)) as reporting,
    ):
        nats_server.kill()

        response = await registry.put("/v1/programmes/OUTAGE", json=PROGRAMME)
        assert response.status_code == 201

        nats_server.start()

        async def arrived() -> bool:
            items = (await reporting.get("/v1/programmes")).json()["items"]
            return any(item["code"] == "OUTAGE" for item in items)

        await eventually(arrived, timeout=20.0)
