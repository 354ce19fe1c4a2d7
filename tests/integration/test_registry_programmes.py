"""Seeded programmes and their targets: the catalogue, the period grammar, whole plans."""

from __future__ import annotations

from tests.registry_support.helpers import (
    HUU_LUNG,
    LANG_SON,
    VAN_NHAM,
    Stream,
    problem_type,
    registry,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

PLAN = [
    {"indicator": "club_members", "unit_id": HUU_LUNG, "period": "SY2023-2024", "value": 257},
    {"indicator": "trainees", "unit_id": LANG_SON, "period": "2022", "value": 860},
    {"indicator": "forum_participants", "unit_id": VAN_NHAM, "period": "2023Q4", "value": 150},
    {"indicator": "clubs_active", "unit_id": "vn", "period": "2021-01-01..2025-12-31", "value": 10},
]


async def test_seeded_programmes_and_a_plan(mongo: MongoBackend, nats_server: NatsServer) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        programmes = {p["code"]: p for p in (await client.get("/v1/programmes")).json()["items"]}
        assert set(programmes) >= {"P8", "SFES", "CLC"}
        assert programmes["SFES"]["name_vi"] == "Trường học An toàn - Thân thiện - Bình đẳng"
        assert programmes["CLC"]["name"] == "Community learning centres"

        stored = await client.put("/v1/programmes/P8/targets", json=PLAN)
        assert stored.status_code == 200
        assert stored.json()["revision"] == 1
        again = await client.put("/v1/programmes/P8/targets", json=list(reversed(PLAN)))
        assert again.json()["revision"] == 1  # the same plan in another order
        smaller = await client.put("/v1/programmes/P8/targets", json=PLAN[:1])
        assert smaller.json()["revision"] == 2
        assert (await client.get("/v1/programmes/P8/targets")).json()["targets"] == PLAN[:1]
        assert (await client.get("/v1/programmes/CLC/targets")).json() == {
            "programme": "CLC",
            "targets": [],
            "revision": 0,
        }
        await stream.settle(client)
        events = await stream.messages("bdg.registry.v1.target.set")
        assert [e["data"]["revision"] for e in events] == [1, 2]
        assert events[-1]["data"]["targets"] == PLAN[:1]
        assert events[-1].get("province") is None


async def test_targets_are_checked_against_the_catalogue(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        assert (await client.put("/v1/programmes/P8/targets", json=PLAN)).status_code == 200
        count = await stream.settle(client)
        good = PLAN[0]
        rejections = [
            ([{**good, "indicator": "happiness"}], "unknown-indicator"),
            ([{**good, "unit_id": "vn63:99999"}], "unknown-unit"),
            ([{**good, "period": "2023Q5"}], "invalid-period"),
            ([{**good, "period": "SY2017-2019"}], "invalid-period"),
            ([good, good], "duplicate-target"),
            ([{**good, "value": -1}], "validation"),
        ]
        for plan, kind in rejections:
            response = await client.put("/v1/programmes/P8/targets", json=plan)
            assert (response.status_code, problem_type(response)) == (422, kind), plan
        several = await client.put(
            "/v1/programmes/P8/targets",
            json=[{**good, "indicator": "x"}, {**good, "period": "bad", "unit_id": "vn34:1"}],
        )
        locations = [error["loc"] for error in several.json()["errors"]]
        assert locations == [
            ["body", 0, "indicator"],
            ["body", 1, "unit_id"],
            ["body", 1, "period"],
        ]
        unknown = await client.put("/v1/programmes/NOPE/targets", json=PLAN)
        assert (unknown.status_code, problem_type(unknown)) == (404, "unknown-programme")
        assert (await client.get("/v1/programmes/P8/targets")).json()["revision"] == 1
        assert await stream.settle(client) == count  # nothing but the markers
