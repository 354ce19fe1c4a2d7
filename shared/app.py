"""The FastAPI application every service is built from, wired through its lifespan."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any
from urllib.parse import urljoin

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.audit import WRITE_METHODS, AuditRepository, audit_router, install_audit
from shared.auth.http import (
    Authenticator,
    RateLimiter,
    RevocationList,
    RevocationSource,
    revocations_from_url,
)
from shared.auth.keystore import TrustedKeyRepository
from shared.auth.tokens import JwksSource, TokenVerifier, jwks_from_url
from shared.collector import freeze_startup_objects, tune_collector
from shared.edge.bodies import guard_body
from shared.edge.docs import install_docs
from shared.edge.i18n import LanguageMiddleware
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
from shared.streams_api import streams_router
from shared.unavailable import install_unavailable_handler

Setup = Callable[[ServiceRuntime], Awaitable[Any]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    setup: Setup,
    jwks_source: JwksSource | None = None,
    revocation_source: RevocationSource | None = None,
    cors_origins: Sequence[str] | None = None,
) -> FastAPI:
    """An app whose lifespan starts the runtime after `setup` has built the service.

    `setup(runtime)` creates the service's repositories and use cases, registers its
    consumers and outbox collections, and returns the object the routes use
    (`request.app.state.service`). Tokens are verified against `jwks_source`, by
    default the registry's JWKS at `settings.jwks_url`; the tokens of revoked clients
    are refused as `revocation_source` lists them (default: the registry's
    `revoked-clients.json` beside its JWKS). Browsers may call from `cors_origins`
    (default: the `cors_origins` setting, a comma list; `*` for any; empty for none).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        runtime = ServiceRuntime(settings)
        app.state.runtime = runtime
        app.state.audit = AuditRepository(runtime.mongo.db)
        await app.state.audit.ensure_indexes()
        app.state.service = await setup(runtime)
        authenticator: Authenticator = app.state.authenticator
        await authenticator.verifier.start(
            TrustedKeyRepository(runtime.mongo.db), settings.service_name
        )
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
            await authenticator.verifier.stop()
            await runtime.stop()
            get_logger(__name__).info("service stopped")

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.authenticator = Authenticator(
        TokenVerifier(jwks_source or jwks_from_url(settings.jwks_url)),
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        RevocationList(
            revocation_source
            or revocations_from_url(urljoin(settings.jwks_url, "revoked-clients.json"))
        ),
    )
    install_problem_handlers(app)
    install_unavailable_handler(app)

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
    app.add_middleware(LanguageMiddleware)
    origins = cors_origins if cors_origins is not None else cors_origins_from_environment()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language", "X-Correlation-Id"],
            expose_headers=["X-Correlation-Id", "Retry-After", "Location"],
            max_age=600,
        )

    def readiness(request: Request) -> ReadinessCheck:
        runtime: ServiceRuntime = request.app.state.runtime
        verifier = request.app.state.authenticator.verifier

        async def check() -> dict[str, bool]:
            # Without any key no token can be checked: every request would be a 503.
            return {**await runtime.ready(), "signing_keys": verifier.usable}

        return check

    app.include_router(health_router(readiness))
    # Every write route refuses a body of a type it does not take (415) and hostile JSON (400).
    body_rules = [Depends(guard_body)]
    for router in routers:
        app.include_router(router, responses=COMMON_RESPONSES, dependencies=body_rules)
    app.include_router(audit_router(audit_log), responses=COMMON_RESPONSES, dependencies=body_rules)
    app.include_router(streams_router(), responses=COMMON_RESPONSES, dependencies=body_rules)
    install_docs(app, token_url=urljoin(settings.jwks_url, "../v1/oauth/token"))
    return app


class EdgeSettings(BaseSettings):
    """Settings of the HTTP edge every service shares (environment, `BDG_` prefix)."""

    model_config = SettingsConfigDict(env_prefix="BDG_", extra="ignore")

    # Origins browsers may call the API from: a comma list, `*` for any, empty for none.
    cors_origins: str = ""


def cors_origins_from_environment() -> list[str]:
    """The configured CORS origins (comma-separated; `*` for any; empty: none)."""
    raw = EdgeSettings().cors_origins
    return [origin.strip() for origin in raw.split(",") if origin.strip()]


class _DrainingServer(uvicorn.Server):
    """On SIGTERM or SIGINT: readiness turns 503 first, so that a proxy stops sending
    requests, then uvicorn stops accepting, finishes the requests in flight, and the
    lifespan drains the consumers and the outbox (all within the drain bound)."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, notice_seconds: float) -> None:
        super().__init__(config)
        self._app = app
        self._notice = notice_seconds

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        freeze_startup_objects()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime: ServiceRuntime | None = getattr(self._app.state, "runtime", None)
        if runtime is None or runtime.draining or self._notice <= 0:
            super().handle_exit(sig, frame)
            return
        runtime.draining = True
        get_logger(__name__).info("draining", notice_seconds=self._notice)
        loop = asyncio.get_event_loop()
        loop.call_later(self._notice, super().handle_exit, sig, frame)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service in the foreground until SIGINT or SIGTERM, then drain and stop
    within `shutdown_drain_seconds` (compose's `stop_grace_period` is longer)."""
    tune_collector()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=max(int(settings.shutdown_drain_seconds) - 5, 1),
        access_log=False,
    )
    _DrainingServer(config, app, settings.shutdown_notice_seconds).run()
