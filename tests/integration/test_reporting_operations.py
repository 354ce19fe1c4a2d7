"""Reporting operations on real JetStream: dead letters and their retry, freshness,
a rebuild while events keep arriving, status."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import pytest

from services.reporting.repository import ReadModels
from shared.contracts import ACTIVITY_RECORDED
from tests.reporting_support.access import LANG_SON, client_as, token_for
from tests.reporting_support.apps import eventually, reporting_app, running
from tests.reporting_support.checks import all_figures, load_scenario, wait_caught_up
from tests.reporting_support.events import publish, registry_events
from tests.reporting_support.scenario import ACTIVITIES, Activity
from tests.support.apps import signed_token
from tests.support.events import publish_raw
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

# An operator whose id the audit trail must show.
OPERATOR = "ops-admin"


async def audit_trail(client: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def extra_session(key: str, female: int, male: int, day: str = "2024-03-08") -> Activity:
    body = dict(ACTIVITIES[3].versions[0])  # a communication session in vn63:06300
    body.update(started_on=day, ended_on=day, participants={"female": female, "male": male})
    return Activity(key, [body])


def events_of(*activities: Activity) -> list[Any]:
    from tests.reporting_support import events

    saved = list(events.scenario.ACTIVITIES)
    events.scenario.ACTIVITIES[:] = list(activities)
    try:
        return events.activity_events()
    finally:
        events.scenario.ACTIVITIES[:] = saved


async def participants_2024(client: Any, unit: str = "vn63:20") -> int:
    response = await client.get(
        "/v1/indicators/communication_participants/values",
        params={"unit_id": unit, "period": "2024"},
    )
    return int(response.json()["total"])


async def test_a_poison_message_is_dead_lettered_and_retried_once_its_cause_is_fixed(
    mongo: MongoBackend, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = {"act-POISON"}
    original = ReadModels.write_facts

    async def failing(
        self: ReadModels, inserts: Sequence[dict[str, Any]], replaces: Sequence[dict[str, Any]]
    ) -> None:
        if broken & {fact["_id"] for fact in (*inserts, *replaces)}:
            raise RuntimeError("MongoDB refused the write")
        await original(self, inserts, replaces)

    monkeypatch.setattr(ReadModels, "write_facts", failing)
    app = reporting_app(mongo, nats_server.url, consumer_max_deliver=2)
    async with running(app, token=signed_token(client_id=OPERATOR)) as reporting:
        await publish(nats_server.url, registry_events())
        await publish(nats_server.url, events_of(extra_session("POISON", 7, 4)))
        await publish(nats_server.url, events_of(extra_session("GOOD", 1, 1)))

        async def dead_letters() -> list[dict[str, Any]] | None:
            body = (await reporting.get("/v1/dead-letters")).json()
            return body["items"] or None

        letters, _ = await eventually(dead_letters, timeout=10)
        [letter] = letters
        assert letter["id"].startswith("ACTIVITIES:")
        assert letter["status"] == "failed"
        assert "MongoDB refused the write" in letter["error"]
        assert letter["deliveries"] == 2
        assert await participants_2024(reporting) == 2, "the next message was not blocked"
        status = (await reporting.get("/v1/status")).json()
        assert {s["stream"]: s["dead_letters"] for s in status["streams"]}["ACTIVITIES"] == 1

        still = await reporting.post(f"/v1/dead-letters/{letter['id']}/retry")
        assert still.status_code == 409
        assert still.json()["type"].endswith("/retry-failed")

        broken.clear()
        # Retrying is for admins: a provincial submitter is refused before anything runs.
        submitter = token_for("langson-mis", LANG_SON, roles=("submitter",))
        async with client_as(app, submitter) as province:
            refused = await province.post(f"/v1/dead-letters/{letter['id']}/retry")
            assert refused.status_code == 403
            assert refused.json()["required_role"] == "admin"
        assert await participants_2024(reporting) == 2
        assert (await reporting.get("/v1/dead-letters")).json()["items"][0]["status"] == "failed"

        retried = await reporting.post(f"/v1/dead-letters/{letter['id']}/retry")
        assert retried.status_code == 200
        assert retried.json()["status"] == "retried"
        assert await participants_2024(reporting) == 13
        failed = (await reporting.get("/v1/dead-letters", params={"status": "failed"})).json()
        assert failed["items"] == []

        missing = await reporting.post("/v1/dead-letters/ACTIVITIES:999/retry")
        assert missing.status_code == 404

        # Only the accepted retry is in the audit trail, under the caller's id.
        [entry] = await audit_trail(reporting)
        assert (entry["action"], entry["key"], entry["version"]) == (
            "dead-letter.retried",
            letter["id"],
            None,
        )
        assert (entry["client_id"], entry["status"]) == (OPERATOR, 200)
        assert entry["path"] == f"/v1/dead-letters/{letter['id']}/retry"


async def test_a_message_that_is_not_a_valid_event_is_dead_lettered_at_once(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as reporting:
        sequence = await publish_raw(
            nats_server.url, ACTIVITY_RECORDED.subject, b'{"specversion": "1.0", "id": "x"}'
        )

        async def dead_letters() -> list[dict[str, Any]] | None:
            return (await reporting.get("/v1/dead-letters")).json()["items"] or None

        [letter], _ = await eventually(dead_letters)
        assert letter["id"] == f"ACTIVITIES:{sequence}"
        assert letter["deliveries"] == 1
        assert "not a CloudEvents 1.0 envelope" in letter["error"]
        retry = await reporting.post(f"/v1/dead-letters/{letter['id']}/retry")
        assert retry.status_code == 409


async def test_an_activity_is_visible_in_indicators_well_within_a_second(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as reporting:
        await publish(nats_server.url, registry_events())
        await wait_caught_up(reporting)
        delays = []
        for number in range(10):
            events = events_of(extra_session(f"F{number}", 1, 0))
            started = time.monotonic()
            await publish(nats_server.url, events)

            async def visible(expected: int = number + 1) -> bool:
                return await participants_2024(reporting) == expected

            await eventually(visible, timeout=5, interval=0.005)
            delays.append(time.monotonic() - started)
        assert statistics.median(delays) < 1.0, delays

        streams = (await reporting.get("/v1/status")).json()["streams"]
        activities = next(s for s in streams if s["stream"] == "ACTIVITIES")
        assert activities["last_sequence"] == activities["stream_last_sequence"] == 10
        assert activities["pending"] == 0
        assert activities["freshness_ms"] is not None
        assert activities["freshness_ms"] < 1000
        assert activities["age_ms"] is not None


async def test_a_rebuild_keeps_answering_and_takes_in_events_published_meanwhile(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app, token=signed_token(client_id=OPERATOR)) as reporting:
        await load_scenario(nats_server.url, reporting)
        before = await all_figures(reporting)

        # National scope is not enough: a rebuild needs an admin, and nothing starts.
        async with client_as(app, token_for("steering-board", ("vn",))) as board:
            refused = await board.post("/v1/admin/rebuild")
            assert refused.status_code == 403
            assert refused.json()["required_role"] == "admin"
        status = (await reporting.get("/v1/status")).json()
        assert (status["generation"], status["rebuild"]) == ("g1", None)

        response = await reporting.post("/v1/admin/rebuild")
        assert response.status_code == 202
        assert response.json()["status"] == "running"
        # Published while the rebuild runs: must be in the new generation too.
        await publish(nats_server.url, events_of(extra_session("DURING", 3, 2)))
        assert (await reporting.get("/v1/indicators")).status_code == 200

        async def completed() -> dict[str, Any] | None:
            status = (await reporting.get("/v1/status")).json()
            return status if status["rebuild"]["status"] == "completed" else None

        status, _ = await eventually(completed, timeout=20)
        assert status["generation"] == "g2"
        await wait_caught_up(reporting)
        assert await participants_2024(reporting) == 5
        assert await all_figures(reporting) == before

        again = await reporting.post("/v1/admin/rebuild")
        assert again.status_code == 202
        assert again.json()["generation"] == "g3"
        await eventually(completed, timeout=20)
        assert await participants_2024(reporting) == 5
        assert await all_figures(reporting) == before

        trail = [(e["action"], e["key"], e["version"], e["client_id"])
                 for e in await audit_trail(reporting)]  # fmt: skip
        assert trail == [
            ("rebuild.started", "g2", 2, OPERATOR),
            ("rebuild.started", "g3", 3, OPERATOR),
        ]
