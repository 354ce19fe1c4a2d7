"""Assembly of the events service."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.events.api import router
from services.events.config import EventsSettings
from services.events.deps import EventsApp
from services.events.handlers import RegistryReplicaHandler
from services.events.ingestion import Ingestion, utc_now
from services.events.pending import PendingResolver, PendingSweeper
from services.events.reference_cache import ReferenceCache
from services.events.replica import RegistryReplica
from services.events.repository import (
    OUTBOX_COLLECTIONS,
    ActivityRepository,
    ReferenceRepository,
)
from services.events.service import ActivityService
from shared.app import create_service_app
from shared.auth.tokens import JwksSource
from shared.contracts import REGISTRY
from shared.edge.dates import today_in_vietnam
from shared.runtime import ServiceRuntime


def create_app(
    settings: EventsSettings | None = None, jwks_source: JwksSource | None = None
) -> FastAPI:
    """`jwks_source`: where tokens' public keys come from (default: the registry's JWKS
    at `BDG_JWKS_URL`)."""
    settings = settings or EventsSettings()

    async def build(runtime: ServiceRuntime) -> EventsApp:
        activities = ActivityRepository(runtime.mongo.db)
        await activities.ensure_indexes()
        replica = RegistryReplica(ReferenceRepository(runtime.mongo.db), ReferenceCache())
        await replica.load()
        resolver = PendingResolver(
            activities,
            replica,
            timeout=timedelta(seconds=settings.pending_timeout_seconds),
            wake=runtime.wake_relay,
            today=today_in_vietnam,
            now=utc_now,
        )
        runtime.consume(REGISTRY, RegistryReplicaHandler(replica, resolver))
        runtime.relay_outbox_of(OUTBOX_COLLECTIONS)
        ingestion = Ingestion(activities, replica, wake=runtime.wake_relay, today=today_in_vietnam)
        service = ActivityService(
            ingestion,
            activities,
            replica.cache,
            wake=runtime.wake_relay,
            now=utc_now,
            import_max_rows=settings.import_max_rows,
        )
        # The pending sweep runs between the service's start and its stop.
        sweeper = PendingSweeper(resolver, settings.pending_sweep_seconds)

        async def start_sweeping() -> None:
            sweeper.start()

        runtime.on_start(start_sweeping)
        runtime.on_stop(sweeper.stop)
        return EventsApp(runtime, service, settings)

    return create_service_app(
        settings,
        title="bdg events",
        description="Activities reported by provinces: idempotent ingestion, revisions, voids.",
        routers=[router],
        setup=build,
        jwks_source=jwks_source,
    )
