"""Assembly of the registry service."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import Registry, router
from services.registry.config import RegistrySettings
from services.registry.repository import OUTBOX_COLLECTIONS, ProgrammeRepository
from services.registry.service import ProgrammeService
from shared.app import create_service_app
from shared.runtime import ServiceRuntime


async def build(runtime: ServiceRuntime) -> Registry:
    programmes = ProgrammeService(ProgrammeRepository(runtime.mongo.db))
    runtime.relay_outbox_of(OUTBOX_COLLECTIONS)
    await programmes.seed()
    return Registry(runtime, programmes)


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or RegistrySettings(),
        title="bdg registry",
        description="Administrative units, programmes and targets, sites, clubs and members.",
        routers=[router],
        setup=build,
    )
