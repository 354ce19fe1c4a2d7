"""The FastAPI application every service is built from, wired through its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response

from shared.audit import WRITE_METHODS, AuditRepository, audit_router, install_audit
from shared.auth.http import Authenticator, RateLimiter
from shared.auth.tokens import JwksSource, TokenVerifier, jwks_from_url
from shared.http import (
    COMMON_RESPONSES,
    ReadinessCheck,
    health_router,
    install_problem_handlers,
    install_request_context,
)
from shared.limits import BodySizeLimit
from shared.logging import configure_logging, get_logger
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

Setup = Callable[[ServiceRuntime], Awaitable[Any]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    setup: Setup,
    jwks_source: JwksSource | None = None,
) -> FastAPI:
    """An app whose lifespan starts the runtime after `setup` has built the service.

    `setup(runtime)` creates the service's repositories and use cases, registers its
    consumers and outbox collections, and returns the object the routes use
    (`request.app.state.service`). Tokens are verified against `jwks_source`, by
    default the registry's JWKS at `settings.jwks_url`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        runtime = ServiceRuntime(settings)
        app.state.runtime = runtime
        app.state.audit = AuditRepository(runtime.mongo.db)
        await app.state.audit.ensure_indexes()
        app.state.service = await setup(runtime)
        await runtime.start()
        get_logger(__name__).info(
            "service started",
            port=settings.port,
            mongodb=runtime.mongo.kind.value,
            store=runtime.mongo.location if runtime.mongo.kind == "embedded" else None,
            database=settings.database,
        )
        try:
            yield
        finally:
            await runtime.stop()
            get_logger(__name__).info("service stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.authenticator = Authenticator(
        TokenVerifier(jwks_source or jwks_from_url(settings.jwks_url)),
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
    )
    install_problem_handlers(app)

    def audit_log(request: Request) -> AuditRepository:
        repository: AuditRepository = request.app.state.audit
        return repository

    install_audit(app, audit_log)

    @app.middleware("http")
    async def publish_after_writes(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # A write that stored events wakes the outbox relay, so they go out at once
        # rather than at its next poll; routes need not remember to.
        response = await call_next(request)
        if request.method in WRITE_METHODS and response.status_code < 400:
            runtime: ServiceRuntime = request.app.state.runtime
            runtime.wake_relay()
        return response

    install_request_context(app, settings.service_name)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    def readiness(request: Request) -> ReadinessCheck:
        runtime: ServiceRuntime = request.app.state.runtime
        return runtime.ready

    app.include_router(health_router(readiness))
    for router in routers:
        app.include_router(router, responses=COMMON_RESPONSES)
    app.include_router(audit_router(audit_log), responses=COMMON_RESPONSES)
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service in the foreground until SIGINT or SIGTERM, then drain and stop."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=20,
        access_log=False,
    )
