"""Assembly of the reporting service."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.api import router
from services.reporting.config import ReportingSettings
from services.reporting.handlers import RegistryProjection
from services.reporting.repository import ProgrammeReadModel
from services.reporting.service import ReportingService
from shared.app import create_service_app
from shared.contracts import REGISTRY
from shared.runtime import ServiceRuntime


async def build(runtime: ServiceRuntime) -> ReportingService:
    programmes = ProgrammeReadModel(runtime.mongo.db)
    runtime.consume(REGISTRY, RegistryProjection(programmes))
    return ReportingService(runtime, programmes)


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or ReportingSettings(),
        title="bdg reporting",
        description="Sex-disaggregated indicators from commune to nation, reports and exports.",
        routers=[router],
        setup=build,
    )
