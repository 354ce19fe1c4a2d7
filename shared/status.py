"""Consumer status per stream: how far a service has applied each stream, and how fresh it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from shared.consumer_state import document_time
from shared.runtime import ServiceRuntime


class StreamStatus(BaseModel):
    stream: str
    consumer: str
    # The database's position (what it applied) and NATS's (its consumer's ack floor).
    last_sequence: int
    nats_ack_floor: int | None
    stream_first_sequence: int | None
    stream_last_sequence: int | None
    pending: int | None
    # Why nothing is applied: the stream no longer holds what the database needs.
    gap: str | None
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
    # Work done by one replica at a time (shared/lease.py): lease name → held by the
    # replica that answers. Which replica relays the outbox, projects, rebuilds.
    leases: dict[str, bool] = Field(default_factory=dict)


def _ms(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return max(int((later - earlier).total_seconds() * 1000), 0)


async def service_status(runtime: ServiceRuntime) -> ServiceStatus:
    """`freshness_ms`: from the newest applied event's `time` to when it was applied;
    `age_ms`: from that event's `time` to now; `pending`: messages the consumer has yet
    to deliver plus those delivered and not yet acknowledged (unknown while NATS is away)."""
    positions = {
        position.durable: position for position in await runtime.consumer_state.positions()
    }
    dead = await runtime.dead_letters.count_by_stream()
    now = datetime.now(UTC)
    rows: list[StreamStatus] = []
    for name, consumer in runtime.consumers.items():
        position = positions.get(consumer.durable)
        counts = await _consumer_counts(runtime, name, consumer.durable)
        event_time = document_time(position.last_event_time) if position else None
        applied_at = document_time(position.applied_at) if position else None
        rows.append(
            StreamStatus(
                stream=name,
                consumer=consumer.durable,
                last_sequence=position.last_sequence if position else 0,
                nats_ack_floor=counts.ack_floor,
                stream_first_sequence=counts.first,
                stream_last_sequence=counts.last,
                pending=counts.pending,
                gap=consumer.gap,
                last_event_time=event_time,
                applied_at=applied_at,
                freshness_ms=_ms(applied_at, event_time),
                age_ms=_ms(now, event_time),
                applied_total=position.applied_total if position else 0,
                dead_letters=dead.get(name, 0),
            )
        )
    return ServiceStatus(
        service=runtime.settings.service_name,
        mongodb=runtime.mongo.kind.value,
        streams=rows,
        leases={name: runtime.holds(name) for name in sorted(runtime.leases)},
    )


@dataclass(frozen=True)
class _Counts:
    pending: int | None = None
    ack_floor: int | None = None
    first: int | None = None
    last: int | None = None


async def _consumer_counts(runtime: ServiceRuntime, stream: str, durable: str) -> _Counts:
    if not runtime.streams_ready.is_set():
        return _Counts()
    js = runtime.broker.config.connection_state.stream
    try:
        stream_info = await js.stream_info(stream)
    except Exception:
        return _Counts()
    found = _Counts(first=stream_info.state.first_seq, last=stream_info.state.last_seq)
    try:
        info = await js.consumer_info(stream, durable)
    except Exception:
        return found
    floor = info.ack_floor.stream_seq if info.ack_floor else None
    pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
    return _Counts(pending, floor, found.first, found.last)
