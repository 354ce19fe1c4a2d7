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


@dataclass
class Settled:
    """Counts what the events service has published, proving "nothing else" with markers.

    `count(admin)` writes a marker activity (source system `test-sentinel`), waits for
    it, then a second one, and returns how many messages other than markers the stream
    holds. The outbox relay publishes in passes: whatever was stored before the first
    marker goes out in that marker's pass or earlier, or in the next pass, before the
    second marker, which is stored only once the first was seen. No sleep decides it.
    """

    url: str
    markers: int = 0

    async def count(self, admin: Any) -> int:
        for _ in range(2):
            self.markers += 1
            key = f"M{self.markers}"
            response = await admin.put(
                f"/v1/activities/{MARKER_SOURCE}/{key}", json=marker_activity()
            )
            assert response.status_code == 201, response.text

            async def arrived(key: str = key) -> int | None:
                for message in reversed(await activity_messages(self.url)):
                    if message.body["data"]["external_id"] == key:
                        return message.sequence
                return None

            sequence, _ = await eventually(arrived, timeout=10.0, interval=0.05)
        return sequence - self.markers


MARKER_SOURCE = "test-sentinel"


def marker_activity() -> dict[str, Any]:
    return {
        "type": "forum",
        "programme": "P8",
        "unit_id": "vn63:06433",
        "title": "Mốc kiểm thử",
        "started_on": "2023-10-12",
        "ended_on": "2023-10-12",
        "participants": {"female": 1, "male": 1},
    }
