"""Recording, revising and voiding activities over HTTP, on real JetStream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.events_support.activities import batch_item, club_meeting, communication_session
from tests.events_support.registry import CLUB_BAN_MAY, publish_and_wait, reference_events
from tests.events_support.stream import Settled, published
from tests.support.apps import events_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

URL = "/v1/activities/langson-p8/HL-2023-0042"


@pytest.fixture
async def events(mongo: MongoBackend, nats_server: NatsServer) -> AsyncIterator[httpx.AsyncClient]:
    async with running(events_app(mongo, nats_server.url)) as client:
        await publish_and_wait(nats_server.url, client, reference_events())
        yield client


async def test_new_identical_changed_is_201_200_200_with_versions_and_one_event_each(
    events: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    new = await events.put(URL, json=communication_session())
    same = await events.put(URL, json=communication_session())
    changed = await events.put(URL, json=communication_session(title="Diễn đàn phòng chống"))
    assert [r.status_code for r in (new, same, changed)] == [201, 200, 200]
    assert [r.json()["version"] for r in (new, same, changed)] == [1, 1, 2]
    assert new.json()["id"] == same.json()["id"] == changed.json()["id"]
    assert new.json()["status"] == "active"

    messages = await published(nats_server.url, 2)
    assert [m.body["type"] for m in messages] == [
        "vn.bdg.activity.recorded.v1",
        "vn.bdg.activity.revised.v1",
    ]
    assert [m.subject for m in messages] == [
        "bdg.activities.v1.recorded",
        "bdg.activities.v1.revised",
    ]
    for message in messages:
        assert message.msg_id == message.body["id"]
        assert message.body["province"] == "vn63:20"
        assert message.body["data"]["id"] == new.json()["id"]
    assert messages[1].body["data"]["version"] == 2
    assert messages[1].body["data"]["activity"]["title"] == "Diễn đàn phòng chống"
    settled = await Settled(nats_server.url).count(events)
    assert settled == 2, "the identical PUT published something"

    detail = (await events.get(f"/v1/activities/{new.json()['id']}")).json()
    assert [(v["version"], v["activity"]["title"]) for v in detail["versions"]] == [
        (1, "Tuyên truyền phòng, chống bạo lực học đường"),
        (2, "Diễn đàn phòng chống"),
    ]


async def test_a_batch_of_1000_with_3_invalid_items_creates_997_and_explains_3(
    events: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    items = [batch_item(f"HL-{n:04d}", communication_session()) for n in range(1000)]
    items[10]["participants"] = {"female": -3, "male": 4}
    items[500]["ended_on"] = "2023-10-01"  # before started_on
    items[999] = batch_item("HL-0999", communication_session(club_id=CLUB_BAN_MAY))
    response = await events.post("/v1/activities:batch", json=items)
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {"created": 997, "revised": 0, "unchanged": 0, "rejected": 3}
    rejected = {r["index"]: r["errors"] for r in body["results"] if r["status"] == "rejected"}
    assert rejected[10] == [
        {"loc": ["participants", "female"], "msg": "Input should be greater than or equal to 0"}
    ]
    assert rejected[500] == [
        {"loc": [], "msg": "Value error, ended_on must not be before started_on"}
    ]
    assert rejected[999][0]["loc"] == ["club_id"]
    assert "lies in vn63:02 (Tỉnh Hà Giang)" in rejected[999][0]["msg"]
    assert [r["index"] for r in body["results"]] == list(range(1000))

    messages = await published(nats_server.url, 997, timeout=30)
    assert len(messages) == 997
    assert all(m.msg_id == m.body["id"] for m in messages)

    again = (await events.post("/v1/activities:batch", json=items)).json()
    assert again["summary"] == {"created": 0, "revised": 0, "unchanged": 997, "rejected": 3}
    listed = (await events.get("/v1/activities", params={"limit": 1000})).json()
    assert len(listed["items"]) == 997
    assert listed["next_cursor"] is None


async def test_ndjson_batch_and_repeated_keys_apply_in_order(events: httpx.AsyncClient) -> None:
    lines = [
        batch_item("N-1", communication_session()),
        batch_item("N-1", communication_session(title="Sửa lần 1")),
        batch_item("N-1", communication_session(title="Sửa lần 1")),
        batch_item("N-2", communication_session()),
    ]
    raw = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    response = await events.post(
        "/v1/activities:batch",
        content=raw.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    results = response.json()["results"]
    assert [(r["status"], r["version"]) for r in results] == [
        ("created", 1),
        ("revised", 2),
        ("unchanged", 2),
        ("created", 1),
    ]

    later = [
        batch_item("N-1", communication_session(title="Sửa lần 2")),
        batch_item("N-2", communication_session()),
    ]
    again = (await events.post("/v1/activities:batch", json=later)).json()["results"]
    assert [(r["status"], r["version"]) for r in again] == [("revised", 3), ("unchanged", 1)]
    detail = (await events.get(f"/v1/activities/{again[0]['id']}")).json()
    assert [v["activity"]["title"] for v in detail["versions"]] == [
        "Tuyên truyền phòng, chống bạo lực học đường",
        "Sửa lần 1",
        "Sửa lần 2",
    ]


async def test_more_than_1000_items_is_refused_with_the_limit(events: httpx.AsyncClient) -> None:
    items = [batch_item(f"X-{n}", communication_session()) for n in range(1001)]
    response = await events.post("/v1/activities:batch", json=items)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit"] == 1000


async def test_20_concurrent_puts_of_one_key_make_one_activity(
    events: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    same = await asyncio.gather(*(events.put(URL, json=communication_session()) for _ in range(20)))
    assert sorted(r.status_code for r in same) == [200] * 19 + [201]
    assert {(r.json()["id"], r.json()["version"]) for r in same} == {(same[0].json()["id"], 1)}

    other = "/v1/activities/langson-p8/HL-2023-0043"
    different = await asyncio.gather(
        *(events.put(other, json=communication_session(title=f"Lần {n}")) for n in range(20))
    )
    assert sorted(r.status_code for r in different) == [200] * 19 + [201]
    assert sorted(r.json()["version"] for r in different) == list(range(1, 21))
    listed = (await events.get("/v1/activities")).json()["items"]
    assert len(listed) == 2
    messages = await published(nats_server.url, 21)
    assert sorted(m.body["data"]["version"] for m in messages) == [1, *range(1, 21)]


async def test_a_void_stops_the_activity_being_returned_as_active(
    events: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    created = (await events.put(URL, json=communication_session())).json()
    url = f"/v1/activities/{created['id']}"
    voided = await events.request("DELETE", url, json={"reason": "Nhập trùng với HL-0041"})
    assert voided.status_code == 200
    assert voided.json() == {
        "id": created["id"],
        "version": 2,
        "status": "voided",
        "pending_on": [],
    }
    again = await events.request("DELETE", url, json={"reason": "lần nữa"})
    assert (again.status_code, again.json()["version"]) == (200, 2)

    assert (await events.get("/v1/activities", params={"status": "active"})).json()["items"] == []
    assert (await events.get("/v1/activities")).json()["items"] == []
    only_voided = (await events.get("/v1/activities", params={"status": "voided"})).json()
    assert [item["status"] for item in only_voided["items"]] == ["voided"]
    detail = (await events.get(url)).json()
    assert detail["void"]["reason"] == "Nhập trùng với HL-0041"

    resent = await events.put(URL, json=communication_session())
    assert (resent.status_code, resent.json()["status"]) == (200, "voided")
    revised = await events.put(URL, json=communication_session(title="Khác"))
    assert revised.status_code == 409
    assert revised.json()["type"].endswith("/activity-voided")

    messages = await published(nats_server.url, 2)
    assert [m.body["type"] for m in messages] == [
        "vn.bdg.activity.recorded.v1",
        "vn.bdg.activity.voided.v1",
    ]
    assert messages[1].body["data"]["reason"] == "Nhập trùng với HL-0041"
    assert messages[1].body["data"]["version"] == 2
    missing = await events.request("DELETE", "/v1/activities/nope", json={"reason": "x"})
    assert missing.status_code == 404


async def test_a_vn63_unit_dated_after_the_reform_is_rejected_naming_its_successor(
    events: httpx.AsyncClient,
) -> None:
    late = communication_session(started_on="2025-08-01", ended_on="2025-08-01")
    response = await events.put(URL, json=late)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "https://bdg.gov.vn/problems/wrong-unit-edition"
    assert "vn34:06415 (Xã Vân Nham)" in problem["detail"]
    assert problem["successors"] == [{"unit_id": "vn34:06415", "share": 1.0, "name": "Xã Vân Nham"}]
    assert problem["errors"][0]["loc"] == ["body", "unit_id"]
    assert (await events.get("/v1/activities", params={"status": "all"})).json()["items"] == []

    fixed = await events.put(URL, json={**late, "unit_id": "vn34:06415"})
    assert (fixed.status_code, fixed.json()["status"]) == (201, "active")


async def test_future_dates_and_schema_errors_are_422_problems(events: httpx.AsyncClient) -> None:
    future = await events.put(
        URL, json=communication_session(started_on="2099-01-01", ended_on="2099-01-01")
    )
    assert future.status_code == 422
    assert any("is in the future" in error["msg"] for error in future.json()["errors"])
    negative = await events.put(URL, json=communication_session(budget_vnd=-1))
    assert negative.status_code == 422
    assert negative.json()["type"].endswith("/validation")


async def test_the_list_filters_by_unit_including_every_unit_below(
    events: httpx.AsyncClient,
) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "L-1": communication_session(),
        "L-2": communication_session(
            unit_id="vn63:06436", started_on="2024-03-08", ended_on="2024-03-08"
        ),
        "L-3": communication_session(
            unit_id="vn34:06415", started_on="2025-09-01", ended_on="2025-09-02"
        ),
        "L-4": club_meeting(
            CLUB_BAN_MAY, unit_id="vn63:01024", started_on="2023-11-16", ended_on="2023-11-16"
        ),
    }
    for key, body in bodies.items():
        response = await events.put(f"/v1/activities/langson-p8/{key}", json=body)
        assert response.status_code == 201, response.json()

    async def keys(**params: Any) -> list[str]:
        items = (await events.get("/v1/activities", params=params)).json()["items"]
        return [item["external_id"] for item in items]

    assert await keys(unit_id="vn63:186") == ["L-1", "L-2"]
    assert await keys(unit_id="vn63:20") == ["L-1", "L-2"]
    assert await keys(unit_id="vn34:20") == ["L-3"]
    assert await keys(unit_id="vn") == ["L-1", "L-4", "L-2", "L-3"]
    assert await keys(type="club_meeting") == ["L-4"]
    assert await keys(**{"from": "2023-11-01", "to": "2024-12-31"}) == ["L-4", "L-2"]

    first = (await events.get("/v1/activities", params={"limit": 3})).json()
    assert [item["external_id"] for item in first["items"]] == ["L-1", "L-4", "L-2"]
    rest = (
        await events.get("/v1/activities", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    assert [item["external_id"] for item in rest["items"]] == ["L-3"]
    assert rest["next_cursor"] is None
    bad = await events.get("/v1/activities", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400


async def test_activity_types_publish_each_model_as_json_schema(
    events: httpx.AsyncClient,
) -> None:
    types = (await events.get("/v1/activity-types")).json()
    assert [t["type"] for t in types] == [
        "club_meeting",
        "communication_session",
        "training_course",
        "forum",
        "support_delivery",
        "school_exchange",
        "learning_centre_class",
        "learning_centre_rating",
    ]
    training = next(t["schema"] for t in types if t["type"] == "training_course")
    assert {"sessions", "duration_days", "participants"} <= set(training["properties"])
    assert "sessions" in training["required"]
    club = next(t["schema"] for t in types if t["type"] == "club_meeting")
    assert "club_id" in club["required"]
    paths = (await events.get("/openapi.json")).json()["paths"]
    assert {"/v1/activities/{source_system}/{external_id}", "/v1/activities:batch"} <= set(paths)
    metrics = (await events.get("/metrics")).text
    assert "bdg_events_activity_items_total" in metrics
