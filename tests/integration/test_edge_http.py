"""The HTTP edge as an integrator meets it, on one registry and one events service.

The services start once for the module (each test writes under its own keys): the
offline docs, problems in Vietnamese, hostile bodies, API clients (list, rotate,
Basic credentials, revocation honoured by another service), natural keys,
`updated_since`, CORS, and dates refused the same way in both services.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from shared.auth.http import RevocationList
from tests.events_support.access import problem_of
from tests.events_support.activities import batch_item, communication_session
from tests.events_support.registry import publish_and_wait, reference_events
from tests.registry_support.helpers import VAN_NHAM, reference_complete, sliced_registry
from tests.support.apps import (
    ADMIN_ID,
    ADMIN_SECRET,
    events_app,
    eventually,
    registry_token,
    running,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Stack:
    registry_app: FastAPI
    registry: httpx.AsyncClient
    events_app: FastAPI
    events: httpx.AsyncClient


def _server(path: Path) -> Iterator[NatsServer]:
    server = NatsServer(path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def registry_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    yield from _server(tmp_path_factory.mktemp("registry-js"))


@pytest.fixture(scope="module")
def events_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    yield from _server(tmp_path_factory.mktemp("events-js"))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(
    mongo: MongoBackend, registry_nats: NatsServer, events_nats: NatsServer
) -> AsyncIterator[Stack]:
    registry = sliced_registry(mongo, registry_nats.url)
    clients: dict[str, httpx.AsyncClient] = {}

    async def registry_get(path: str) -> dict[str, Any]:
        response = await clients["registry"].get(path)
        document: dict[str, Any] = response.json()
        return document

    async def registry_jwks() -> dict[str, Any]:
        return await registry_get("/.well-known/jwks.json")

    async def registry_revocations() -> dict[str, Any]:
        return await registry_get("/.well-known/revoked-clients.json")

    events = events_app(mongo, events_nats.url, jwks=registry_jwks)
    # What `BDG_JWKS_URL` gives a deployed service, fetched in process; refreshed every
    # 0.2 s here instead of 30 s, so the test need not wait.
    events.state.authenticator.revocations = RevocationList(registry_revocations, 0.2)
    async with running(registry) as registry_client:
        clients["registry"] = registry_client
        await reference_complete(registry_client)
        token = await registry_token(registry_client, ADMIN_ID, ADMIN_SECRET)
        async with running(events, token=token) as events_client:
            await publish_and_wait(events_nats.url, events_client, reference_events())
            yield Stack(registry, registry_client, events, events_client)


def with_token(client: httpx.AsyncClient, token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


# ----------------------------------------------------------------------- docs
async def test_docs_work_offline_and_declare_the_bearer_scheme(stack: Stack) -> None:
    for client in (stack.registry, stack.events):
        page = await client.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets, page.text
        assert all(asset.startswith("/docs/static/") for asset in assets), assets
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
        assert "cdn" not in page.text.lower()
        redoc = await client.get("/redoc")
        assert "fonts.googleapis" not in redoc.text
        for asset in re.findall(r'src="([^"]+)"', redoc.text):
            assert asset.startswith("/docs/static/"), asset

        spec = (await client.get("/openapi.json")).json()
        schemes = spec["components"]["securitySchemes"]
        assert schemes["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": schemes["bearer"]["description"],
        }
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                where = f"{method.upper()} {path}"
                assert operation.get("summary"), where
                assert operation.get("description"), where
                if path.startswith("/v1") and path != "/v1/oauth/token":
                    assert {"bearer": []} in operation.get("security", []), where
                bodies = operation.get("requestBody", {}).get("content", {}).values()
                if bodies:
                    assert any("example" in m or "examples" in m for m in bodies), where
                ok = [r for code, r in operation["responses"].items() if code.startswith("2")]
                for response in ok:
                    for kind, media in response.get("content", {}).items():
                        if kind.endswith("json"):  # files (XLSX, CSV) show no example
                            assert "example" in media or "examples" in media, where

    registry_spec = (await stack.registry.get("/openapi.json")).json()
    upload = registry_spec["paths"]["/v1/imports/{kind}"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "text/csv"} <= set(upload)
    assert "security" not in registry_spec["paths"]["/v1/oauth/token"]["post"]


# ------------------------------------------------------------------- language
async def test_problems_speak_vietnamese_when_asked_and_keep_their_type(stack: Stack) -> None:
    future = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    body = communication_session(unit_id="vn34:06415", started_on=future, ended_on=future)
    url = "/v1/activities/edge-tests/FUTURE"
    english = await stack.events.put(url, json=body)
    vietnamese = await stack.events.put(url, json=body, headers={"Accept-Language": "vi"})
    assert english.json()["type"] == vietnamese.json()["type"]
    assert "is in the future" in english.json()["detail"]
    assert "là ngày trong tương lai" in vietnamese.json()["detail"]
    assert vietnamese.json()["title"] == "Hoạt động vi phạm quy tắc"

    missing = await stack.registry.get(
        "/v1/units/vn63:99999", headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
    )
    assert problem_of(missing, 404, "unknown-unit")["detail"] == (
        "Không có đơn vị hành chính 'vn63:99999'."
    )
    invalid = await stack.registry.put(
        "/v1/programmes/P8", json={"name": 1}, headers={"Accept-Language": "vi"}
    )
    problem = problem_of(invalid, 422, "validation")
    assert problem["title"] == "Yêu cầu không hợp lệ"
    assert "Thiếu trường bắt buộc" in [error["msg"] for error in problem["errors"]]


# ------------------------------------------------------------ hostile bodies
async def test_hostile_bodies_are_400_and_wrong_types_415(stack: Stack) -> None:
    events = stack.events
    deep = "[" * 1000 + "]" * 1000
    huge = '[{"source_system": "x", "external_id": "y", "budget_vnd": ' + "9" * 5000 + "}]"
    for body, media in (
        (deep, "application/json"),
        (deep, "application/x-ndjson"),
        (huge, "application/json"),
        (huge[1:-1], "application/x-ndjson"),
    ):
        response = await events.post(
            "/v1/activities:batch", content=body.encode(), headers={"Content-Type": media}
        )
        assert response.status_code == 400, (media, response.text[:200])
        assert response.headers["content-type"] == "application/problem+json"
    plain = await events.post(
        "/v1/activities:batch",
        content=b'[{"source_system": "x"}]',
        headers={"Content-Type": "text/plain"},
    )
    assert problem_of(plain, 415, "unsupported-media-type")["accepted"][0] == "application/json"

    url = "/v1/activities/edge-tests/HOSTILE"
    as_text = await events.put(
        url, content=b'{"type": "forum"}', headers={"Content-Type": "text/plain"}
    )
    problem_of(as_text, 415, "unsupported-media-type")
    big_count = '{"type": "forum", "budget_vnd": ' + "9" * 4000 + "}"
    response = await events.put(
        url, content=big_count.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    site = await stack.registry.put(
        "/v1/sites/edge-tests/S", content=b"kind=school", headers={"Content-Type": "text/plain"}
    )
    problem_of(site, 415, "unsupported-media-type")
    upload = await stack.registry.post(
        "/v1/imports/sites", json={"rows": []}, headers={"Content-Type": "application/json"}
    )
    problem_of(upload, 415, "unsupported-media-type")
    assert (await events.get("/v1/activities", params={"source_system": "edge-tests"})).json()[
        "items"
    ] == []


# -------------------------------------------------------------- API clients
async def test_clients_are_listed_rotated_and_revoked_everywhere(stack: Stack) -> None:
    registry = stack.registry
    created = await registry.post(
        "/v1/clients",
        json={"name": "Lạng Sơn P8", "roles": ["submitter"], "provinces": ["vn63:20"]},
    )
    assert created.status_code == 201
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]

    listed = (await registry.get("/v1/clients", params={"limit": 1000})).json()["items"]
    mine = next(item for item in listed if item["client_id"] == client_id)
    assert mine["roles"] == ["submitter"]
    assert not {"secret", "secret_hash", "client_secret"} & set(mine)
    assert secret not in str(listed)

    # client_secret_basic (RFC 6749 §2.3.1) as well as form fields.
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = await registry.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]

    rotated = await registry.post(f"/v1/clients/{client_id}/secret:rotate")
    new_secret = rotated.json()["client_secret"]
    old = await registry.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert (old.status_code, old.json()["error"]) == (401, "invalid_client")
    form = {"grant_type": "client_credentials", "client_id": client_id}
    fresh = await registry.post("/v1/oauth/token", data={**form, "client_secret": new_secret})
    assert fresh.status_code == 200

    put = await stack.events.put(
        "/v1/activities/edge-tests/REVOKE-1",
        json=communication_session(),
        headers=with_token(stack.events, access),
    )
    assert put.status_code == 201, put.text

    revoked = await registry.delete(f"/v1/clients/{client_id}")
    assert revoked.json()["revoked_at"] is not None
    # No new token, and the live one is refused by the registry at once …
    again = await registry.post("/v1/oauth/token", data={**form, "client_secret": new_secret})
    assert again.status_code == 401
    own = await registry.get("/v1/units/vn", headers=with_token(registry, access))
    assert problem_of(own, 401, "invalid-token")["detail"].endswith("has been revoked.")

    # … and by the events service once it has fetched the list (0.2 s here, 30 s live).
    async def refused() -> httpx.Response | None:
        response = await stack.events.get(
            "/v1/activities", headers=with_token(stack.events, access)
        )
        return response if response.status_code == 401 else None

    response, _ = await eventually(refused, timeout=5)
    assert "revoked" in response.json()["detail"]
    unknown = await registry.delete("/v1/clients/bdg-nobody")
    problem_of(unknown, 404, "unknown-client")


# ------------------------------------------------------- keys and syncing
async def test_natural_keys_read_and_void_and_updated_since_syncs(stack: Stack) -> None:
    events = stack.events
    before = datetime.now(UTC)
    written = await events.put("/v1/activities/edge-sync/K-1", json=communication_session())
    assert written.status_code == 201
    by_key = await events.get("/v1/activities/edge-sync/K-1")
    assert (by_key.status_code, by_key.json()["id"]) == (200, written.json()["id"])
    assert (await events.get("/v1/activities/edge-sync/NOPE")).status_code == 404

    since = {"source_system": "edge-sync", "updated_since": before.isoformat()}
    assert [
        i["external_id"] for i in (await events.get("/v1/activities", params=since)).json()["items"]
    ] == ["K-1"]
    later = {**since, "updated_since": datetime.now(UTC).isoformat()}
    assert (await events.get("/v1/activities", params=later)).json()["items"] == []

    voided = await events.request(
        "DELETE", "/v1/activities/edge-sync/K-1", json={"reason": "Nhập trùng"}
    )
    assert (voided.status_code, voided.json()["status"], voided.json()["version"]) == (
        200,
        "voided",
        2,
    )
    synced = await events.get("/v1/activities", params={**later, "status": "all"})
    assert [i["status"] for i in synced.json()["items"]] == ["voided"]

    registry = stack.registry
    mark = datetime.now(UTC)
    site = {"kind": "school", "name": "Trường THCS Đồng bộ", "unit_id": VAN_NHAM}
    assert (await registry.put("/v1/sites/edge-sync/S-1", json=site)).status_code == 201
    changed = await registry.get("/v1/sites", params={"updated_since": mark.isoformat()})
    assert [item["external_id"] for item in changed.json()["items"]] == ["S-1"]
    after = await registry.get("/v1/sites", params={"updated_since": datetime.now(UTC).isoformat()})
    assert after.json()["items"] == []


async def test_unknown_references_are_named_at_once_and_pending_is_opt_in(stack: Stack) -> None:
    events = stack.events
    url = "/v1/activities/edge-tests/P9"
    refused = await events.put(url, json=communication_session(programme="P9"))
    problem = problem_of(refused, 422, "unknown-programme")
    assert (problem["field"], problem["value"]) == ("programme", "P9")
    assert problem["errors"][0]["loc"] == ["body", "programme"]
    unit = await events.put(url, json=communication_session(unit_id="vn63:99999"))
    assert problem_of(unit, 422, "unknown-unit")["value"] == "vn63:99999"
    waiting = await events.put(
        url, params={"allow_pending": "true"}, json=communication_session(programme="P9")
    )
    assert (waiting.status_code, waiting.json()["pending_on"]) == (202, ["programme:P9"])
    batch = await events.post(
        "/v1/activities:batch",
        json=[batch_item("P9-B", communication_session(programme="P9"), "edge-tests")],
    )
    assert batch.json()["results"][0]["problem"]["type"].endswith("/unknown-programme")


async def test_dates_are_checked_the_same_way_in_both_services(stack: Stack) -> None:
    registry = stack.registry
    club = {
        "name": "CLB Ngày mai",
        "kind": "community",
        "unit_id": VAN_NHAM,
        "programme": "P8",
        "established_on": "2023-09-05",
    }
    made = await registry.put("/v1/clubs/edge-dates/C-1", json=club)
    assert made.status_code == 201
    club_id = made.json()["id"]
    member = {"sex": "female", "ethnic_minority": True, "joined_on": "2027-09-05"}
    joined = await registry.put(f"/v1/clubs/{club_id}/members/M-1", json=member)
    problem = problem_of(joined, 422, "date-in-future")
    assert problem["errors"][0]["loc"] == ["body", "joined_on"]
    assert "is in the future" in problem["detail"]
    future_club = await registry.put(
        "/v1/clubs/edge-dates/C-2", json={**club, "established_on": "2027-01-01"}
    )
    assert future_club.status_code == 422
    errors = {tuple(error["loc"]): error["msg"] for error in future_club.json()["errors"]}
    assert "is in the future" in errors["body", "established_on"]
    activity = await stack.events.put(
        "/v1/activities/edge-dates/A-1",
        json=communication_session(
            unit_id="vn34:06415", started_on="2027-09-05", ended_on="2027-09-05"
        ),
    )
    assert "is in the future" in problem_of(activity, 422, "invalid-activity")["detail"]


# ----------------------------------------------------------------------- CORS
async def test_cors_origins_come_from_the_setting(
    mongo: MongoBackend, events_nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    preflight = {
        "Origin": "https://dashboard.langson.gov.vn",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    closed = events_app(mongo, events_nats.url)
    transport = httpx.ASGITransport(app=closed)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.options("/v1/activities", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers

    monkeypatch.setenv("BDG_CORS_ORIGINS", "https://dashboard.langson.gov.vn, https://x.vn")
    opened = events_app(mongo, events_nats.url)
    transport = httpx.ASGITransport(app=opened)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.options("/v1/activities", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == preflight["Origin"]
        other = await client.options(
            "/v1/activities", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
