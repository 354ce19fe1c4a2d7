"""HTTP pieces every service shares: problem details, health, metrics, correlation ids."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logging import CORRELATION_HEADER, correlation_scope, get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://bdg.gov.vn/problems/"

REQUESTS = Counter(
    "bdg_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "bdg_http_request_seconds", "HTTP request duration", ["service", "method", "route"]
)

log = get_logger(__name__)


class Problem(Exception):
    """An RFC 9457 problem: raised by use cases, rendered as `application/problem+json`."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.extensions = extensions

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of the API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        "model": ProblemDetails,
    }


# Answers any `/v1` route may give besides its own: documented once, for all of them.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid access token"),
    400: _problem("The body cannot be read (malformed, too deep, an integer too large)"),
    403: _problem("The client lacks the role, or the province, the request needs"),
    413: _problem("The body is larger than allowed"),
    415: _problem("The body's Content-Type is not one this operation takes"),
    422: _problem("The request does not match the schema or the rules; see `errors`"),
    429: _problem("Too many requests from this client; see `Retry-After`"),
}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    from shared.edge.i18n import pydantic_message

    return [
        {"loc": list(error.get("loc", ())), "msg": pydantic_message(error)}
        for error in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    # The factories live in the edge package, which builds on `Problem` above.
    from shared.edge import problems

    async def on_problem(_request: Request, exc: Exception) -> Response:
        if not isinstance(exc, Problem):  # registered for Problem only
            raise exc
        return problem_response(exc, headers=exc.headers)

    async def on_validation(_request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):
            raise exc
        return problem_response(problems.validation(validation_errors(exc)))

    async def on_http(_request: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        headers = dict(exc.headers) if exc.headers else None
        problem = problems.http_error(exc.status_code, str(exc.detail))
        return problem_response(problem, headers=headers)

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", error=str(exc))
        return problem_response(problems.internal_error())

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def install_request_context(app: FastAPI, service: str) -> None:
    """Bind a correlation id per request and record request metrics."""

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        with correlation_scope(request.headers.get(CORRELATION_HEADER)) as correlation_id:
            started = time.perf_counter()
            response = await call_next(request)
            path = getattr(request.scope.get("route"), "path", "unmatched")
            LATENCY.labels(service, request.method, path).observe(time.perf_counter() - started)
            REQUESTS.labels(service, request.method, path, str(response.status_code)).inc()
            response.headers[CORRELATION_HEADER] = correlation_id
            return response


ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def health_router(readiness: Callable[[Request], ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        """`{"status": "ok"}` while the process runs; no dependency is checked."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="MongoDB and NATS are reachable (503 otherwise)",
        responses={
            200: {
                "description": "Ready",
                "content": {
                    "application/json": {
                        "example": {"status": "ready", "checks": {"mongodb": True, "nats": True}}
                    }
                },
            },
            503: {
                "description": "A dependency is not reachable",
                "content": {
                    "application/json": {
                        "example": {
                            "status": "not ready",
                            "checks": {"mongodb": True, "nats": False},
                        }
                    }
                },
            },
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        """200 when MongoDB and NATS answer, 503 naming the one that does not."""
        checks = await readiness(request)()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        """Request counts and latencies, consumer and outbox figures (Prometheus text)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
