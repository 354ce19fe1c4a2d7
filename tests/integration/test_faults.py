"""A restarted, wiped or attacked component never serves wrong figures (real NATS).

- a reporting process on an empty database catches up by itself, though its durable
  consumer on NATS had acknowledged everything already;
- a JetStream store wiped under a running service is noticed: not ready (503), the
  reason in /v1/status, and nothing applied until an operator adopts the new stream;
- an event forged by someone who can reach NATS (another source) and an envelope of
  the other stream are dead-lettered at their first delivery, the figures unchanged;
- tokens keep being verified after a restart while the registry is unreachable, and
  a service that holds no key answers 503 with Retry-After, not 401.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from shared.contracts import ACTIVITY_RECORDED, UNIT_UPSERTED, CloudEvent, UnitUpserted
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import load_scenario, wait_caught_up
from tests.reporting_support.events import activity_events
from tests.support.apps import eventually, signed_token
from tests.support.events import publish_raw
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

FIGURE = "/v1/indicators/people_reached/values?unit_id=vn63:20&period=2023&by=sex"


async def _status(client: httpx.AsyncClient, stream: str) -> dict[str, Any]:
    streams = (await client.get("/v1/status")).json()["streams"]
    found: dict[str, Any] = next(s for s in streams if s["stream"] == stream)
    return found


async def test_a_reporting_process_on_an_empty_database_catches_up_by_itself(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as first:
        await load_scenario(nats_server.url, first)
        expected = (await first.get(FIGURE)).json()
        assert expected["total"] > 0
    # Same service name, so the same durable consumers, which acknowledged everything;
    # a new database (a wiped volume, a new machine): it must replay, not start at the end.
    async with running(reporting_app(mongo, nats_server.url)) as second:
        await wait_caught_up(second)
        assert (await second.get(FIGURE)).json()["rows"] == expected["rows"]
        activities = await _status(second, "ACTIVITIES")
        assert activities["last_sequence"] == activities["stream_last_sequence"]


async def test_a_wiped_jetstream_store_stops_the_service_until_an_operator_decides(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url, consumer_check_every_seconds=0.5)
    async with running(app) as reporting:
        await load_scenario(nats_server.url, reporting)
        before = (await reporting.get(FIGURE)).json()
        assert (await reporting.get("/readyz")).status_code == 200

        nats_server.stop()
        nats_server.wipe()
        nats_server.start()

        async def gap() -> dict[str, Any] | None:
            found = await _status(reporting, "ACTIVITIES")
            return found if found["gap"] else None

        found, _ = await eventually(gap, timeout=30)
        assert "recreated" in found["gap"] or "lost" in found["gap"]
        ready = await reporting.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["streams"] is False
        metrics = (await reporting.get("/metrics")).text
        assert 'bdg_stream_gap{service="reporting",stream="ACTIVITIES"} 1.0' in metrics
        # The figures already applied are still answered; nothing new is applied.
        assert (await reporting.get(FIGURE)).json()["rows"] == before["rows"]

        adopted = await reporting.post("/v1/admin/streams/ACTIVITIES/adopt")
        assert adopted.status_code == 200, adopted.text
        await reporting.post("/v1/admin/streams/REGISTRY/adopt")
        assert (await reporting.get("/readyz")).status_code == 200


async def test_forged_and_misrouted_events_are_dead_lettered_at_once(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as reporting:
        await load_scenario(nats_server.url, reporting)
        before = (await reporting.get(FIGURE)).json()
        _, genuine = activity_events()[0]
        forged_data = {**genuine.data, "version": 999999}
        forged_data["activity"] = {
            **genuine.data["activity"],
            "participants": {"female": 5000, "male": 0, "ethnic_minority": None},
        }
        forged = CloudEvent(
            **{**genuine.model_dump(), "id": str(uuid.uuid4()), "source": "/intruder"},
        ).model_copy(update={"data": forged_data})
        await publish_raw(nats_server.url, ACTIVITY_RECORDED.subject, forged.to_bytes())
        unit = CloudEvent.new(
            UNIT_UPSERTED,
            UnitUpserted(
                id="vn63:99999", edition="vn63", code="99999", name="Xã Giả", level="commune",
                parent_id="vn63:186", revision=1,
            ),
            source=UNIT_UPSERTED.stream.source,
            subject="vn63:99999",
            correlation_id="misrouted",
        )  # fmt: skip
        started = time.monotonic()
        last = await publish_raw(nats_server.url, ACTIVITY_RECORDED.subject, unit.to_bytes())

        async def both_dead() -> dict[str, Any] | None:
            found = await _status(reporting, "ACTIVITIES")
            return found if found["dead_letters"] == 2 and found["last_sequence"] == last else None

        await eventually(both_dead, timeout=10)
        assert time.monotonic() - started < 5, "dead-lettered at once, not after retries"
        letters = (await reporting.get("/v1/dead-letters")).json()["items"]
        reasons = " ".join(letter["error"] for letter in letters)
        assert "/intruder" in reasons
        assert "only /bdg/events publishes" in reasons
        assert "is not an event of stream ACTIVITIES" in reasons
        assert all(letter["deliveries"] == 1 for letter in letters)
        assert (await reporting.get(FIGURE)).json()["rows"] == before["rows"]


async def test_tokens_verify_after_a_restart_with_the_registry_unreachable(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = f"test_reporting_{uuid.uuid4().hex[:10]}"
    token = signed_token(client_id="ops-admin", roles=("admin",))
    async with running(reporting_app(mongo, nats_server.url, database=database)) as first:
        await eventually(lambda: _ready(first), timeout=10)

    fetches = 0

    async def registry_down() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        raise OSError("connection refused")

    again = reporting_app(mongo, nats_server.url, jwks=registry_down, database=database)
    async with running(again, token=token) as restarted:
        answers = await asyncio.gather(*(restarted.get("/v1/indicators") for _ in range(5)))
        assert [answer.status_code for answer in answers] == [200] * 5
        assert (await restarted.get("/readyz")).json()["checks"]["signing_keys"] is True

    fresh = reporting_app(mongo, nats_server.url, jwks=registry_down)
    async with running(fresh, token=token) as empty:
        started = time.monotonic()
        answers = await asyncio.gather(*(empty.get("/v1/indicators") for _ in range(5)))
        elapsed = time.monotonic() - started
        assert [answer.status_code for answer in answers] == [503] * 5
        assert all(int(answer.headers["Retry-After"]) >= 1 for answer in answers)
        assert answers[0].json()["type"].endswith("/keys-unavailable")
        assert elapsed < 3, "one shared fetch, not one per waiting request"
        ready = await empty.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["signing_keys"]) == (503, False)


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200
