"""Which MongoDB the tests run on, in the order the design asks for.

1. `BDG_TEST_MONGODB_URL`, when set;
2. a testcontainers MongoDB (single-node replica set), when a Docker engine answers
   within a second;
3. otherwise the embedded store (shared/embedded), its files in a directory made for
   the test session (each app has its own database name, so its own file).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MongoBackend:
    kind: str
    url: str | None
    # The embedded store's data directory (BDG_DATA_DIR) when there is no server.
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bdg-store-")))
    _container: Any = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        return self.url is None

    def describe(self) -> str:
        if self.url is None:
            return f"MongoDB for tests: the EMBEDDED store (SQLite files in {self.data_dir})"
        return f"MongoDB for tests: {self.kind} at {self.url}"

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _docker_answers(timeout: float = 1.0) -> bool:
    """Whether a Docker engine answers `GET /_ping` within `timeout` seconds."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = host.removeprefix("unix://")
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (name, int(port or 2375))
        else:
            return False
    except (OSError, ValueError):
        return False
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
            return reply.startswith(b"HTTP/1.") and b" 200 " in reply
        except OSError:
            return False


def _replica_set_container() -> MongoBackend:
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer("mongo:7")
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
    )
    container.start()
    initiate = (
        "try { rs.status().ok } catch (e) { "
        "rs.initiate({_id: 'rs0', members: [{_id: 0, host: '127.0.0.1:27017'}]}).ok }"
    )
    deadline = time.monotonic() + 60
    while True:
        code, _ = container.exec(["mongosh", "--quiet", "--eval", initiate])
        primary, _ = container.exec(
            ["mongosh", "--quiet", "--eval", "quit(db.hello().isWritablePrimary ? 0 : 1)"]
        )
        if code == 0 and primary == 0:
            break
        if time.monotonic() > deadline:
            container.stop()
            raise RuntimeError("the MongoDB test container did not become primary")
        time.sleep(0.5)
    host = container.get_container_host_ip()
    port = container.get_exposed_port(27017)
    url = f"mongodb://{host}:{port}/?replicaSet=rs0&directConnection=true"
    return MongoBackend(kind="testcontainers mongo:7 replica set", url=url, _container=container)


def choose_backend() -> MongoBackend:
    url = os.environ.get("BDG_TEST_MONGODB_URL")
    if url:
        return MongoBackend(kind="server from BDG_TEST_MONGODB_URL", url=url)
    if _docker_answers():
        return _replica_set_container()
    return MongoBackend(kind="embedded", url=None)
