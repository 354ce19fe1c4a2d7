"""Assembly of the registry service: the one place its parts are built and wired."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from services.registry.access import ClientService, KeyStore
from services.registry.access_api import router as access_router
from services.registry.api import router
from services.registry.approvals import ApprovalService
from services.registry.clubs import RegisterService
from services.registry.config import RegistrySettings
from services.registry.deps import Access, Registry
from services.registry.directory import UnitDirectory
from services.registry.imports import ImportService
from services.registry.loader import ReferenceLoader
from services.registry.locks import LockService, Scopes
from services.registry.locks_api import router as locks_router
from services.registry.members import BulkMembers, MemberService
from services.registry.programmes import ProgrammeService
from services.registry.publishing import RevisionBase
from services.registry.reference import Selection
from services.registry.register_api import router as register_router
from services.registry.repository import OUTBOX_COLLECTIONS, Repositories
from services.registry.service import UnitService
from shared.app import create_service_app
from shared.auth.http import RevocationList
from shared.contracts import REGISTRY, UNIT_UPSERTED, CloudEvent
from shared.logging import get_logger
from shared.runtime import ServiceRuntime
from shared.tasks import cancel_and_wait

log = get_logger(__name__)


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()

    async def build(runtime: ServiceRuntime) -> Registry:
        repositories = Repositories(runtime.mongo.db)
        await repositories.ensure_indexes()
        relay = runtime.relay_outbox_of(OUTBOX_COLLECTIONS)
        revision_base = RevisionBase(
            repositories.publishing, lambda: runtime.broker.config.connection_state.stream
        )
        relay.prepare = revision_base.prepare
        relay.after_pass = revision_base.published

        async def publishing_done() -> None:
            return None

        # Taken with the outbox lease, before the relay starts (shared/runtime.py).
        runtime.under_lease("outbox", revision_base.check, publishing_done)
        directory = UnitDirectory()
        loader = ReferenceLoader(
            repositories.reference,
            directory,
            runtime.wake_relay,
            group_events=settings.reference_group_events,
        )
        await loader.prepare(Selection.parse(settings.reference_provinces))
        units = UnitService(repositories, directory)
        await units.load_villages()

        async def follow_units(events: Sequence[CloudEvent]) -> None:
            # Villages added through another registry replica (memory only: its
            # database copy is this one's too).
            fresh = [
                event.data
                for event in events
                if event.type == UNIT_UPSERTED.type
                and int((directory.get(event.data["id"]) or {}).get("revision", 0))
                < int(event.data.get("revision", 0))
            ]
            if fresh:
                directory.put_many(fresh)

        async def stream_end() -> int:
            js = runtime.broker.config.connection_state.stream
            return int((await js.stream_info(REGISTRY.name)).state.last_seq)

        runtime.follow(REGISTRY, UNIT_UPSERTED.subject, follow_units, stream_end)
        programmes = ProgrammeService(repositories, units)
        await programmes.seed()
        registers = RegisterService(repositories, units, programmes)
        scopes = Scopes(units, programmes)
        loading = asyncio.create_task(loader.store_and_publish(), name="reference-load")

        async def stop_loading() -> None:
            # Stop storing the reference before MongoDB closes; what is left is
            # stored at the next start.
            await cancel_and_wait(loading)
            if not loading.cancelled() and loading.exception() is not None:
                log.error("reference load failed", error=repr(loading.exception()))

        runtime.on_stop(stop_loading)
        members = MemberService(repositories)
        if not settings.signing_key_passphrase:
            raise RuntimeError(
                "BDG_SIGNING_KEY_PASSPHRASE (or BDG_SIGNING_KEY_PASSPHRASE_FILE) is required: "
                "the registry keeps its private signing keys encrypted with it"
            )
        keys = KeyStore(
            repositories.access, settings.token_lifetime_seconds, settings.signing_key_passphrase
        )
        await keys.load()
        clients = ClientService(
            repositories.access, keys, directory, settings.token_lifetime_seconds
        )
        if settings.admin_client_id and settings.admin_client_secret:
            await clients.ensure_admin(settings.admin_client_id, settings.admin_client_secret)
        else:
            log.warning(
                "no bootstrap admin: set BDG_ADMIN_CLIENT_ID and BDG_ADMIN_CLIENT_SECRET "
                "to create API clients"
            )
        return Registry(
            runtime=runtime,
            settings=settings,
            units=units,
            programmes=programmes,
            registers=registers,
            members=members,
            bulk=BulkMembers(registers, members, settings.bulk_max_members),
            imports=ImportService(registers, members, units, settings.import_max_rows),
            loader=loader,
            access=Access(clients, keys, settings.token_lifetime_seconds, revocations),
            locks=LockService(repositories, scopes),
            approvals=ApprovalService(repositories, scopes),
        )

    async def own_jwks() -> dict[str, Any]:
        # The registry verifies its own tokens without going through HTTP. The verifier
        # asks only when a token names a key it does not know (at most every 2 s): read
        # the stored keys afresh then, so a key rotated in by another instance counts.
        registry: Registry = app.state.service
        await registry.access.keys.load()
        return await registry.access.keys.jwks()

    async def own_revocations() -> dict[str, Any]:
        # Read from its own database, so a revocation made through another registry
        # instance counts here too within the list's refresh period.
        registry: Registry | None = getattr(app.state, "service", None)
        if registry is None:
            return {"revoked": []}
        return {"revoked": await registry.access.clients.revoked()}

    app = create_service_app(
        settings,
        title="bdg registry",
        description="Administrative units, programmes and targets, sites, clubs and members; "
        "period locks and approval steps.",
        routers=[router, register_router, access_router, locks_router],
        setup=build,
        jwks_source=own_jwks,
        revocation_source=own_revocations,
    )
    revocations: RevocationList = app.state.authenticator.revocations
    return app
