"""Assembly of the events service."""

from __future__ import annotations

from fastapi import FastAPI

from services.events.api import EventsApp, router
from services.events.config import EventsSettings
from services.events.handlers import RegistryReplicaHandler
from services.events.repository import ReferenceRepository
from shared.app import create_service_app
from shared.contracts import REGISTRY
from shared.runtime import ServiceRuntime


async def build(runtime: ServiceRuntime) -> EventsApp:
    references = ReferenceRepository(runtime.mongo.db)
    runtime.consume(REGISTRY, RegistryReplicaHandler(references))
    return EventsApp(runtime, references)


def create_app(settings: EventsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or EventsSettings(),
        title="bdg events",
        description="Activities reported by provinces: idempotent ingestion, revisions, voids.",
        routers=[router],
        setup=build,
    )
