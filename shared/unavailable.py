"""A database that cannot answer now is a 503 with `Retry-After`, never a 500.

During a MongoDB election no primary can be selected for seconds, and an operation can
exceed its `timeoutMS`; the embedded store can be busy past its lock timeout or fail
an I/O. None of these is the client's fault nor a bug: the request is answered 503
with a problem body and `Retry-After`, and the client sends it again. Writes are
idempotent, so a retry after an ambiguous failure cannot count twice.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.edge import problems
from shared.http import problem_response
from shared.logging import get_logger

RETRY_AFTER_SECONDS = 5

log = get_logger(__name__)


def is_unavailable(exc: BaseException) -> bool:
    """Selection and timeout errors, lost connections: the database, not the request."""
    return isinstance(exc, ConnectionFailure) or (
        isinstance(exc, PyMongoError) and bool(getattr(exc, "timeout", False))
    )


def install_unavailable_handler(app: FastAPI) -> None:
    async def on_database_error(request: Request, exc: Exception) -> Response:
        if not is_unavailable(exc):
            raise exc
        log.warning("database unavailable", path=request.url.path, error=repr(exc))
        return problem_response(problems.database_unavailable(RETRY_AFTER_SECONDS))

    app.add_exception_handler(PyMongoError, on_database_error)
