"""Structured JSON logging with a correlation id carried in a context variable.

The correlation id arrives in the `X-Correlation-ID` HTTP header or a message's
`correlationid` attribute, is bound for the duration of that request or message,
and is copied into every event the work produces, so one province's submission
can be followed across the three services.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

CORRELATION_HEADER = "X-Correlation-ID"
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_client_id: ContextVar[str | None] = ContextVar("client_id", default=None)


def current_client_id() -> str | None:
    """The authenticated API client whose request is being served, if any."""
    return _client_id.get()


def bind_client_id(client_id: str) -> None:
    """Record the caller for the rest of this request (events carry it as `clientid`)."""
    _client_id.set(client_id)
    structlog.contextvars.bind_contextvars(client_id=client_id)


def current_correlation_id() -> str:
    """The id of the work in progress, or a fresh one when none is bound."""
    value = _correlation_id.get()
    return value if value is not None else uuid.uuid4().hex


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str]:
    """Bind a correlation id (a new one when `None`) for the enclosed work."""
    value = correlation_id or uuid.uuid4().hex
    token = _correlation_id.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)
    try:
        yield value
    finally:
        structlog.contextvars.unbind_contextvars("correlation_id")
        _correlation_id.reset(token)


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    """Send structlog and standard-library logs to stderr as one JSON object per line."""

    def add_service(
        _logger: object, _method: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_output
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
