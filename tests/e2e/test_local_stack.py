"""`make up`'s launcher: NATS and the three services as processes, end to end."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mongo import MongoBackend
from tests.support.stack import READY_LINE, Stack, local_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(mongo: MongoBackend, tmp_path: Path) -> Iterator[Stack]:
    with local_stack(mongo, tmp_path) as running:
        yield running


def post_chunked(stack: Stack, service: str, path: str, total_bytes: int) -> tuple[int, bytes]:
    """POST `total_bytes` of JSON-looking data with chunked transfer encoding."""

    def chunks() -> Iterator[bytes]:
        yield b"["
        sent = 1
        piece = b'{"x": "' + b"y" * 65_000 + b'"},'
        while sent < total_bytes:
            yield piece
            sent += len(piece)
        yield b"{}]"

    connection = http.client.HTTPConnection("127.0.0.1", stack.ports[service], timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=chunks(),
            headers={
                "Authorization": f"Bearer {stack.token}",
                "Content-Type": "application/json",
            },
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    except (BrokenPipeError, ConnectionResetError):
        # The server may answer 413 and close before the client finishes sending.
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_stack_starts_carries_a_programme_to_reporting_and_stops_on_ctrl_c(stack: Stack) -> None:
    seconds = stack.wait_for_line(READY_LINE, timeout=120)
    assert seconds < 120
    for service in ("registry", "events", "reporting"):
        assert stack.call("GET", service, "/readyz")["status"] == "ready"
    with pytest.raises(urllib.error.HTTPError) as refused:
        stack.call("GET", "reporting", "/v1/status")
    assert refused.value.code == 401
    refused.value.close()
    # The token `make up` prints is accepted by all three services (the registry's
    # keys, verified offline by events and reporting through its JWKS).
    stack.token = stack.printed_token()

    before = stack.call("GET", "reporting", "/v1/status")["streams"][0]["last_sequence"]
    stack.call(
        "PUT",
        "registry",
        "/v1/programmes/E2E",
        {"name": "End to end", "name_vi": "Kiểm thử đầu cuối"},
    )
    deadline = time.monotonic() + 2.0
    arrived: dict[str, Any] | None = None
    while arrived is None and time.monotonic() < deadline:
        items = stack.call("GET", "reporting", "/v1/programmes")["items"]
        arrived = next((item for item in items if item["code"] == "E2E"), None)
        time.sleep(0.02)
    assert arrived is not None, "not in reporting's read model within 2 s"
    assert arrived["name_vi"] == "Kiểm thử đầu cuối"
    after = stack.call("GET", "reporting", "/v1/status")["streams"][0]["last_sequence"]
    assert after > before

    # A body over the limit, streamed without a length, is refused whole (413), on a
    # real server, by every writing route.
    for service, path in (("events", "/v1/activities:batch"), ("registry", "/v1/units")):
        status, body = post_chunked(stack, service, path, total_bytes=17 * 1024 * 1024)
        assert status == 413, (service, status, body[:300])
        assert json.loads(body)["type"].endswith("/body-too-large")

    assert stack.interrupt() == 0
    assert "stopped" in stack.output
