"""Running the registry on a slice of the national reference, and watching its stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import nats.js.errors
from fastapi import FastAPI

from tests.support.apps import eventually, registry_app, running
from tests.support.mongo import MongoBackend

# Lạng Sơn and Hà Giang (vn63), with the vn34 provinces they went into (20 and 08).
SLICE = "vn63:20,vn63:02"
SLICE_UNITS = 1 + 206 + 205 + 66 + 125

HUU_LUNG = "vn63:186"
VAN_NHAM = "vn63:06433"
DONG_TIEN = "vn63:06436"
YEN_BINH = "vn63:06391"
LANG_SON = "vn63:20"
HOANG_SU_PHI = "vn63:032"


@dataclass
class Stream:
    """The REGISTRY stream as a consumer sees it."""

    url: str
    markers: int = 0

    async def messages(self, subject: str = "bdg.registry.>") -> list[dict[str, Any]]:
        connection = await nats.connect(self.url)
        try:
            js = connection.jetstream()
            subscription = await js.pull_subscribe(subject, stream="REGISTRY")
            found: list[dict[str, Any]] = []
            while True:
                try:
                    batch = await subscription.fetch(1000, timeout=0.2)
                except TimeoutError:  # nats' own and asyncio's: no more messages
                    return found
                for message in batch:
                    found.append(json.loads(message.data))
                    await message.ack()
        finally:
            await connection.close()

    async def count(self) -> int:
        connection = await nats.connect(self.url)
        try:
            info = await connection.jetstream().stream_info("REGISTRY")
            return int(info.state.messages)
        finally:
            await connection.close()

    async def settle(self, client: httpx.AsyncClient) -> int:
        """How many messages other than markers the stream holds, once everything
        stored so far has been published (no sleep: proven with two markers).

        A marker is a change of the programme `SENTINEL`. The outbox relay publishes
        in passes, each visiting the collections in a fixed order: an event stored
        before the first marker is published in the pass that publishes that marker,
        or in an earlier one, or (its collection visited just before it was stored) in
        the next one, before anything of a later pass. The second marker is stored
        after the first one was seen, so it goes out in a later pass, after
        everything stored before the first. So two calls with nothing written
        between them return the same number.
        """
        for _ in range(2):
            self.markers += 1
            name = f"Sentinel {self.markers}"
            sentinel = {"name": name, "name_vi": f"Mốc {self.markers}"}
            response = await client.put("/v1/programmes/SENTINEL", json=sentinel)
            assert response.status_code in (200, 201), response.text

            async def marker_sequence(name: str = name) -> int | None:
                connection = await nats.connect(self.url)
                try:
                    js = connection.jetstream()
                    try:
                        last = await js.get_last_msg(
                            "REGISTRY", "bdg.registry.v1.programme.upserted"
                        )
                    except nats.js.errors.NotFoundError:
                        return None
                    assert last.data is not None
                    data = json.loads(last.data)["data"]
                    return int(last.seq or 0) if data.get("name") == name else None
                finally:
                    await connection.close()

            sequence, _ = await eventually(marker_sequence, timeout=10.0)
        return sequence - self.markers


async def reference_complete(client: httpx.AsyncClient, timeout: float = 30.0) -> dict[str, Any]:
    async def complete() -> dict[str, Any] | None:
        status: dict[str, Any] = (await client.get("/v1/reference")).json()
        return status if status["state"] == "complete" else None

    status, _ = await eventually(complete, timeout=timeout, interval=0.05)
    return status


def sliced_registry(mongo: MongoBackend, nats_url: str, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {"reference_provinces": SLICE, "outbox_poll_seconds": 0.2}
    return registry_app(mongo, nats_url, **{**values, **overrides})


@asynccontextmanager
async def registry(
    mongo: MongoBackend, nats_url: str, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A registry on the slice, with its reference stored and published."""
    async with running(sliced_registry(mongo, nats_url, **overrides)) as client:
        await reference_complete(client)
        yield client


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    kind: str = response.json()["type"]
    return kind.rsplit("/", 1)[-1]
