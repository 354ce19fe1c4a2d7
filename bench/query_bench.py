"""Reporting benchmark: indicator query time over many facts, and end-to-end freshness.

    .venv/bin/python bench/query_bench.py [--facts N] [--queries Q] [--seconds S] [--rate R]

MongoDB is `BDG_MONGODB_URL` when set, else the in-process emulation (said in the
output; the emulation scans every document on every query and cannot hold a million
facts, so it runs with a smaller N by default). NATS is a real `nats-server` started
here on a free loopback port. The reporting service runs in this process (its lifespan,
consumers and HTTP app; queries go through the ASGI app, without a network hop). It
trusts a signing key made up for the run, and queries carry a token signed with it
for a national viewer (as a national dashboard would), so token checks and scope
checks are part of every measured query; the per-client rate limit is lifted.

1. Freshness under a steady load: for S seconds, R activity events per second are
   published to the ACTIVITIES stream (as the events service publishes an accepted
   PUT); every tenth one is followed: from its publish being acknowledged to the moment
   an indicator query over HTTP shows it. Prints p50/p95.
2. Query time: N facts spread over 63 provinces and 2019-2024 are written into the
   read model, then Q indicator queries for a province and a year (by sex, and by
   child unit) and for the nation are timed. Prints p50/p95.
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
from services.reporting.facts import fact_from_state  # noqa: E402
from services.reporting.main import create_app  # noqa: E402
from services.reporting.projection import unit_node  # noqa: E402
from services.reporting.service import ReportingService  # noqa: E402
from shared.auth import SigningKey, issue_token, public_jwks  # noqa: E402
from shared.broker import MSG_ID_HEADER  # noqa: E402
from shared.contracts import (  # noqa: E402
    ACTIVITY_RECORDED,
    ActivityState,
    CloudEvent,
)
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
    projection = service.generations.active
    communes = [u for u in projection.units.all() if u.level == "commune" and u.edition == "vn63"]
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    for _ in range(count):
        unit = rng.choice(communes).id
        day = f"{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        batch.append(fact_from_state(state(unit, day, rng), projection.units))
        if len(batch) == 10_000:
            await projection.models.facts.insert_many(batch)
            batch = []
    if batch:
        await projection.models.facts.insert_many(batch)
    return time.monotonic() - started


async def query_times(
    client: httpx.AsyncClient, queries: int, rng: random.Random
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"province-year by sex": [], "province-year by child_unit": [],
                                     "nation-year by sex": []}  # fmt: skip
    for _ in range(queries):
        province = f"vn63:{rng.randint(10, 72):02d}"
        year = str(rng.randint(2019, 2024))
        for label, params in (
            ("province-year by sex", {"unit_id": province, "period": year, "by": "sex"}),
            ("province-year by child_unit", {"unit_id": province, "period": year,
                                             "by": "child_unit"}),
            ("nation-year by sex", {"unit_id": "vn", "period": year, "by": "sex"}),
        ):  # fmt: skip
            started = time.monotonic()
            response = await client.get("/v1/indicators/people_reached/values", params=params)
            times[label].append(time.monotonic() - started)
            assert response.status_code == 200, response.text
    return times


async def main() -> None:
    url = os.environ.get("BDG_MONGODB_URL") or None
    parser = argparse.ArgumentParser(description="reporting query and freshness benchmark")
    parser.add_argument("--facts", type=int, default=1_000_000 if url else 3_000)
    parser.add_argument("--queries", type=int, default=30 if url else 5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="activity events per second")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # FastStream's supervisor chatter
    rng = random.Random(7)
    kind = f"MongoDB server at {url}" if url else "in-process EMULATION (pymongo-async-mock)"
    print(f"MongoDB: {kind}")
    if not url:
        print("note: the emulation scans every document per query; N is reduced accordingly")
    with tempfile.TemporaryDirectory() as folder:
        server = NatsServer(Path(folder) / "js")
        server.start()
        settings = ReportingSettings(
            mongodb_url=url,
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
                    print(f"freshness (publish acked -> visible in an indicator query) at "
                          f"{args.rate:.0f} events/s for {args.seconds:.0f} s: "
                          f"{percentiles(followed)}")  # fmt: skip
                    seconds = await load_facts(service, args.facts, rng)
                    total = await service.generations.active.models.count_facts()
                    print(f"loaded {args.facts:,} facts in {seconds:.1f} s ({total:,} in the "
                          f"read model)")  # fmt: skip
                    for label, samples in (await query_times(client, args.queries, rng)).items():
                        print(f"query {label}: {percentiles(samples)}")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
