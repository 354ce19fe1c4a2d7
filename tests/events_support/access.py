"""Clients of the events service with other tokens than the administrator's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.apps import signed_token

# Lạng Sơn holds both of its ids across the 2025 reorganisation.
LANGSON = ("vn63:20", "vn34:20")
# Hà Giang went into Tuyên Quang.
HAGIANG = ("vn63:02", "vn34:08")


def langson_submitter() -> str:
    return signed_token(roles=("submitter",), provinces=LANGSON, client_id="langson-app")


def langson_viewer() -> str:
    return signed_token(roles=("viewer",), provinces=LANGSON, client_id="langson-dashboard")


def hagiang_submitter() -> str:
    return signed_token(roles=("submitter",), provinces=HAGIANG, client_id="hagiang-app")


def national_viewer() -> str:
    return signed_token(roles=("viewer",), provinces=("vn",), client_id="national-board")


@asynccontextmanager
async def client_of(app: FastAPI, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of an app already running (inside `running(app)`), as `token`
    (`None`: no Authorization header)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if token is not None:
            client.headers["Authorization"] = f"Bearer {token}"
        yield client


def problem_of(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """The problem body of a response, after checking its status, media type and type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://bdg.gov.vn/problems/{kind}", body
    return body
