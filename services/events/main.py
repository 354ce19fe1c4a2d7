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
        # Where the database copy is, read before loading it: this replica's follower
        # brings memory on from there (other replicas may be applying the rest).
        loaded_at = await runtime.position(REGISTRY)
        await replica.load()

        async def loaded() -> int:
            return loaded_at

        runtime.follow(REGISTRY, "bdg.registry.v1.>", replica.follow, loaded)
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
        # The pending sweep (expiring what waited too long) runs in one replica at a time.
        sweeper = PendingSweeper(resolver, settings.pending_sweep_seconds)

        async def start_sweeping() -> None:
            sweeper.start()

        runtime.under_lease("pending-sweep", start_sweeping, sweeper.stop)
        return EventsApp(runtime, service, settings)

    return create_service_app(
        settings,
        title="bdg events",
        description="Activities reported by provinces: idempotent ingestion, revisions, voids.",
        routers=[router],
        setup=build,
        jwks_source=jwks_source,
    )
