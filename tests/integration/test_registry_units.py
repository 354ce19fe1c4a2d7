"""Units over HTTP: search, hierarchy, crosswalk, villages and classifications."""

from __future__ import annotations

import pytest

from tests.registry_support.helpers import (
    DONG_TIEN,
    HUU_LUNG,
    LANG_SON,
    SLICE_UNITS,
    VAN_NHAM,
    Stream,
    problem_type,
    registry,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


async def test_search_listing_and_crosswalk(mongo: MongoBackend, nats_server: NatsServer) -> None:
    async with registry(mongo, nats_server.url) as client:
        for query in ("van nham", "Vân Nham", "VAN NHAM", "vân nham"):
            found = (await client.get("/v1/units", params={"q": query})).json()["items"]
            assert [unit["id"] for unit in found] == [VAN_NHAM, "vn34:06415"], query
        dong = (await client.get("/v1/units", params={"q": "dong tien", "level": "commune"})).json()
        assert DONG_TIEN in [unit["id"] for unit in dong["items"]]
        assert all(unit["level"] == "commune" for unit in dong["items"])

        unit = (await client.get(f"/v1/units/{VAN_NHAM}")).json()
        assert unit["name"] == "Xã Vân Nham"
        assert unit["parent_id"] == HUU_LUNG
        assert unit["valid_to"] == "2025-06-30"
        assert unit["classifications"] == {}
        district = (await client.get(f"/v1/units/{HUU_LUNG}")).json()
        assert (district["name"], district["parent_id"]) == ("Huyện Hữu Lũng", LANG_SON)

        children = (await client.get("/v1/units", params={"parent": HUU_LUNG})).json()["items"]
        assert len(children) == 23
        provinces = (await client.get("/v1/units", params={"parent": "vn"})).json()["items"]
        assert {p["id"] for p in provinces} == {"vn63:02", "vn63:20", "vn34:08", "vn34:20"}

        before = await client.get("/v1/units", params={"as_of": "2025-06-30", "level": "province"})
        after = await client.get("/v1/units", params={"as_of": "2025-07-01", "level": "province"})
        assert {u["id"] for u in before.json()["items"]} == {"vn63:02", "vn63:20"}
        assert {u["id"] for u in after.json()["items"]} == {"vn34:08", "vn34:20"}

        successors = (await client.get(f"/v1/units/{VAN_NHAM}/successors")).json()
        assert successors == [{"unit_id": "vn34:06415", "share": 1.0}]
        district_links = (await client.get(f"/v1/units/{HUU_LUNG}/successors")).json()
        assert sum(link["share"] for link in district_links) == pytest.approx(1, abs=1e-9)
        predecessors = (await client.get("/v1/units/vn34:06415/predecessors")).json()
        assert {"unit_id": VAN_NHAM, "share": 1.0} in predecessors
        assert all(
            link["unit_id"].count(":") == 1 and len(link["unit_id"]) == 10 for link in predecessors
        )
        by_district = await client.get(
            "/v1/units/vn34:06415/predecessors", params={"level": "district"}
        )
        assert [link["unit_id"] for link in by_district.json()] == [HUU_LUNG]
        province_links = (await client.get("/v1/units/vn34:08/predecessors")).json()
        assert province_links == [{"unit_id": "vn63:02", "share": 1.0}]

        missing = await client.get("/v1/units/vn63:99999")
        assert (missing.status_code, problem_type(missing)) == (404, "unknown-unit")


async def test_pagination_walks_every_unit_once(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with registry(mongo, nats_server.url) as client:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/units", params=params)).json()
            seen += [unit["id"] for unit in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == SLICE_UNITS
        assert seen[0] == "vn"
        bad = await client.get("/v1/units", params={"cursor": "not-a-cursor"})
        assert (bad.status_code, problem_type(bad)) == (400, "invalid-cursor")
        too_many = await client.get("/v1/units", params={"limit": 1001})
        assert too_many.status_code == 422


async def test_villages_under_communes_only(mongo: MongoBackend, nats_server: NatsServer) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        village = {"parent_id": VAN_NHAM, "code": "T05", "name": "Thôn Đồng Mới"}
        first = await client.post("/v1/units", json=village)
        again = await client.post("/v1/units", json=village)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json() == {"id": f"{VAN_NHAM}.T05"}
        stored = (await client.get(f"/v1/units/{VAN_NHAM}.T05")).json()
        assert (stored["level"], stored["parent_id"], stored["edition"]) == (
            "village",
            VAN_NHAM,
            "vn63",
        )
        found = (await client.get("/v1/units", params={"q": "dong moi"})).json()["items"]
        assert [unit["id"] for unit in found] == [f"{VAN_NHAM}.T05"]

        count = await stream.settle(client)
        for parent, kind, status in (
            (HUU_LUNG, "village-parent-not-commune", 422),
            (LANG_SON, "village-parent-not-commune", 422),
            ("vn63:99999", "unknown-unit", 422),
        ):
            refused = await client.post("/v1/units", json={**village, "parent_id": parent})
            assert (refused.status_code, problem_type(refused)) == (status, kind)
            assert (await client.get(f"/v1/units/{parent}.T05")).status_code == 404
        assert await stream.settle(client) == count  # nothing but the markers

        events = await stream.messages("bdg.registry.v1.unit.upserted")
        villages = [e for e in events if e["data"]["level"] == "village"]
        assert len(villages) == 1
        assert villages[0]["province"] == LANG_SON
        assert villages[0]["data"]["successors"] == [{"unit_id": "vn34:06415", "share": 1.0}]


async def test_classification_periods(mongo: MongoBackend, nats_server: NatsServer) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        path = f"/v1/units/{VAN_NHAM}/classifications"
        first = {"value": "III", "valid_from": "2021-01-01", "valid_to": "2025-06-30"}
        created = await client.put(f"{path}/region", json=first)
        repeated = await client.put(f"{path}/region", json=first)
        assert (created.status_code, repeated.status_code) == (201, 200)
        assert repeated.json()["revision"] == 1
        earlier = {"value": "II", "valid_from": "2016-01-01", "valid_to": "2020-12-31"}
        assert (await client.put(f"{path}/region", json=earlier)).json()["revision"] == 2
        difficult = {"value": True, "valid_from": "2021-01-01"}
        assert (await client.put(f"{path}/especially_difficult", json=difficult)).status_code == 201

        unit = (await client.get(f"/v1/units/{VAN_NHAM}")).json()
        assert [p["value"] for p in unit["classifications"]["region"]] == ["II", "III"]
        assert unit["classifications"]["especially_difficult"][0]["value"] is True

        count = await stream.settle(client)
        rejections = [
            ("region", {"value": "I", "valid_from": "2020-06-01"}, 409, "classification-overlap"),
            (
                "region",
                {"value": "IV", "valid_from": "2026-01-01"},
                422,
                "invalid-classification-value",
            ),
            (
                "especially_difficult",
                {"value": "yes", "valid_from": "2030-01-01"},
                422,
                "invalid-classification-value",
            ),
            ("poverty", {"value": "I", "valid_from": "2026-01-01"}, 422, "unknown-classification"),
            (
                "region",
                {"value": "I", "valid_from": "2027-01-01", "valid_to": "2026-01-01"},
                422,
                "period-ends-before-start",
            ),
        ]
        for name, body, status, kind in rejections:
            refused = await client.put(f"{path}/{name}", json=body)
            assert (refused.status_code, problem_type(refused)) == (status, kind), body
        unknown = await client.put("/v1/units/vn63:99999/classifications/region", json=first)
        assert (unknown.status_code, problem_type(unknown)) == (404, "unknown-unit")
        after = (await client.get(f"/v1/units/{VAN_NHAM}")).json()["classifications"]
        assert after == unit["classifications"]
        assert await stream.settle(client) == count

        events = await stream.messages("bdg.registry.v1.classification.set")
        last_region = [e for e in events if e["data"]["name"] == "region"][-1]
        assert last_region["data"]["revision"] == 2
        assert len(last_region["data"]["periods"]) == 2
        assert last_region["province"] == LANG_SON

        removed = await client.delete(f"{path}/region/2016-01-01")
        assert [p["value"] for p in removed.json()["periods"]] == ["III"]
        gone = await client.delete(f"{path}/region/2016-01-01")
        assert (gone.status_code, problem_type(gone)) == (404, "unknown-classification-period")
