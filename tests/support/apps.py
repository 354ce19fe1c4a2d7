"""Services run in the test process: their lifespan, an HTTP client, polling helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from services.events.config import EventsSettings
from services.events.main import create_app as create_events
from services.registry.config import RegistrySettings
from services.registry.deps import Registry
from services.registry.main import create_app as create_registry
from services.reporting.config import ReportingSettings
from services.reporting.main import create_app as create_reporting
from shared.auth import SigningKey, issue_token, public_jwks
from shared.auth.tokens import JwksSource
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from tests.support.mongo import MongoBackend

T = TypeVar("T")
# The registry's bootstrap admin in tests, and the key events and reporting trust.
ADMIN_ID = "test-admin"
ADMIN_SECRET = "test-admin-secret-0123456789"
TEST_KEY = SigningKey.generate()


async def trusted_test_jwks() -> dict[str, Any]:
    return public_jwks([TEST_KEY])


S = TypeVar("S", bound=ServiceSettings)


def unique_database(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _settings(settings_class: type[S], mongo: MongoBackend, nats_url: str, **overrides: Any) -> S:
    values: dict[str, Any] = {
        "mongodb_url": mongo.url,
        "data_dir": mongo.data_dir,
        "nats_url": nats_url,
        "database": unique_database(f"test_{settings_class.model_fields['service_name'].default}"),
        "log_json": False,
        # Tests send bursts of requests; the rate limit has its own tests.
        "rate_limit_per_second": 1e6,
        "rate_limit_burst": 1e6,
        **overrides,
    }
    return settings_class(**values)


def registry_app(mongo: MongoBackend, nats_url: str, **overrides: Any) -> FastAPI:
    """A registry without the national reference unless `reference_provinces` says
    which provinces to load (`"all"` for all 14,150 units: seconds, not milliseconds),
    with the bootstrap admin `ADMIN_ID`."""
    overrides.setdefault("reference_provinces", "none")
    overrides.setdefault("admin_client_id", ADMIN_ID)
    overrides.setdefault("admin_client_secret", ADMIN_SECRET)
    overrides.setdefault("signing_key_passphrase", "test-signing-key-passphrase")
    return create_registry(_settings(RegistrySettings, mongo, nats_url, **overrides))


def events_app(
    mongo: MongoBackend, nats_url: str, jwks: JwksSource | None = None, **overrides: Any
) -> FastAPI:
    """Events trusting `jwks` (default: the test key that `running` signs with)."""
    settings = _settings(EventsSettings, mongo, nats_url, **overrides)
    return create_events(settings, jwks_source=jwks or trusted_test_jwks)


def reporting_app(
    mongo: MongoBackend, nats_url: str, jwks: JwksSource | None = None, **overrides: Any
) -> FastAPI:
    settings = _settings(ReportingSettings, mongo, nats_url, **overrides)
    return create_reporting(settings, jwks_source=jwks or trusted_test_jwks)


def runtime_of(app: FastAPI) -> ServiceRuntime:
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def signed_token(
    roles: tuple[str, ...] = ("admin",),
    provinces: tuple[str, ...] = ("vn",),
    client_id: str = "test-admin",
    lifetime_seconds: int = 3600,
) -> str:
    """A token signed with the test key, which events and reporting trust in tests."""
    return issue_token(TEST_KEY, client_id, roles, provinces, lifetime_seconds)


async def registry_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    response = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@asynccontextmanager
async def running(
    app: FastAPI, wait_for_nats: bool = True, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an HTTP client bound to it, authenticated as
    `token` (default: an administrator: the registry's bootstrap admin, or a test-key
    token for events and reporting)."""
    async with app.router.lifespan_context(app):
        if wait_for_nats:
            await asyncio.wait_for(runtime_of(app).streams_ready.wait(), 10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if token is None:
                token = (
                    await registry_token(client, ADMIN_ID, ADMIN_SECRET)
                    if isinstance(app.state.service, Registry)
                    else signed_token()
                )
            client.headers["Authorization"] = f"Bearer {token}"
            yield client


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 5.0, interval: float = 0.02
) -> tuple[T, float]:
    """Poll until `probe` returns something truthy; return it and the seconds it took."""
    started = time.monotonic()
    while True:
        value = await probe()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
