"""Building and publishing contract events directly, as another service would."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import nats

from shared.broker import MSG_ID_HEADER
from shared.contracts import PROGRAMME_UPSERTED, CloudEvent, ProgrammeUpserted


def programme_event(code: str, revision: int, name: str) -> CloudEvent:
    return CloudEvent.new(
        PROGRAMME_UPSERTED,
        ProgrammeUpserted(code=code, revision=revision, name=name, name_vi=f"{name} (vi)"),
        source=PROGRAMME_UPSERTED.stream.source,
        subject=code,
        correlation_id=uuid.uuid4().hex,
    )


async def publish_raw(nats_url: str, subject: str, body: bytes, msg_id: str | None = None) -> int:
    """Publish bytes to JetStream; returns the stream sequence it got."""
    nc = await nats.connect(nats_url)
    try:
        ack = await nc.jetstream().publish(
            subject, body, headers={MSG_ID_HEADER: msg_id or uuid.uuid4().hex}
        )
        return int(ack.seq)
    finally:
        await nc.close()


async def publish_events(nats_url: str, events: Sequence[CloudEvent]) -> int:
    """Publish contract events in order, on their subjects, over one connection, as a
    producer's relay would; returns the last stream sequence."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sequence = 0
        for event in events:
            ack = await js.publish(
                event.kind.subject, event.to_bytes(), headers={MSG_ID_HEADER: event.id}
            )
            sequence = int(ack.seq)
        return sequence
    finally:
        await nc.close()
