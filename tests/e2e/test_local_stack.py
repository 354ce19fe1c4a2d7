"""`make up`'s launcher: NATS and the three services as processes, end to end: start,
Ctrl-C, start again on the same data, a service killed with SIGKILL (the local cluster:
test_cluster_under_faults.py)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mongo import MongoBackend
from tests.support.nats import free_port
from tests.support.stack import READY_LINE, Stack, local_stack

pytestmark = pytest.mark.e2e


def quiet_ports() -> dict[str, str]:
    """NATS monitoring on a free port too (by default it is the client port + 4000)."""
    return {"BDG_NATS_MONITOR_PORT": str(free_port())}


@pytest.fixture
def stack(mongo: MongoBackend, tmp_path: Path) -> Iterator[Stack]:
    with local_stack(mongo, tmp_path, **quiet_ports()) as running:
        yield running


def children(launcher_pid: int) -> dict[str, int]:
    """The launcher's service processes: `registry`, `events`, … → pid."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent.split()[1]) == launcher_pid and b"-m" in command:
            module = command[command.index(b"-m") + 1].decode()
            found[module.removeprefix("services.")] = int(entry.name)
    return found


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s")
        time.sleep(0.1)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


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


def test_a_killed_service_is_started_again_and_the_others_keep_running(stack: Stack) -> None:
    stack.wait_for_line(READY_LINE, timeout=120)
    stack.token = stack.printed_token()
    before = children(stack.process.pid)
    assert set(before) == {"registry", "events", "reporting"}
    os.kill(before["events"], signal.SIGKILL)
    stack.wait_for_line(f"events-1 (pid {before['events']}) stopped: killed by SIGKILL", 10)
    stack.wait_for_line("events-1 started again", 10)
    wait_until(lambda: ready(stack.url("events")), 60, "events ready again")
    after = children(stack.process.pid)
    assert after["events"] != before["events"]
    # The healthy ones were not touched.
    assert (after["registry"], after["reporting"]) == (before["registry"], before["reporting"])
    # What was written before is served by the new process (kept in the data folder).
    assert stack.call("GET", "events", "/v1/activities?limit=1")["items"]
    assert stack.interrupt() == 0
    assert children(stack.process.pid) == {}


def test_a_second_start_keeps_data_admin_client_tokens_and_skips_the_demo_data(
    mongo: MongoBackend, tmp_path: Path
) -> None:
    generated = {"BDG_ADMIN_CLIENT_ID": "", "BDG_ADMIN_CLIENT_SECRET": ""}
    stack_file = tmp_path / "stack.json"
    with local_stack(mongo, tmp_path, **generated, **quiet_ports()) as first:
        first.wait_for_line(READY_LINE, timeout=120)
        assert "demo data loaded" in first.output
        listed = json.loads(stack_file.read_text())
        assert listed == {
            "nats": [f"nats://127.0.0.1:{first.ports['nats']}"],
            "services": {name: [first.url(name)] for name in ("registry", "events", "reporting")},
        }
        first.token = first.printed_token()
        first.call("PUT", "registry", "/v1/programmes/KEPT", {"name": "Kept", "name_vi": "Giữ"})
        secret = (tmp_path / "secrets" / "admin-client-secret").read_text()
        assert f"BDG_ADMIN_CLIENT_SECRET={secret}" in first.output
        assert first.interrupt() == 0
    assert not stack_file.exists(), "stack.json must not outlive the stack"

    with local_stack(mongo, tmp_path, **generated, **quiet_ports()) as second:
        second.wait_for_line(READY_LINE, timeout=120)
        assert "demo data: already there" in second.output
        assert f"BDG_ADMIN_CLIENT_SECRET={secret}" in second.output
        # The first run's token still verifies, and its write is still there.
        second.token = first.token
        codes = [item["code"] for item in second.call("GET", "registry", "/v1/programmes")["items"]]
        assert "KEPT" in codes
        assert second.interrupt() == 0
