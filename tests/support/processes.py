"""The three services as real processes, each killable with SIGKILL and restartable.

`Services` starts `python -m services.<name>` with its own port and the data directory
given (the embedded store, or `BDG_MONGODB_URL` when the tests run on a server), all on
one NATS; `kill(name)` sends SIGKILL, `start(name)` brings it back on the same port and
data. Output goes to a log file per service, shown when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.mongo import MongoBackend
from tests.support.nats import free_port

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("registry", "events", "reporting")
ADMIN_ID = "faults-admin"
ADMIN_SECRET = "faults-admin-secret-0123456789"


@dataclass
class Services:
    mongo: MongoBackend
    nats_url: str
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=lambda: {n: free_port() for n in NAMES})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BDG_DATA_DIR": str(self.data_dir),
            "BDG_NATS_URL": self.nats_url,
            "BDG_JWKS_URL": f"{self.url('registry')}/.well-known/jwks.json",
            "BDG_ADMIN_CLIENT_ID": ADMIN_ID,
            "BDG_ADMIN_CLIENT_SECRET": ADMIN_SECRET,
            "BDG_REGISTRY_REFERENCE_PROVINCES": "20",
            "BDG_SIGNING_KEY_PASSPHRASE": "faults-signing-key-passphrase",
            "BDG_LOG_LEVEL": "WARNING",
            "BDG_RATE_LIMIT_PER_SECOND": "100000",
            "BDG_RATE_LIMIT_BURST": "100000",
            **{f"BDG_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            **self.extra_env,
        }
        env.pop("BDG_MONGODB_URL", None)
        if self.mongo.url is not None:
            env["BDG_MONGODB_URL"] = self.mongo.url
            for name in NAMES:
                env[f"BDG_{name.upper()}_DATABASE"] = f"faults_{name}_{self.ports['registry']}"
        return env

    def start(self, name: str) -> None:
        log = (self.data_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{self.log(name)}")
            try:
                if httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} not ready after {timeout} s:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
