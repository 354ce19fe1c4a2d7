"""Reporting benchmark: indicator query time over many facts, and end-to-end freshness.

    .venv/bin/python bench/query_bench.py [--facts N] [--queries Q] [--seconds S] [--rate R]

It runs once per engine and prints them side by side: the embedded store (always,
100,000 facts by default) and MongoDB when `BDG_MONGODB_URL` is set (1,000,000). NATS
is a real `nats-server` started here on a free loopback port. The reporting service
runs in this process (its lifespan, consumers and HTTP app; queries go through the
ASGI app, without a network hop). It trusts a signing key made up for the run, and
queries carry a token signed with it for a national viewer (as a national dashboard
would), so token checks and scope checks are part of every measured query; the
per-client rate limit is lifted.

1. Freshness under a steady load: for S seconds, R activity events per second are
   published to the ACTIVITIES stream (as the events service publishes an accepted
   PUT); every tenth one is followed: from its publish being acknowledged to the moment
   an indicator query over HTTP shows it. Prints p50/p95.
2. Loading: N activities spread over 63 provinces and 2019-2024 are applied through the
   projection (facts and cells, in batches of 1,000, as the consumer applies them).
3. Query time: Q indicator queries for a province and a year (by sex, and by child
   unit) and for the nation (by sex). Prints p50/p95, and the documents read per query:
   rows the embedded store read, or MongoDB's `scannedObjects`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import nats  # noqa: E402

from services.reporting.config import ReportingSettings  # noqa: E402
from services.reporting.main import create_app  # noqa: E402
from services.reporting.service import ReportingService  # noqa: E402
from shared.auth import SigningKey, issue_token, public_jwks  # noqa: E402
from shared.broker import MSG_ID_HEADER  # noqa: E402
from shared.contracts import (  # noqa: E402
    ACTIVITY_RECORDED,
    ActivityState,
    CloudEvent,
)
from shared.embedded import operations as embedded_operations  # noqa: E402
from shared.units import unit_node  # noqa: E402
from tests.support.nats import NatsServer  # noqa: E402

TYPES = ("club_meeting", "communication_session", "training_course", "forum")


def national_units() -> list[dict[str, Any]]:
    """A tree shaped like the national one: 63 provinces x 11 districts x 14 communes
    (vn63), 34 provinces x 98 communes (vn34), each old commune going to one or two
    new ones."""
    units: list[dict[str, Any]] = [
        {"id": "vn", "edition": "vn", "code": "vn", "name": "Việt Nam", "level": "nation",
         "parent_id": None, "successors": []}
    ]  # fmt: skip
    new_communes: list[str] = []
    for p in range(34):
        units.append({"id": f"vn34:{p:02d}", "edition": "vn34", "code": f"{p:02d}",
                      "name": f"Tỉnh {p}", "level": "province", "parent_id": "vn",
                      "valid_from": "2025-07-01", "successors": []})  # fmt: skip
        for c in range(98):
            code = f"{p * 98 + c:05d}"
            new_communes.append(f"vn34:{code}")
            units.append({"id": f"vn34:{code}", "edition": "vn34", "code": code,
                          "name": f"Xã {code}", "level": "commune",
                          "parent_id": f"vn34:{p:02d}", "valid_from": "2025-07-01",
                          "successors": []})  # fmt: skip
    number = 0
    for p in range(63):
        province = f"vn63:{p + 10:02d}"
        units.append(
            {
                "id": province,
                "edition": "vn63",
                "code": province[5:],
                "name": f"Tỉnh {p}",
                "level": "province",
                "parent_id": "vn",
                "valid_to": "2025-06-30",
                "successors": [{"unit_id": f"vn34:{p % 34:02d}", "share": 1.0}],
            }
        )
        for d in range(11):
            district = f"vn63:{100 + p * 11 + d:03d}"
            units.append(
                {
                    "id": district,
                    "edition": "vn63",
                    "code": district[5:],
                    "name": f"Huyện {d}",
                    "level": "district",
                    "parent_id": province,
                    "valid_to": "2025-06-30",
                    "successors": [],
                }
            )
            for _ in range(14):
                code = f"{number:05d}"
                first = new_communes[number % len(new_communes)]
                second = new_communes[(number + 1) % len(new_communes)]
                successors = (
                    [{"unit_id": first, "share": 0.6}, {"unit_id": second, "share": 0.4}]
                    if number % 10 == 0
                    else [{"unit_id": first, "share": 1.0}]
                )
                units.append(
                    {
                        "id": f"vn63:{code}",
                        "edition": "vn63",
                        "code": code,
                        "name": f"Xã {code}",
                        "level": "commune",
                        "parent_id": district,
                        "valid_to": "2025-06-30",
                        "successors": successors,
                    }
                )
                number += 1  # fmt: skip
    return units


def activity(unit_id: str, day: str, rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    kind = kind or rng.choice(TYPES)
    body: dict[str, Any] = {
        "type": kind, "programme": "P8", "unit_id": unit_id, "title": "bench",
        "started_on": day, "ended_on": day,
        "participants": {"female": rng.randint(0, 40), "male": rng.randint(0, 40)},
    }  # fmt: skip
    if kind == "club_meeting":
        body["club_id"] = "club-bench"
    if kind == "training_course":
        body.update(sessions=1, duration_days=1.0)
    return body


def state(unit_id: str, day: str, rng: random.Random, kind: str | None = None) -> ActivityState:
    return ActivityState.model_validate(
        {"id": uuid.uuid4().hex, "source_system": "bench", "external_id": uuid.uuid4().hex,
         "version": 1, "province_id": unit_id[:7], "activity": activity(unit_id, day, rng, kind)}
    )  # fmt: skip


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    p50 = statistics.median(ordered)
    return f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(ordered)})"


async def follow(client: httpx.AsyncClient, count: int, accepted: float) -> float:
    """Seconds from `accepted` until the indicator shows at least `count` sessions."""
    while True:
        if await _sessions(client) >= count:
            return time.monotonic() - accepted
        await asyncio.sleep(0.005)


async def freshness(
    client: httpx.AsyncClient, nats_url: str, seconds: float, rate: float, rng: random.Random
) -> list[float]:
    """A steady load; every tenth event is followed in the background until visible."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    followers: list[asyncio.Task[float]] = []
    published = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            tick = time.monotonic()
            data = state("vn63:00000", "2024-05-01", rng, "communication_session")
            event = CloudEvent.new(
                ACTIVITY_RECORDED,
                data,
                source=ACTIVITY_RECORDED.stream.source,
                subject=data.id,
                correlation_id=uuid.uuid4().hex,
            )
            await js.publish(ACTIVITY_RECORDED.subject, event.to_bytes(),
                             headers={MSG_ID_HEADER: event.id})  # fmt: skip
            published += 1
            if published % 10 == 1:
                followers.append(asyncio.create_task(follow(client, published, time.monotonic())))
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - tick)))
        return list(await asyncio.wait_for(asyncio.gather(*followers), timeout=120))
    finally:
        await nc.close()


async def _sessions(client: httpx.AsyncClient) -> int:
    response = await client.get(
        "/v1/indicators/communication_sessions/values",
        params={"unit_id": "vn63:00000", "period": "2024"},
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def load_facts(service: ReportingService, count: int, rng: random.Random) -> float:
    """Apply `count` activities through the projection, as the consumer would."""
    projection = service.generations.active
    communes = [u for u in projection.units.all() if u.level == "commune" and u.edition == "vn63"]
    started = time.monotonic()
    for first in range(0, count, 1000):
        events = []
        for _ in range(min(1000, count - first)):
            unit = rng.choice(communes).id
            day = f"{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            data = state(unit, day, rng)
            events.append(
                CloudEvent.new(
                    ACTIVITY_RECORDED,
                    data,
                    source=ACTIVITY_RECORDED.stream.source,
                    subject=data.id,
                    correlation_id="bench",
                )
            )
        await projection.apply_activities(events)
    return time.monotonic() - started


class Examined:
    """Documents the store read: the embedded store's rows, or MongoDB's scannedObjects."""

    def __init__(self, service: ReportingService) -> None:
        self._db = service.generations.active.models.db
        self.rows = 0
        original = embedded_operations.select

        def counting(*args: Any, **kwargs: Any) -> Any:
            found = original(*args, **kwargs)
            self.rows += len(found)
            return found

        embedded_operations.select = counting

    async def now(self, embedded: bool) -> int:
        if embedded:
            return self.rows
        status = await self._db.client.admin.command("serverStatus")
        return int(status["metrics"]["queryExecutor"]["scannedObjects"])


async def query_times(
    client: httpx.AsyncClient, queries: int, rng: random.Random, examined: Examined, embedded: bool
) -> tuple[dict[str, list[float]], dict[str, float]]:
    times: dict[str, list[float]] = {"province-year by sex": [], "province-year by child_unit": [],
                                     "nation-year by sex": []}  # fmt: skip
    read: dict[str, int] = dict.fromkeys(times, 0)
    for _ in range(queries):
        province = f"vn63:{rng.randint(10, 72):02d}"
        year = str(rng.randint(2019, 2024))
        for label, params in (
            ("province-year by sex", {"unit_id": province, "period": year, "by": "sex"}),
            ("province-year by child_unit", {"unit_id": province, "period": year,
                                             "by": "child_unit"}),
            ("nation-year by sex", {"unit_id": "vn", "period": year, "by": "sex"}),
        ):  # fmt: skip
            before = await examined.now(embedded)
            started = time.monotonic()
            response = await client.get("/v1/indicators/people_reached/values", params=params)
            times[label].append(time.monotonic() - started)
            read[label] += await examined.now(embedded) - before
            assert response.status_code == 200, response.text
    return times, {label: read[label] / queries for label in read}


async def run(engine: str, url: str | None, facts: int, args: argparse.Namespace) -> dict[str, str]:
    rng = random.Random(7)
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        server = NatsServer(Path(folder) / "js")
        server.start()
        settings = ReportingSettings(
            mongodb_url=url,
            data_dir=Path(folder) / "data",
            nats_url=server.url,
            log_json=False,
            log_level="WARNING",
            database=f"bench_reporting_{uuid.uuid4().hex[:8]}",
            rate_limit_per_second=1e6,
            rate_limit_burst=1e6,
        )
        key = SigningKey.generate()

        async def bench_jwks() -> dict[str, Any]:
            return public_jwks([key])

        token = issue_token(key, "bench-dashboard", ["viewer"], ["vn"], 24 * 3600)
        app = create_app(settings, jwks_source=bench_jwks)
        try:
            async with app.router.lifespan_context(app):
                await asyncio.wait_for(app.state.runtime.streams_ready.wait(), 10)
                service: ReportingService = app.state.service
                units = national_units()
                await service.generations.active.models.units.insert_many(
                    [{"_id": unit["id"], "revision": 1, **unit} for unit in units]
                )
                service.generations.active.units.put_many(
                    unit_node({"_id": u["id"], **u}) for u in units
                )
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport,
                    base_url="http://bench",
                    headers={"Authorization": f"Bearer {token}"},
                ) as client:
                    followed = await freshness(client, server.url, args.seconds, args.rate, rng)
                    found["freshness (publish acked -> visible)"] = percentiles(followed)
                    seconds = await load_facts(service, facts, rng)
                    total = await service.generations.active.models.count_facts()
                    found["facts"] = f"{total:,}"
                    found["loaded through the projection, facts/s"] = f"{facts / seconds:,.0f}"
                    examined = Examined(service)
                    times, read = await query_times(
                        client, args.queries, rng, examined, url is None
                    )
                    for label, samples in times.items():
                        found[f"query {label}"] = percentiles(samples)
                        found[f"  documents read per query ({label})"] = f"{read[label]:,.0f}"
        finally:
            server.stop()
    return found


async def main() -> None:
    url = os.environ.get("BDG_MONGODB_URL") or None
    parser = argparse.ArgumentParser(description="reporting query and freshness benchmark")
    parser.add_argument("--facts", type=int, default=None)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="activity events per second")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # FastStream's supervisor chatter
    engines: list[tuple[str, str | None, int]] = [("embedded", None, args.facts or 100_000)]
    if url:
        engines.append(("mongodb", url, args.facts or 1_000_000))
    results = {name: await run(name, address, facts, args) for name, address, facts in engines}
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}")
    labels = list(next(iter(results.values())))
    width = max(len(label) for label in labels)
    print(f"{'':{width}}  " + "  ".join(f"{name:>40}" for name in results))
    for label in labels:
        print(f"{label:{width}}  " + "  ".join(f"{r[label]:>40}" for r in results.values()))


if __name__ == "__main__":
    asyncio.run(main())
