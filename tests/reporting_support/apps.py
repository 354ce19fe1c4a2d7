"""The reporting service run in the test process (only reporting is imported, so
these tests do not depend on the other services' modules)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from services.reporting.config import ReportingSettings
from services.reporting.main import create_app
from services.reporting.service import ReportingService
from shared.runtime import ServiceRuntime
from tests.support.mongo import MongoBackend

T = TypeVar("T")


def reporting_app(
    mongo: MongoBackend, nats_url: str, database: str | None = None, **overrides: Any
) -> FastAPI:
    settings = ReportingSettings(
        mongodb_url=mongo.url,
        nats_url=nats_url,
        database=database or f"test_reporting_{uuid.uuid4().hex[:10]}",
        log_json=False,
        **overrides,
    )
    return create_app(settings)


def runtime_of(app: FastAPI) -> ServiceRuntime:
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def service_of(app: FastAPI) -> ReportingService:
    service: ReportingService = app.state.service
    return service


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
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
