"""The reporting service run in the test process, on the common test support."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.reporting.service import ReportingService
from tests.support import apps
from tests.support.apps import eventually, running, runtime_of
from tests.support.mongo import MongoBackend

__all__ = ["eventually", "reporting_app", "running", "runtime_of", "service_of"]


def reporting_app(
    mongo: MongoBackend, nats_url: str, database: str | None = None, **overrides: Any
) -> FastAPI:
    """A reporting app; pass the same `database` to restart on the same read models."""
    if database is not None:
        overrides["database"] = database
    return apps.reporting_app(mongo, nats_url, **overrides)


def service_of(app: FastAPI) -> ReportingService:
    service: ReportingService = app.state.service
    return service
