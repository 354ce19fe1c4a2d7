"""Every accepted write reaches `ACTIVITIES` exactly once, NATS outage or not."""

from __future__ import annotations

from collections import Counter

from tests.events_support.activities import batch_item, club_meeting, communication_session
from tests.events_support.registry import publish_and_wait, reference_events
from tests.events_support.stream import Settled, published
from tests.support.apps import events_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


async def test_writes_made_while_nats_is_down_are_published_once_when_it_returns(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(events_app(mongo, nats_server.url, outbox_poll_seconds=0.2)) as events:
        await publish_and_wait(nats_server.url, events, reference_events())
        first = await events.put("/v1/activities/langson-p8/A", json=communication_session())
        assert first.status_code == 201
        await published(nats_server.url, 1)

        nats_server.kill()

        revised = await events.put(
            "/v1/activities/langson-p8/A", json=communication_session(title="Sửa tiêu đề")
        )
        same = await events.put(
            "/v1/activities/langson-p8/A", json=communication_session(title="Sửa tiêu đề")
        )
        created = await events.put("/v1/activities/langson-p8/B", json=communication_session())
        items = [batch_item(f"C-{n}", communication_session()) for n in range(5)]
        items.append(batch_item("C-bad", communication_session(budget_vnd=-5)))
        batch = await events.post("/v1/activities:batch", json=items)
        voided = await events.request(
            "DELETE", f"/v1/activities/{created.json()['id']}", json={"reason": "trùng"}
        )
        pending = await events.put(
            "/v1/activities/langson-p8/D",
            params={"allow_pending": "true"},
            json=club_meeting("club-new"),
        )
        assert [r.status_code for r in (revised, same, created, batch, voided, pending)] == [
            200,
            200,
            201,
            200,
            200,
            202,
        ]
        assert batch.json()["summary"]["created"] == 5
        assert pending.json()["status"] == "pending_reference"

        nats_server.start()

        # 1 before the outage; during it: revised A, recorded B, 5 recorded, voided B.
        messages = await published(nats_server.url, 9, timeout=30)
        assert await Settled(nats_server.url).count(events) == 9, "an event went out twice"
        messages = messages[:9]
        assert all(message.msg_id == message.body["id"] for message in messages)
        assert len({message.body["id"] for message in messages}) == 9
        assert Counter(message.body["type"].split(".")[3] for message in messages) == {
            "recorded": 7,
            "revised": 1,
            "voided": 1,
        }
        assert {message.body["province"] for message in messages} == {"vn63:20"}
        by_activity = Counter(
            (message.body["data"]["id"], message.body["data"]["version"]) for message in messages
        )
        assert set(by_activity.values()) == {1}
