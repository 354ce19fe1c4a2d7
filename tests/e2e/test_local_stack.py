"""`make up`'s launcher: NATS and the three services as processes, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mongo import MongoBackend
from tests.support.nats import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


class Stack:
    def __init__(self, process: subprocess.Popen[str], ports: dict[str, int]) -> None:
        self.process = process
        self.ports = ports
        self.output: list[str] = []
        self.token: str | None = None

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def call(self, method: str, service: str, path: str, body: Any | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url(service, path),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def printed_token(self) -> str:
        for line in self.output:
            if line.startswith("export BDG_TOKEN="):
                return line.removeprefix("export BDG_TOKEN=").strip()
        raise AssertionError("no ready-to-paste token printed")

    def wait_for_line(self, needle: str, timeout: float) -> float:
        started = time.monotonic()
        assert self.process.stdout is not None
        while time.monotonic() - started < timeout:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.output.append(line)
            if needle in line:
                return time.monotonic() - started
        raise AssertionError(f"{needle!r} not printed; output:\n{''.join(self.output)}")


@pytest.fixture
def stack(mongo: MongoBackend, tmp_path: Path) -> Iterator[Stack]:
    ports = {
        "nats": free_port(),
        "registry": free_port(),
        "events": free_port(),
        "reporting": free_port(),
    }
    env = {
        **os.environ,
        "BDG_DATA_DIR": str(tmp_path),
        "BDG_NATS_PORT": str(ports["nats"]),
        "BDG_REGISTRY_PORT": str(ports["registry"]),
        "BDG_EVENTS_PORT": str(ports["events"]),
        "BDG_REPORTING_PORT": str(ports["reporting"]),
        "BDG_LOG_LEVEL": "WARNING",
        "BDG_ADMIN_CLIENT_ID": "e2e-admin",
        "BDG_ADMIN_CLIENT_SECRET": "e2e-admin-secret-0123456789",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("BDG_MONGODB_URL", None)
    if mongo.url is not None:
        env["BDG_MONGODB_URL"] = mongo.url
        suffix = str(ports["registry"])
        for service in ("REGISTRY", "EVENTS", "REPORTING"):
            env[f"BDG_{service}_DATABASE"] = f"e2e_{service.lower()}_{suffix}"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "run_local.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Stack(process, ports)
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def test_stack_starts_carries_a_programme_to_reporting_and_stops_on_ctrl_c(stack: Stack) -> None:
    seconds = stack.wait_for_line("press Ctrl-C to stop", timeout=120)
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

    stack.process.send_signal(signal.SIGINT)
    stack.wait_for_line("stopped", timeout=40)
    assert stack.process.wait(timeout=10) == 0
