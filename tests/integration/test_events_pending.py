"""References not known yet: accepted as pending, resolved by the registry, or rejected."""

from __future__ import annotations

from typing import Any

import httpx

from tests.events_support.activities import batch_item, club_meeting, communication_session
from tests.events_support.registry import (
    club_event,
    publish_and_wait,
    reference_events,
    unit_event,
)
from tests.events_support.stream import activity_count, published
from tests.support.apps import events_app, eventually, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

NEW_CLUB = "club-thcs-dong-tien"


async def status_of(client: httpx.AsyncClient, activity_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/activities/{activity_id}")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


async def test_a_pending_club_resolves_when_the_registry_announces_it(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(events_app(mongo, nats_server.url)) as events:
        await publish_and_wait(nats_server.url, events, reference_events())
        # Without the opt-in, an unknown club is a mistake, named at once.
        refused = await events.put(
            "/v1/activities/langson-p8/CLB-2023-11", json=club_meeting(NEW_CLUB)
        )
        assert refused.status_code == 422
        assert (refused.json()["field"], refused.json()["value"]) == ("club_id", NEW_CLUB)
        response = await events.put(
            "/v1/activities/langson-p8/CLB-2023-11",
            params={"allow_pending": "true"},
            json=club_meeting(NEW_CLUB),
        )
        assert response.status_code == 202
        written = response.json()
        assert (written["status"], written["pending_on"]) == (
            "pending_reference",
            [f"club:{NEW_CLUB}"],
        )
        listed = (await events.get("/v1/activities", params={"status": "pending_reference"})).json()
        assert [item["id"] for item in listed["items"]] == [written["id"]]
        assert await activity_count(nats_server.url) == 0, "a pending activity was announced"

        await publish_and_wait(
            nats_server.url, events, [club_event(NEW_CLUB, "vn63:06436", "vn63:20")]
        )

        async def active() -> dict[str, Any] | None:
            found = await status_of(events, written["id"])
            return found if found["status"] == "active" else None

        resolved, _ = await eventually(active)
        assert resolved["version"] == 1
        assert resolved["pending_on"] == []
        [message] = await published(nats_server.url, 1)
        assert message.body["type"] == "vn.bdg.activity.recorded.v1"
        assert message.body["data"]["activity"]["club_id"] == NEW_CLUB
        assert message.body["province"] == "vn63:20"


async def test_a_pending_unit_resolves_and_a_club_of_another_province_rejects(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(events_app(mongo, nats_server.url)) as events:
        await publish_and_wait(nats_server.url, events, reference_events())
        village = communication_session(unit_id="vn63:06433.T05")
        wrong_club = club_meeting("club-ha-giang-moi")
        batch = await events.post(
            "/v1/activities:batch",
            params={"allow_pending": "true"},
            json=[batch_item("V-1", village), batch_item("V-2", wrong_club)],
        )
        first, second = batch.json()["results"]
        assert first["pending_on"] == ["unit:vn63:06433.T05"]
        assert second["pending_on"] == ["club:club-ha-giang-moi"]

        await publish_and_wait(
            nats_server.url,
            events,
            [
                unit_event("vn63:06433.T05", "Thôn Đồng Mỏ", "village", "vn63:06433"),
                club_event("club-ha-giang-moi", "vn63:01024", "vn63:02", name="CLB Bản Máy 2"),
            ],
        )

        async def settled() -> tuple[dict[str, Any], dict[str, Any]] | None:
            one = await status_of(events, first["id"])
            two = await status_of(events, second["id"])
            done = one["status"] != "pending_reference" and two["status"] != "pending_reference"
            return (one, two) if done else None

        (village_now, club_now), _ = await eventually(settled)
        assert village_now["status"] == "active"
        assert village_now["province_id"] == "vn63:20"
        in_commune = (await events.get("/v1/activities", params={"unit_id": "vn63:06433"})).json()
        assert first["id"] in [item["id"] for item in in_commune["items"]]
        assert club_now["status"] == "rejected"
        assert "lies in vn63:02 (Tỉnh Hà Giang)" in club_now["rejection"]["detail"]
        assert club_now["rejection"]["errors"][0]["loc"] == ["club_id"]
        messages = await published(nats_server.url, 1)
        assert [m.body["data"]["id"] for m in messages] == [first["id"]]


async def test_a_reference_still_unknown_after_the_timeout_is_rejected_visibly(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = events_app(mongo, nats_server.url, pending_timeout_seconds=0.5, pending_sweep_seconds=0.1)
    async with running(app) as events:
        await publish_and_wait(nats_server.url, events, reference_events())
        written = (
            await events.put(
                "/v1/activities/langson-p8/CLB-LATE",
                params={"allow_pending": "true"},
                json=club_meeting("club-never"),
            )
        ).json()
        assert written["status"] == "pending_reference"

        async def rejected() -> dict[str, Any] | None:
            found = await status_of(events, written["id"])
            return found if found["status"] == "rejected" else None

        found, seconds = await eventually(rejected, timeout=5)
        assert seconds >= 0.3
        [error] = found["rejection"]["errors"]
        assert error["loc"] == ["club_id"]
        assert error["msg"].startswith("club club-never is still unknown to the registry 0.5 s")
        listed = (await events.get("/v1/activities", params={"status": "rejected"})).json()
        assert [item["id"] for item in listed["items"]] == [written["id"]]
        assert await activity_count(nats_server.url) == 0

        # The club registered late: sending the activity again records it.
        await publish_and_wait(
            nats_server.url, events, [club_event("club-never", "vn63:06433", "vn63:20")]
        )
        again = await events.put(
            "/v1/activities/langson-p8/CLB-LATE", json=club_meeting("club-never")
        )
        assert (again.status_code, again.json()["version"], again.json()["status"]) == (
            200,
            2,
            "active",
        )
