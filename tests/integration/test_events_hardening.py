"""Hostile input: MongoDB operators where strings belong, unknown fields, oversize values."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.events_support.access import problem_of
from tests.events_support.activities import batch_item, communication_session
from tests.events_support.registry import publish_and_wait, reference_events
from tests.support.apps import events_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

OPERATOR = '{"$gt": ""}'
URL = "/v1/activities/langson-p8/HL-1"
# Every filter of the list, with a value that matches what is stored.
FILTERS = {
    "unit_id": "vn63:20",
    "type": "communication_session",
    "programme": "P8",
    "source_system": "langson-p8",
    "from": "2023-01-01",
    "to": "2023-12-31",
    "status": "active",
    "cursor": None,
    "limit": "10",
}


@pytest.fixture
async def events(mongo: MongoBackend, nats_server: NatsServer) -> AsyncIterator[httpx.AsyncClient]:
    async with running(events_app(mongo, nats_server.url, batch_max_bytes=64 * 1024)) as client:
        await publish_and_wait(nats_server.url, client, reference_events())
        for key in ("HL-1", "HL-2"):
            response = await client.put(
                f"/v1/activities/langson-p8/{key}", json=communication_session()
            )
            assert response.status_code == 201
        yield client


async def listed(client: httpx.AsyncClient, params: dict[str, Any]) -> httpx.Response:
    response = await client.get("/v1/activities", params=params)
    assert response.status_code < 500, response.text
    return response


async def test_an_operator_in_any_filter_is_refused_or_matches_nothing(
    events: httpx.AsyncClient,
) -> None:
    matching = {key: value for key, value in FILTERS.items() if value is not None}
    assert len((await listed(events, matching)).json()["items"]) == 2
    for name in FILTERS:
        for value in (OPERATOR, "$gt", '{"$ne": null}', '{"$regex": ".*"}'):
            response = await listed(events, {**matching, name: value})
            if response.status_code == 200:
                assert response.json()["items"] == [], f"{name}={value} broadened the list"
            else:
                assert 400 <= response.status_code < 500
                assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_forged_cursor_holding_operators_is_refused(events: httpx.AsyncClient) -> None:
    for forged in ([{"$gt": ""}, {"$gt": ""}], {"$gt": "", "$ne": ""}, ["2023-10-12"]):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        problem_of(
            await events.get("/v1/activities", params={"cursor": cursor}), 400, "invalid-cursor"
        )


async def test_an_operator_as_an_activity_id_is_an_unknown_activity(
    events: httpx.AsyncClient,
) -> None:
    problem_of(await events.get(f"/v1/activities/{OPERATOR}"), 404, "unknown-activity")
    voided = await events.request("DELETE", f"/v1/activities/{OPERATOR}", json={"reason": "x"})
    problem_of(voided, 404, "unknown-activity")
    problem_of(await events.get("/v1/activities/" + "a" * 101), 422, "validation")


async def test_operators_in_json_bodies_are_refused_by_name_or_kept_as_text(
    events: httpx.AsyncClient,
) -> None:
    as_key = await events.put(URL, json={**communication_session(), "$gt": ""})
    problem = problem_of(as_key, 422, "validation")
    assert any(error["loc"][-1] == "$gt" for error in problem["errors"]), problem
    for field, value in (
        ("unit_id", {"$gt": ""}),
        ("title", {"$ne": None}),
        ("participants", {"$gt": 0}),
        ("roles", {"$gt": 1}),
        ("started_on", {"$gte": "2000-01-01"}),
    ):
        response = await events.put(URL, json=communication_session(**{field: value}))
        problem = problem_of(response, 422, "validation")
        assert any(field in error["loc"] for error in problem["errors"]), (field, problem)
    as_unit_text = await events.put(URL, json=communication_session(unit_id=OPERATOR))
    assert "is not a unit id" in problem_of(as_unit_text, 422, "invalid-activity")["detail"]

    # As text where text belongs, it is just text: stored and returned as sent.
    as_title = await events.put(
        "/v1/activities/langson-p8/HL-3", json=communication_session(title=OPERATOR)
    )
    assert as_title.status_code == 201
    stored = (await events.get(f"/v1/activities/{as_title.json()['id']}")).json()
    assert stored["activity"]["title"] == OPERATOR
    as_club = await events.put(URL, json=communication_session(club_id=OPERATOR))
    assert problem_of(as_club, 422, "unknown-club")["value"] == OPERATOR
    waiting = await events.put(
        URL, params={"allow_pending": "true"}, json=communication_session(club_id=OPERATOR)
    )
    assert (waiting.status_code, waiting.json()["pending_on"]) == (202, [f"club:{OPERATOR}"])

    void = await events.request(
        "DELETE", f"/v1/activities/{as_title.json()['id']}", json={"reason": {"$ne": ""}}
    )
    problem_of(void, 422, "validation")
    void = await events.request(
        "DELETE",
        f"/v1/activities/{as_title.json()['id']}",
        json={"reason": "trùng", "$set": {"status": "active"}},
    )
    assert problem_of(void, 422, "validation")["errors"][0]["loc"] == ["body", "$set"]


async def test_batch_items_with_operators_or_unknown_fields_are_rejected_by_name(
    events: httpx.AsyncClient,
) -> None:
    items = [
        {**batch_item("O-0", communication_session()), "$where": "1"},
        batch_item("O-1", communication_session(unit_id={"$gt": ""})),
        {**batch_item("O-2", communication_session()), "external_id": {"$gt": ""}},
        {**batch_item("O-3", communication_session()), "colour": "đỏ"},
        batch_item("O-4", communication_session()),
    ]
    results = (await events.post("/v1/activities:batch", json=items)).json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 4 + ["created"]
    assert ["$where"] in [e["loc"] for e in results[0]["errors"]]
    assert any("unit_id" in e["loc"] for e in results[1]["errors"])
    assert ["external_id"] in [e["loc"] for e in results[2]["errors"]]
    assert ["colour"] in [e["loc"] for e in results[3]["errors"]]
    assert all(r["problem"]["status"] == 422 for r in results[:4])


async def test_unknown_fields_are_named_and_lengths_are_bounded(
    events: httpx.AsyncClient,
) -> None:
    unknown = await events.put(URL, json=communication_session(colour="đỏ"))
    assert problem_of(unknown, 422, "validation")["errors"][0]["loc"][-1] == "colour"
    too_long: list[tuple[str, dict[str, Any]]] = [
        ("/v1/activities", {"unit_id": "vn63:" + "1" * 200}),
        ("/v1/activities", {"programme": "P" * 21}),
        ("/v1/activities", {"source_system": "s" * 65}),
        ("/v1/activities", {"status": "active," * 40}),
        ("/v1/activities", {"cursor": "c" * 1001}),
        ("/v1/activities", {"limit": "1001"}),
    ]
    for path, params in too_long:
        problem = problem_of(await events.get(path, params=params), 422, "validation")
        assert problem["errors"][0]["loc"] == ["query", next(iter(params))]
    for field, size in (("title", 501), ("organiser", 501), ("unit_id", 201), ("club_id", 201)):
        response = await events.put(URL, json=communication_session(**{field: "x" * size}))
        assert problem_of(response, 422, "validation")["errors"][0]["loc"][-1] == field
    long_key = await events.put(
        "/v1/activities/langson-p8/" + "k" * 201, json=communication_session()
    )
    problem_of(long_key, 422, "validation")
    long_system = await events.put(f"/v1/activities/{'s' * 65}/HL-9", json=communication_session())
    problem_of(long_system, 422, "validation")
    created = (await events.get("/v1/activities")).json()["items"][0]["id"]
    long_reason = await events.request(
        "DELETE", f"/v1/activities/{created}", json={"reason": "r" * 501}
    )
    problem_of(long_reason, 422, "validation")


async def test_batch_limits_are_named_in_413s(events: httpx.AsyncClient) -> None:
    ndjson = "\n".join(["{}"] * 1001).encode()
    over = await events.post(
        "/v1/activities:batch", content=ndjson, headers={"Content-Type": "application/x-ndjson"}
    )
    problem = problem_of(over, 413, "batch-too-large")
    assert (problem["limit"], problem["items"]) == (1000, 1001)
    assert "at most 1000" in problem["detail"]

    big = [batch_item(f"B-{n}", communication_session()) for n in range(200)]
    too_big = problem_of(await events.post("/v1/activities:batch", json=big), 413, "body-too-large")
    assert too_big["limit_bytes"] == 64 * 1024
    assert len((await events.get("/v1/activities")).json()["items"]) == 2
