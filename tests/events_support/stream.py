"""Reading what the events service published on `ACTIVITIES`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nats
from nats.js.errors import NotFoundError

from tests.support.apps import eventually


@dataclass(frozen=True)
class Published:
    sequence: int
    subject: str
    msg_id: str | None
    body: dict[str, Any]


async def activity_messages(nats_url: str) -> list[Published]:
    """Every message on `ACTIVITIES`, in stream order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            state = (await js.stream_info("ACTIVITIES")).state
        except NotFoundError:
            return []
        found: list[Published] = []
        if state.messages == 0:
            return found
        for sequence in range(state.first_seq, state.last_seq + 1):
            message = await js.get_msg("ACTIVITIES", sequence)
            assert message.data is not None
            found.append(
                Published(
                    sequence=sequence,
                    subject=message.subject or "",
                    msg_id=(message.headers or {}).get("Nats-Msg-Id"),
                    body=json.loads(message.data),
                )
            )
        return found
    finally:
        await nc.close()


async def activity_count(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info("ACTIVITIES")).state.messages)
    finally:
        await nc.close()


async def published(nats_url: str, count: int, timeout: float = 10.0) -> list[Published]:
    """Wait until `ACTIVITIES` holds `count` messages, then return them all."""

    async def enough() -> bool:
        return await activity_count(nats_url) >= count

    await eventually(enough, timeout=timeout, interval=0.05)
    return await activity_messages(nats_url)
