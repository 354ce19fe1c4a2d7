"""Assembly of the reporting service."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.api import pages, router
from services.reporting.config import ReportingSettings
from services.reporting.generations import Generations
from services.reporting.handlers import ActivitiesHandler, RegistryHandler
from services.reporting.replay import Rebuilder
from services.reporting.repository import DeadLetterPages, MetaRepository
from services.reporting.service import ReportingService
from shared.app import create_service_app
from shared.auth.tokens import JwksSource
from shared.contracts import ACTIVITIES, REGISTRY
from shared.runtime import ServiceRuntime


async def build(runtime: ServiceRuntime) -> ReportingService:
    db = runtime.mongo.db
    meta = MetaRepository(db)
    generations = Generations(db, meta)
    await generations.load()
    runtime.consume(REGISTRY, RegistryHandler(generations))
    runtime.consume(ACTIVITIES, ActivitiesHandler(generations))
    rebuilder = Rebuilder(
        lambda: runtime.broker.config.connection_state.stream,
        generations,
        meta,
        runtime.dead_letters,
        runtime.settings.consumer_batch_size,
    )
    await rebuilder.recover()
    service = ReportingService(runtime, generations, meta, DeadLetterPages(db), rebuilder)
    # A rebuild under way stops before the runtime closes MongoDB and NATS.
    runtime.on_stop(service.close)
    return service


def create_app(
    settings: ReportingSettings | None = None, jwks_source: JwksSource | None = None
) -> FastAPI:
    """`jwks_source`: where tokens' public keys come from (default: the registry's JWKS
    at `BDG_JWKS_URL`)."""
    return create_service_app(
        settings or ReportingSettings(),
        title="bdg reporting",
        description="Sex-disaggregated indicators from commune to nation, reports and exports.",
        routers=[router, pages],
        setup=build,
        jwks_source=jwks_source,
    )
