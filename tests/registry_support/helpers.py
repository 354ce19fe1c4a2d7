"""Running the registry on a slice of the national reference, and watching its stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import nats
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

    async def messages(self, subject: str = "bdg.registry.>") -> list[dict[str, Any]]:
        import json

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
        """Publish a sentinel change and wait for it: everything stored before it is
        then published too. Returns the message count without the sentinel."""
        before = await self.count()
        sentinel = {"name": f"Sentinel {before}", "name_vi": f"Mốc {before}"}
        response = await client.put("/v1/programmes/SENTINEL", json=sentinel)
        assert response.status_code in (200, 201)

        async def arrived() -> int | None:
            count = await self.count()
            return count if count > before else None

        await eventually(arrived, timeout=10.0)
        await asyncio.sleep(0.3)  # anything else the same flush carried
        return await self.count() - 1


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
