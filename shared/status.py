"""Consumer status per stream: how far a service has applied each stream, and how fresh it is."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from shared.consumer import document_time
from shared.runtime import ServiceRuntime


class StreamStatus(BaseModel):
    stream: str
    consumer: str
    last_sequence: int
    stream_last_sequence: int | None
    pending: int | None
    last_event_time: datetime | None
    applied_at: datetime | None
    freshness_ms: int | None
    age_ms: int | None
    applied_total: int
    dead_letters: int


class ServiceStatus(BaseModel):
    service: str
    mongodb: str
    streams: list[StreamStatus]


def _ms(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return max(int((later - earlier).total_seconds() * 1000), 0)


async def service_status(runtime: ServiceRuntime) -> ServiceStatus:
    """`freshness_ms`: from the newest applied event's `time` to when it was applied;
    `age_ms`: from that event's `time` to now; `pending`: messages the consumer has yet
    to deliver plus those delivered and not yet acknowledged (unknown while NATS is away)."""
    positions = {position.stream: position for position in await runtime.consumer_state.positions()}
    dead = await runtime.dead_letters.count_by_stream()
    now = datetime.now(UTC)
    rows: list[StreamStatus] = []
    for name, consumer in runtime.consumers.items():
        position = positions.get(name)
        pending, stream_last = await _consumer_counts(runtime, name, consumer.durable)
        event_time = document_time(position.last_event_time) if position else None
        applied_at = document_time(position.applied_at) if position else None
        rows.append(
            StreamStatus(
                stream=name,
                consumer=consumer.durable,
                last_sequence=position.last_sequence if position else 0,
                stream_last_sequence=stream_last,
                pending=pending,
                last_event_time=event_time,
                applied_at=applied_at,
                freshness_ms=_ms(applied_at, event_time),
                age_ms=_ms(now, event_time),
                applied_total=position.applied_total if position else 0,
                dead_letters=dead.get(name, 0),
            )
        )
    return ServiceStatus(
        service=runtime.settings.service_name, mongodb=runtime.mongo.kind.value, streams=rows
    )


async def _consumer_counts(
    runtime: ServiceRuntime, stream: str, durable: str
) -> tuple[int | None, int | None]:
    if not runtime.streams_ready.is_set():
        return None, None
    try:
        js = runtime.broker.config.connection_state.stream
        info = await js.consumer_info(stream, durable)
        stream_info = await js.stream_info(stream)
    except Exception:
        return None, None
    return (info.num_pending or 0) + (info.num_ack_pending or 0), stream_info.state.last_seq
