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
from services.registry.main import create_app as create_registry
from services.reporting.config import ReportingSettings
from services.reporting.main import create_app as create_reporting
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from tests.support.mongo import MongoBackend

T = TypeVar("T")
S = TypeVar("S", bound=ServiceSettings)


def unique_database(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _settings(settings_class: type[S], mongo: MongoBackend, nats_url: str, **overrides: Any) -> S:
    values: dict[str, Any] = {
        "mongodb_url": mongo.url,
        "nats_url": nats_url,
        "database": unique_database(f"test_{settings_class.model_fields['service_name'].default}"),
        "log_json": False,
        **overrides,
    }
    return settings_class(**values)


def registry_app(mongo: MongoBackend, nats_url: str, **overrides: Any) -> FastAPI:
    """A registry without the national reference unless `reference_provinces` says
    which provinces to load (`"all"` for all 14,150 units: seconds, not milliseconds)."""
    overrides.setdefault("reference_provinces", "none")
    return create_registry(_settings(RegistrySettings, mongo, nats_url, **overrides))


def events_app(mongo: MongoBackend, nats_url: str, **overrides: Any) -> FastAPI:
    return create_events(_settings(EventsSettings, mongo, nats_url, **overrides))


def reporting_app(mongo: MongoBackend, nats_url: str, **overrides: Any) -> FastAPI:
    return create_reporting(_settings(ReportingSettings, mongo, nats_url, **overrides))


def runtime_of(app: FastAPI) -> ServiceRuntime:
    runtime: ServiceRuntime = app.state.runtime
    return runtime


@asynccontextmanager
async def running(app: FastAPI, wait_for_nats: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an HTTP client bound to it."""
    async with app.router.lifespan_context(app):
        if wait_for_nats:
            await asyncio.wait_for(runtime_of(app).streams_ready.wait(), 10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
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
