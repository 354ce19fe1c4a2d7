"""The three services in the test process on one real NATS server, and waiting for
their consumers to catch up with the streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import nats
from fastapi import FastAPI

from services.reporting.service import ReportingService
from tests.support.apps import events_app, eventually, registry_app, reporting_app, running
from tests.support.mongo import MongoBackend


@dataclass
class Stack:
    registry: httpx.AsyncClient
    events: httpx.AsyncClient
    reporting: httpx.AsyncClient
    apps: dict[str, FastAPI]
    nats_url: str

    @property
    def reporting_service(self) -> ReportingService:
        service: ReportingService = self.apps["reporting"].state.service
        return service


@asynccontextmanager
async def three_services(
    mongo: MongoBackend, nats_url: str, reference_provinces: str, **registry: Any
) -> AsyncIterator[Stack]:
    """Registry (with the chosen part of the national reference), events and reporting,
    each with its own database, all on `nats_url`."""
    apps = {
        "registry": registry_app(
            mongo, nats_url, reference_provinces=reference_provinces, **registry
        ),
        "events": events_app(mongo, nats_url),
        "reporting": reporting_app(mongo, nats_url),
    }
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(running(app)) for name, app in apps.items()
        }
        yield Stack(clients["registry"], clients["events"], clients["reporting"], apps, nats_url)


async def stream_last_sequences(nats_url: str) -> dict[str, int]:
    """The last sequence of each stream, as NATS itself reports it."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        found = {}
        for name in ("REGISTRY", "ACTIVITIES"):
            info = await js.stream_info(name)
            found[name] = int(info.state.last_seq)
        return found
    finally:
        await connection.close()


async def wait_published(nats_url: str, goals: dict[str, int], timeout: float) -> float:
    """Wait until each stream holds exactly its expected number of messages (the
    publishers' outboxes are drained); more than expected fails at once."""

    async def reached() -> bool:
        last = await stream_last_sequences(nats_url)
        for name, goal in goals.items():
            assert last[name] <= goal, f"{name} has {last[name]} messages, expected {goal}"
        return all(last[name] == goal for name, goal in goals.items())

    _, seconds = await eventually(reached, timeout=timeout, interval=0.1)
    return seconds


async def applied(client: httpx.AsyncClient) -> dict[str, int]:
    """`last_sequence` per stream from a consumer's `GET /v1/status`."""
    response = await client.get("/v1/status")
    assert response.status_code == 200, response.text
    return {row["stream"]: row["last_sequence"] for row in response.json()["streams"]}


async def wait_caught_up(stack: Stack, timeout: float) -> dict[str, int]:
    """Wait until events and reporting have applied every message of the streams they
    consume (the goal is read from NATS, not from the services)."""

    async def caught_up() -> dict[str, int] | None:
        goal = await stream_last_sequences(stack.nats_url)
        events, reporting = await applied(stack.events), await applied(stack.reporting)
        done = events == {"REGISTRY": goal["REGISTRY"]} and reporting == goal
        return goal if done else None

    goal, _ = await eventually(caught_up, timeout=timeout, interval=0.1)
    return goal
