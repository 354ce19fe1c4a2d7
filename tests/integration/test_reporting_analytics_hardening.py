"""Hostile input on the analytics routes: operators and `$` values in every parameter
are refused (4xx) or taken literally; a provincial viewer cannot widen its scope
through a list; never a 500."""

from __future__ import annotations

import httpx

from tests.reporting_support.access import LANG_SON, client_as, ha_giang_events, token_for
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import wait_caught_up
from tests.reporting_support.events import activity_events, publish, registry_events
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

HOSTILE = ['{"$gt": ""}', '{"$ne": null}', "$gt", "$where", "$lineage", "$$ROOT", "vn|$gt"]
QUERY = {
    "indicator": "people_reached,club_members",
    "unit_id": "vn63:20",
    "period": "2023",
    "by": "sex",
    "programme": "P8",
    "structure": "as_was",
}
ROUTES = [
    "/v1/analytics",
    "/v1/exports/dataValueSets.json",
    "/v1/exports/adx",
    "/v1/exports/analytics.csv",
]


def refused(response: httpx.Response, label: str) -> None:
    assert 400 <= response.status_code < 500, f"{label}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json", label


async def test_hostile_values_are_refused_and_lists_do_not_widen_a_scope(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as admin:
        await publish(nats_server.url, registry_events())
        await publish(nats_server.url, activity_events())
        await publish(nats_server.url, ha_giang_events())
        await wait_caught_up(admin)
        async with client_as(app, token_for("langson-app", LANG_SON)) as viewer:
            for client in (admin, viewer):
                for route in ROUTES:
                    assert (await client.get(route, params=QUERY)).status_code == 200, route
                    for name in QUERY:
                        for value in HOSTILE:
                            response = await client.get(route, params={**QUERY, name: value})
                            refused(response, f"{route} {name}={value}")
                for value in HOSTILE:
                    refused(await client.get("/v1/periods", params={"period": value}), value)
                    # Map points: text outside the unit-id alphabet is refused.
                    refused(await client.get("/v1/geo/centroids", params={"unit_id": value}), value)
                # A well-formed id the package does not know has no point.
                points = await client.get("/v1/geo/centroids", params={"unit_id": "vn99:77"})
                assert points.status_code == 200
                assert [(p["lat"], p["lon"]) for p in points.json()["items"]] == [(None, None)]

            # One unit of another province in a list refuses the whole request.
            for route in ROUTES:
                mixed = await viewer.get(route, params={**QUERY, "unit_id": "vn63:20,vn63:02"})
                assert mixed.status_code == 403, route
                assert mixed.json()["required_province"] == "vn63:02"
            national = await viewer.get("/v1/analytics", params={**QUERY, "unit_id": "vn"})
            assert national.status_code == 403
            # Too many of anything is a 422 naming the parameter, before any read.
            many_units = ",".join(["vn63:20"] + [f"vn63:{n:05d}" for n in range(60)])
            too_many = await admin.get("/v1/analytics", params={**QUERY, "unit_id": many_units})
            assert too_many.status_code == 422
            assert too_many.json()["errors"][0]["loc"] == ["query", "unit_id"]
            # 17 thirty-year periods by month, sex and commune for four units.
            decades = ",".join(f"{year}-01-01..{year + 29}-12-31" for year in range(1990, 2007))
            huge = await admin.get(
                "/v1/analytics",
                params={
                    "indicator": "people_reached",
                    "unit_id": "vn,vn63:20,vn63:186,vn63:181",
                    "period": decades,
                    "by": "level:commune,month,sex",
                },
            )
            assert huge.status_code == 422
            assert huge.json()["type"].endswith("/too-many-rows")
