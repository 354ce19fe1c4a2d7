"""`make up`'s launcher run as a process: NATS and the three services on free ports.

Its output goes to a file (a pipe nobody reads would fill and block the services).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.mongo import MongoBackend
from tests.support.nats import free_ports

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "press Ctrl-C to stop"


class Stack:
    def __init__(self, process: subprocess.Popen[bytes], ports: dict[str, int], log: Path) -> None:
        self.process = process
        self.ports = ports
        self.log = log
        self.token: str | None = None

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def url(self, service: str, path: str = "") -> str:
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
        for line in self.output.splitlines():
            if line.startswith("export BDG_TOKEN="):
                return line.removeprefix("export BDG_TOKEN=").strip()
        raise AssertionError("no ready-to-paste token printed")

    def wait_for_line(self, needle: str, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if needle in self.output:
                return time.monotonic() - started
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not printed; output:\n{self.output}")

    def interrupt(self) -> int:
        """Ctrl-C, as a person would; returns the launcher's exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@contextmanager
def local_stack(mongo: MongoBackend, data_dir: Path, **extra_env: str) -> Iterator[Stack]:
    # Room for a local cluster: NATS nodes on port + 1 and + 2, replicas on port + 10 k.
    ports = {"nats": free_ports((0, 1, 2))}
    for name in ("registry", "events", "reporting"):
        ports[name] = free_ports((0, 10, 20))
    env = {
        **os.environ,
        "BDG_DATA_DIR": str(data_dir),
        "BDG_NATS_PORT": str(ports["nats"]),
        "BDG_REGISTRY_PORT": str(ports["registry"]),
        "BDG_EVENTS_PORT": str(ports["events"]),
        "BDG_REPORTING_PORT": str(ports["reporting"]),
        "BDG_LOG_LEVEL": "WARNING",
        "BDG_ADMIN_CLIENT_ID": "e2e-admin",
        "BDG_ADMIN_CLIENT_SECRET": "e2e-admin-secret-0123456789",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    env.pop("BDG_MONGODB_URL", None)
    if mongo.url is not None:
        env["BDG_MONGODB_URL"] = mongo.url
        suffix = str(ports["registry"])
        for service in ("REGISTRY", "EVENTS", "REPORTING"):
            env[f"BDG_{service}_DATABASE"] = f"e2e_{service.lower()}_{suffix}"
    log = data_dir / "stack.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "run_local.py")],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    stack = Stack(process, ports, log)
    try:
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
