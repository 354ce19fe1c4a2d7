"""API clients of the registry in tests: created by the admin, acting with their tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from tests.registry_support.helpers import reference_complete, sliced_registry
from tests.support.apps import registry_token, running
from tests.support.mongo import MongoBackend

# A commune of Hoàng Su Phì, Hà Giang (vn63:02): data Lạng Sơn's clients may not touch.
BAN_MAY = "vn63:01024"
HA_GIANG = "vn63:02"


@dataclass
class ApiClient:
    client_id: str
    secret: str
    token: str
    http: httpx.AsyncClient


async def create_client(
    admin: httpx.AsyncClient, roles: list[str], provinces: list[str], name: str = "test client"
) -> dict[str, Any]:
    response = await admin.post(
        "/v1/clients", json={"name": name, "roles": roles, "provinces": provinces}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@asynccontextmanager
async def acting_as(app: FastAPI, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second HTTP client on the same running app, with another token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@asynccontextmanager
async def api_client(
    app: FastAPI, admin: httpx.AsyncClient, roles: list[str], provinces: list[str]
) -> AsyncIterator[ApiClient]:
    """A new client of the registry, created by the admin, with its own token."""
    created = await create_client(admin, roles, provinces, f"{'+'.join(roles)} {provinces}")
    token = await registry_token(admin, created["client_id"], created["client_secret"])
    async with acting_as(app, token) as http:
        yield ApiClient(created["client_id"], created["client_secret"], token, http)


def claims(token: str) -> dict[str, Any]:
    """A token's claims, read without checking the signature."""
    found: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return found


@asynccontextmanager
async def sliced(
    mongo: MongoBackend, nats_url: str, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The registry on the Lạng Sơn and Hà Giang slice, its reference stored, and an
    admin client."""
    app = sliced_registry(mongo, nats_url, **overrides)
    async with running(app) as admin:
        await reference_complete(admin)
        yield app, admin


async def audit_of(admin: httpx.AsyncClient, client_id: str) -> list[dict[str, Any]]:
    response = await admin.get("/v1/audit", params={"client_id": client_id, "limit": 1000})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
