"""Who may read what in reporting: tokens, provinces, national figures, operations."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import SigningKey, issue_token
from tests.reporting_support.access import (
    HA_GIANG,
    LANG_SON,
    client_as,
    ha_giang_events,
    token_for,
)
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import wait_caught_up
from tests.reporting_support.events import activity_events, publish, registry_events
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

PEOPLE = "/v1/indicators/people_reached/values"


def forbidden(response: httpx.Response, province: str | None, role: str = "viewer") -> bool:
    """A 403 problem naming the scope that was missing."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/forbidden")
    assert body["required_role"] == role
    if province is not None:
        assert body["required_province"] == province, body
    return True


async def total(client: httpx.AsyncClient, path: str, **params: str) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["total"]


def target_units(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["unit_id"] for item in response.json())


async def test_every_v1_route_needs_a_valid_token(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    expired = token_for("langson-app", LANG_SON, lifetime_seconds=-60)
    foreign = issue_token(SigningKey.generate(), "intruder", ["admin"], ["vn"], 3600)
    routes = [
        ("GET", "/v1/indicators", {}),
        ("GET", "/v1/programmes", {}),
        ("GET", PEOPLE, {"unit_id": "vn63:20", "period": "2023"}),
        ("GET", "/v1/reports/summary", {"unit_id": "vn63:20", "period": "2023"}),
        ("GET", "/v1/reports/targets", {"programme": "P8"}),
        ("GET", "/v1/reports/completeness", {"period": "2023", "level": "commune"}),
        ("GET", "/v1/exports/summary.csv", {"unit_id": "vn63:20", "period": "2023"}),
        ("GET", "/v1/status", {}),
        ("GET", "/v1/dead-letters", {}),
        ("GET", "/v1/audit", {}),
        ("POST", "/v1/dead-letters/ACTIVITIES:1/retry", {}),
        ("POST", "/v1/admin/rebuild", {}),
    ]
    async with running(app) as admin:
        cases = [(None, "unauthenticated"), (expired, "invalid-token"), (foreign, "invalid-token")]
        for token, kind in cases:
            async with client_as(app, token) as client:
                for method, path, params in routes:
                    response = await client.request(method, path, params=params)
                    assert response.status_code == 401, (token, path, response.text)
                    assert response.json()["type"].endswith("/" + kind), path
                    assert response.headers["www-authenticate"].startswith("Bearer")
        assert "expired" in (await client_as_get(app, expired, "/v1/indicators"))["detail"]
        assert "unknown key" in (await client_as_get(app, foreign, "/v1/indicators"))["detail"]
        status = (await admin.get("/v1/status")).json()
        assert status["rebuild"] is None, "a refused rebuild started anyway"

        # The page and its files are open (it signs in itself); health is open.
        async with client_as(app, None) as anonymous:
            page = await anonymous.get("/dashboard")
            assert page.status_code == 200
            assert 'id="client-id"' in page.text
            script = await anonymous.get("/dashboard/static/dashboard.js")
            assert script.status_code == 200
            assert "Authorization" in script.text
            assert (await anonymous.get("/healthz")).status_code == 200


async def client_as_get(app: Any, token: str, path: str) -> dict[str, Any]:
    async with client_as(app, token) as client:
        body: dict[str, Any] = (await client.get(path)).json()
        return body


async def test_provincial_clients_read_their_own_provinces_and_admins_read_all(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as admin:
        await publish(nats_server.url, registry_events())
        await publish(nats_server.url, activity_events())
        await publish(nats_server.url, ha_giang_events())
        await wait_caught_up(admin)
        lang_son = token_for("langson-app", LANG_SON)
        lang_son_submitter = token_for("langson-mis", LANG_SON, roles=("submitter",))
        ha_giang = token_for("hagiang-app", HA_GIANG)
        national = token_for("steering-board", ("vn",))
        no_role = token_for("nobody", LANG_SON, roles=())

        # Admin: everything, nation included.
        assert await total(admin, PEOPLE, unit_id="vn", period="2023") == 349 + 38
        assert await total(admin, PEOPLE, unit_id="vn63:02", period="2023") == 38
        assert await total(admin, PEOPLE, unit_id="vn63:20", period="2023") == 349
        sfes = await admin.get("/v1/reports/targets", params={"programme": "SFES"})
        assert target_units(sfes) == ["vn", "vn63:02", "vn63:20", "vn63:99"]

        for token in (lang_son, lang_son_submitter):
            async with client_as(app, token) as client:
                # Lạng Sơn at every level, both editions, restated or not.
                assert await total(client, PEOPLE, unit_id="vn63:20", period="2023") == 349
                assert await total(client, PEOPLE, unit_id="vn63:186", period="2023") > 0
                assert await total(client, PEOPLE, unit_id="vn63:06433.T05", period="2023") == 11
                restated = {"unit_id": "vn34:20", "period": "2025", "structure": "vn34"}
                assert await total(client, PEOPLE, **restated) > 0
                summary = await client.get(
                    "/v1/reports/summary", params={"unit_id": "vn63:20", "period": "2023"}
                )
                assert summary.status_code == 200
                completeness = await client.get(
                    "/v1/reports/completeness",
                    params={"period": "2023", "level": "commune", "parent": "vn63:20"},
                )
                assert completeness.status_code == 200
                csv = await client.get(
                    "/v1/exports/completeness.csv",
                    params={"period": "2023", "level": "commune", "parent": "vn63:186"},
                )
                assert csv.status_code == 200
                # Reference data is for everyone.
                assert (await client.get("/v1/indicators")).status_code == 200
                codes = [p["code"] for p in (await client.get("/v1/programmes")).json()["items"]]
                assert "SFES" in codes

                # Hà Giang, at the province, below it, restated onto Tuyên Quang.
                hg = {"period": "2023"}
                assert forbidden(await client.get(PEOPLE, params={"unit_id": "vn63:02", **hg}),
                                 "vn63:02")  # fmt: skip
                assert forbidden(await client.get(PEOPLE, params={"unit_id": "vn63:01021", **hg}),
                                 "vn63:02")  # fmt: skip
                tq = {"unit_id": "vn34:08", "period": "2025", "structure": "vn34"}
                assert forbidden(await client.get(PEOPLE, params=tq), "vn34:08")
                assert forbidden(
                    await client.get("/v1/reports/summary", params={"unit_id": "vn63:02", **hg}),
                    "vn63:02",
                )
                export = {"indicator": "people_reached", "unit_id": "vn63:032", "period": "2023"}
                assert forbidden(
                    await client.get("/v1/exports/indicators.xlsx", params=export), "vn63:02"
                )
                hg_parent = {"period": "2023", "level": "commune", "parent": "vn63:02"}
                assert forbidden(
                    await client.get("/v1/reports/completeness", params=hg_parent), "vn63:02"
                )
                # National figures: need national scope.
                assert forbidden(await client.get(PEOPLE, params={"unit_id": "vn", **hg}), "vn")
                whole = {"period": "2023", "level": "province"}
                assert forbidden(await client.get("/v1/reports/completeness", params=whole), "vn")
                assert forbidden(
                    await client.get("/v1/exports/completeness.csv", params=whole), "vn"
                )
                # An unknown unit stays a 404 (units are public reference data).
                unknown = await client.get(PEOPLE, params={"unit_id": "vn63:99", **hg})
                assert unknown.status_code == 404

                # Targets: the list holds Lạng Sơn's only; other units are refused.
                mine = await client.get("/v1/reports/targets", params={"programme": "SFES"})
                assert target_units(mine) == ["vn63:20"]
                assert mine.json()[0]["actual"] == 0
                for unit, needed in (("vn63:02", "vn63:02"), ("vn", "vn"), ("vn63:99", "vn")):
                    params = {"programme": "SFES", "unit_id": unit}
                    assert forbidden(await client.get("/v1/reports/targets", params=params), needed)
                exported = await client.get("/v1/exports/targets.csv", params={"programme": "SFES"})
                lines = exported.content.decode("utf-8-sig").splitlines()
                assert [line.split(",")[2] for line in lines[1:]] == ["vn63:20"]

                # Operations: admins only.
                for method, path in (
                    ("GET", "/v1/status"),
                    ("GET", "/v1/dead-letters"),
                    ("GET", "/v1/audit"),
                    ("POST", "/v1/admin/rebuild"),
                    ("POST", "/v1/dead-letters/ACTIVITIES:1/retry"),
                ):
                    assert forbidden(await client.request(method, path), None, role="admin")

        async with client_as(app, ha_giang) as client:
            assert await total(client, "/v1/indicators/school_exchanges/values",
                               unit_id="vn63:02", period="2023") == 1  # fmt: skip
            tq = {"unit_id": "vn34:08", "period": "2025", "structure": "vn34"}
            assert await total(client, PEOPLE, **tq) == 12
            assert forbidden(
                await client.get(PEOPLE, params={"unit_id": "vn63:20", "period": "2023"}),
                "vn63:20",
            )
            theirs = await client.get("/v1/reports/targets", params={"programme": "SFES"})
            assert target_units(theirs) == ["vn63:02"]
            assert theirs.json()[0]["achieved_pct"] == 50.0

        async with client_as(app, national) as client:
            assert await total(client, PEOPLE, unit_id="vn", period="2023") == 387
            assert await total(client, PEOPLE, unit_id="vn63:02", period="2023") == 38
            every = await client.get("/v1/reports/targets", params={"programme": "SFES"})
            assert target_units(every) == ["vn", "vn63:02", "vn63:20", "vn63:99"]
            assert forbidden(await client.get("/v1/status"), None, role="admin")

        async with client_as(app, no_role) as client:
            assert (await client.get("/v1/indicators")).status_code == 200
            lang_son_2023 = {"unit_id": "vn63:20", "period": "2023"}
            assert forbidden(await client.get(PEOPLE, params=lang_son_2023), "vn63:20")
            assert forbidden(
                await client.get("/v1/reports/targets", params={"programme": "SFES"}), "vn"
            )
