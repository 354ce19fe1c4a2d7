"""Bodies over the limit get 413 problem+json, whether declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request

from shared.http import install_problem_handlers
from shared.limits import BodySizeLimit


def small_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    app.add_middleware(BodySizeLimit, max_bytes=1000)
    return app


async def test_body_within_the_limit_passes() -> None:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/echo", content=b"x" * 1000)
    assert response.json() == {"received": 1000}


async def test_declared_oversize_body_is_refused_with_413() -> None:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/echo", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit_bytes"] == 1000


async def test_streamed_oversize_body_without_length_is_refused_with_413() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * 300

    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/echo", content=chunks())
    assert response.status_code == 413
    assert response.json()["type"].endswith("/body-too-large")
