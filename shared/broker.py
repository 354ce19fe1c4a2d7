"""The NATS broker (FastStream), stream declarations and the outbox's JetStream publisher."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
from faststream.nats import (
    NatsBroker,
    NatsUserPassword,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError

from shared.contracts import STREAMS, kind_for_type
from shared.contracts.streams import StreamSpec
from shared.logging import get_logger
from shared.outbox import Unpublishable

MSG_ID_HEADER = "Nats-Msg-Id"
# Long enough that a publish retried after a NATS outage is still recognised.
DUPLICATE_WINDOW = timedelta(minutes=30)

log = get_logger(__name__)


def create_broker(
    nats_url: str, client_name: str, user: str | None = None, password: str | None = None
) -> NatsBroker:
    """A broker that keeps reconnecting for as long as NATS is away (to any server of
    the comma list `nats_url`), as `user` when NATS requires authentication."""
    servers = [server.strip() for server in nats_url.split(",") if server.strip()]
    return NatsBroker(
        servers,
        security=NatsUserPassword(username=user, password=password or "") if user else None,
        name=client_name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        # FastStream logs every message at this level: keep it out of INFO logs.
        log_level=logging.DEBUG,
        graceful_timeout=15.0,
    )


def stream_config(spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
    )


async def ensure_streams(broker: NatsBroker, replicas: int) -> None:
    """Create both streams, or bring an existing one's configuration up to date."""
    js = broker.config.connection_state.stream
    for spec in STREAMS:
        config = stream_config(spec, replicas)
        try:
            await js.add_stream(config=config)
        except BadRequestError:
            await js.update_stream(config=config)


class JetStreamPublisher:
    """Publishes a stored CloudEvent on its type's subject and waits for the stream's ack."""

    def __init__(self, broker: NatsBroker, timeout: float = 5.0) -> None:
        self._broker = broker
        self._timeout = timeout

    async def publish(self, event: dict[str, Any]) -> None:
        kind = kind_for_type(event["type"])
        if kind is None:
            raise Unpublishable(f"no subject known for event type {event['type']!r}")
        # Stored by `CloudEvent.to_document()`, so already the wire form.
        body = orjson.dumps(event)
        await self._broker.publish(
            body,
            subject=kind.subject,
            headers={MSG_ID_HEADER: event["id"], "content-type": "application/cloudevents+json"},
            correlation_id=event.get("correlationid"),
            stream=kind.stream.name,
            timeout=self._timeout,
        )
