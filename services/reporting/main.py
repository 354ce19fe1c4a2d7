"""Assembly of the reporting service."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from services.reporting.api import pages, router
from services.reporting.config import ReportingSettings
from services.reporting.generations import PROJECTION, Generations, GenerationWatcher
from services.reporting.handlers import ActivitiesHandler, RegistryHandler
from services.reporting.replay import Rebuilder
from services.reporting.repository import DeadLetterPages, MetaRepository
from services.reporting.service import ReportingService
from shared.app import create_service_app
from shared.auth.tokens import JwksSource
from shared.contracts import ACTIVITIES, REGISTRY, UNIT_UPSERTED, CloudEvent
from shared.runtime import ServiceRuntime


async def build(runtime: ServiceRuntime) -> ReportingService:
    """One replica projects both streams and runs rebuilds (it holds the `projection`
    lease); every replica answers queries, following the units and the active
    generation (services/reporting/generations.py)."""
    db = runtime.mongo.db
    meta = MetaRepository(db)
    generations = Generations(db, meta)
    loaded_at = await runtime.position(REGISTRY)
    await generations.load()
    rebuilder = Rebuilder(
        lambda: runtime.broker.config.connection_state.stream,
        generations,
        meta,
        runtime.dead_letters,
        runtime.settings.consumer_batch_size,
    )

    async def take_over() -> None:
        # The projecting replica's memory is what its database holds; a rebuild left
        # running by a replica that stopped projecting is abandoned.
        await generations.follow()
        await generations.active.reload_units()
        await rebuilder.recover()

    runtime.under_lease(PROJECTION, take_over, rebuilder.stop)
    runtime.consume(REGISTRY, RegistryHandler(generations), lease=PROJECTION)
    runtime.consume(ACTIVITIES, ActivitiesHandler(generations), lease=PROJECTION)

    async def follow_units(events: Sequence[CloudEvent]) -> None:
        if not runtime.holds(PROJECTION):
            generations.follow_units(
                [{"_id": e.data["id"], **e.data} for e in events if e.type == UNIT_UPSERTED.type]
            )

    async def loaded() -> int:
        return loaded_at

    runtime.follow(REGISTRY, UNIT_UPSERTED.subject, follow_units, loaded)
    service = ReportingService(runtime, generations, meta, DeadLetterPages(db), rebuilder)
    watcher = GenerationWatcher(runtime, generations, meta, rebuilder)
    runtime.on_start(watcher.start)
    # A rebuild under way stops before the runtime closes MongoDB and NATS.
    runtime.on_stop(watcher.stop)
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
