"""The local cluster under faults, driven from outside through the HTTP APIs.

`make up`'s launcher runs two replicas of each service on a three-node JetStream
cluster (`BDG_REPLICAS=2 BDG_NATS_NODES=3`). A province's system writes activities one
by one, spread over both events replicas, retrying what is not answered (on the other
replica, as a proxy would). Meanwhile a rebuild of reporting is requested, one NATS
node is killed with SIGKILL and so is the reporting replica doing the projection, in
the middle of that rebuild; the launcher starts both again and the other replica runs
the rebuild again from the start. Every write must be accepted, every live reporting replica
must then give the same figures with each activity counted exactly once, and the
rebuild must have finished. Last, a village added through registry replica 2 is known
to both events replicas within seconds (the time is printed).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.events_support.activities import communication_session
from tests.support.apps import eventually
from tests.support.mongo import MongoBackend
from tests.support.nats import free_port
from tests.support.stack import READY_LINE, local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

WRITES = 240
KILL_NATS_AT, REBUILD_AT, KILL_REPORTING_AT = 40, 80, 120
FIGURES = (
    "/v1/indicators/communication_sessions/values?unit_id=vn&period=2023",
    "/v1/indicators/people_reached/values?unit_id=vn&period=2023&by=sex",
)
COMMUNE = "vn63:06433"
# A village added through one registry replica is known to every events replica within
# this time (the outbox relay passes every BDG_OUTBOX_POLL_SECONDS, 0.5 s by default).
VILLAGE_SECONDS = 5.0


def launched_by(launcher: int, match: Callable[[list[bytes], dict[bytes, bytes]], bool]) -> int:
    """The pid of the launcher's child that `match(argv, environment)` picks."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            pairs = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        environment = dict(pair.partition(b"=")[::2] for pair in pairs if pair)
        if int(parent.split()[1]) == launcher and match(argv, environment):
            return int(entry.name)
    raise AssertionError("no such child of the launcher")


class Writer:
    """Writes activities one by one, alternating replicas; a write not answered, or
    answered 429/503, is tried again on the next replica until it is accepted."""

    def __init__(self, replicas: list[str], token: str) -> None:
        self.clients = [
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            for url in replicas
        ]
        self.accepted: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.served_by: Counter[int] = Counter()

    async def write(self, number: int) -> None:
        key = f"CLUSTER-{number:04d}"
        day = f"2023-{number % 12 + 1:02d}-{number % 28 + 1:02d}"
        body = communication_session(
            unit_id=COMMUNE,
            started_on=day,
            ended_on=day,
            title=f"Buổi {number}",
            participants={"female": number % 7 + 1, "male": number % 5, "ethnic_minority": 1},
            roles={"student": 1},
        )
        for attempt in range(200):
            replica = (number + attempt) % len(self.clients)
            try:
                response = await self.clients[replica].put(
                    f"/v1/activities/cluster/{key}", json=body
                )
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            self.statuses[response.status_code] += 1
            if response.status_code in (200, 201):
                self.accepted.append(key)
                self.served_by[replica] += 1
                return
            assert response.status_code in (429, 503), response.text
            await asyncio.sleep(min(float(response.headers.get("Retry-After", "0.5")), 1.0))
        raise AssertionError(f"{key} never accepted")

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def test_two_replicas_each_keep_every_figure_through_a_node_and_a_replica_killed(
    mongo: MongoBackend, tmp_path: Path
) -> None:
    env = {
        "BDG_REPLICAS": "2",
        "BDG_NATS_NODES": "3",
        "BDG_DEMO_DATA": "0",
        "BDG_NATS_ROUTE_PORT": str(free_port()),
        "BDG_NATS_MONITOR_PORT": str(free_port()),
    }
    with local_stack(mongo, tmp_path, **env) as cluster:
        cluster.wait_for_line(READY_LINE, timeout=180)
        listed = json.loads((tmp_path / "stack.json").read_text())
        nats_port = cluster.ports["nats"]
        assert listed["nats"] == [f"nats://127.0.0.1:{nats_port + k}" for k in range(3)]
        for name in ("registry", "events", "reporting"):
            base = cluster.ports[name]
            assert listed["services"][name] == [
                f"http://127.0.0.1:{base}",
                f"http://127.0.0.1:{base + 10}",
            ]
        services: dict[str, list[str]] = listed["services"]
        asyncio.run(_scenario(cluster.process.pid, services, tmp_path, cluster.printed_token()))
        assert cluster.interrupt() == 0


async def _scenario(launcher: int, services: dict[str, list[str]], data: Path, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    reporting = [
        httpx.AsyncClient(base_url=u, headers=headers, timeout=10) for u in services["reporting"]
    ]
    writer = Writer(services["events"], token)

    async def status(replica: int) -> dict[str, Any] | None:
        try:
            response = await reporting[replica].get("/v1/status")
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    async def units_known() -> bool:
        for replica in range(2):
            found = await status(replica)
            if found is None:
                return False
            registry = next(s for s in found["streams"] if s["stream"] == "REGISTRY")
            if registry["pending"] != 0 or registry["last_sequence"] == 0:
                return False
        return True

    await eventually(units_known, timeout=120)

    async def commune_known(replica: int) -> bool:
        """A first activity (in another year) is recorded by this events replica."""
        body = communication_session(
            unit_id=COMMUNE, started_on="2022-05-02", ended_on="2022-05-02"
        )
        try:
            response = await writer.clients[replica].put(
                f"/v1/activities/cluster/WARM-UP-{replica}", json=body
            )
        except httpx.TransportError:
            return False
        return response.status_code in (200, 201)

    for replica in range(2):
        await eventually(lambda replica=replica: commune_known(replica), timeout=120, interval=0.5)

    async def projecting() -> tuple[int, str] | None:
        """Which replica holds the projection's lease, and the generation it serves."""
        for replica in range(2):
            found = await status(replica)
            if found is not None and found["leases"].get("projection"):
                return replica, found["generation"]
        return None

    (holder, before), _ = await eventually(projecting, timeout=30)
    node_1 = str(data / "nats" / "node-1.conf").encode()
    try:
        for number in range(WRITES):
            if number == KILL_NATS_AT:
                os.kill(launched_by(launcher, lambda argv, _: node_1 in argv), signal.SIGKILL)
            if number == REBUILD_AT:
                started = await reporting[1 - holder].post("/v1/admin/rebuild")
                assert started.status_code == 202, started.text
            if number == KILL_REPORTING_AT:
                port = services["reporting"][holder].rsplit(":", 1)[1].encode()
                pid = launched_by(
                    launcher,
                    lambda argv, environ, port=port: (
                        b"services.reporting" in argv and environ.get(b"BDG_REPORTING_PORT") == port
                    ),
                )

                # Killed in the middle of a rebuild asked of the other replica: if the
                # one asked at REBUILD_AT is over already, another is asked.
                rebuild_when_killed = await _running_rebuild(
                    reporting[1 - holder], lambda holder=holder: status(holder)
                )
                os.kill(pid, signal.SIGKILL)
                killed_at = datetime.now(UTC)
            await writer.write(number)
        last_write = time.monotonic()
        assert sorted(writer.accepted) == sorted({f"CLUSTER-{n:04d}" for n in range(WRITES)})
        assert writer.statuses[401] == 0
        assert min(writer.served_by.values()) > WRITES // 4, writer.served_by

        last_seen: dict[int, Any] = {}

        async def settled() -> list[list[dict[str, Any]]] | None:
            """Both replicas' figures, once the rebuild is over and both count everything."""
            seen = []
            for replica in range(2):
                found = await status(replica)
                last_seen[replica] = found
                rebuild = (found or {}).get("rebuild") or {}
                if found is None or rebuild.get("status") != "completed":
                    return None
                if found["generation"] == before:
                    return None
                figures = []
                for path in FIGURES:
                    response = await reporting[replica].get(path)
                    last_seen[replica] = (found, response.status_code, response.text)
                    if response.status_code != 200:
                        return None
                    figures.append({k: v for k, v in response.json().items() if k != "as_of"})
                if figures[0]["total"] < WRITES:
                    return None
                seen.append(figures)
            return seen

        try:
            seen, _ = await eventually(settled, timeout=120, interval=0.5)
        except AssertionError as timeout:
            raise AssertionError(f"not settled; last seen: {last_seen}") from timeout
        print(
            f"\nsettled {time.monotonic() - last_write:.1f} s after the last write; rebuild "
            f"{rebuild_when_killed.get('status')} when its replica was killed; "
            f"answers {dict(writer.statuses)}"
        )
        finished = (await status(1 - holder) or {}).get("rebuild") or {}
        if datetime.fromisoformat(finished["finished_at"]) > killed_at:
            # It was still running when its replica died: the next holder ran it again.
            assert finished["restarts"] >= 1, ("started again after its replica died", finished)
        print(f"rebuild started again {finished['restarts']} time(s)")
        expected_people = sum(n % 7 + 1 + n % 5 for n in range(WRITES))
        for figures in seen:
            sessions, people = figures
            assert sessions["total"] == WRITES, "each write counted exactly once"
            assert people["total"] == expected_people
        assert seen[0] == seen[1], "both reporting replicas give the same figures"

        await _village_known_everywhere(services, headers)
    finally:
        await writer.close()
        for client in reporting:
            await client.aclose()


async def _running_rebuild(
    other: httpx.AsyncClient, holder_status: Callable[[], Awaitable[dict[str, Any] | None]]
) -> dict[str, Any]:
    """The rebuild state once the projecting replica shows one running; a rebuild found
    completed instead is asked for again (at most three times)."""
    seen: list[Any] = []
    for _ in range(3):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rebuild = ((await holder_status()) or {}).get("rebuild") or {}
            seen.append(rebuild.get("status"))
            if rebuild.get("status") == "running":
                return rebuild
            if rebuild.get("status") in ("completed", "failed"):
                break
            await asyncio.sleep(0.05)
        again = await other.post("/v1/admin/rebuild")
        assert again.status_code in (202, 409), again.text
    raise AssertionError(f"no rebuild seen running: {seen[-10:]}")


async def _village_known_everywhere(
    services: dict[str, list[str]], headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(
        base_url=services["registry"][1], headers=headers, timeout=10
    ) as registry:
        added = await registry.post(
            "/v1/units", json={"parent_id": COMMUNE, "code": "CL-02", "name": "Thôn Cụm Hai"}
        )
        assert added.status_code == 201, added.text
        village = added.json()["id"]
    # Known by both events replicas within seconds: an activity in it is recorded as
    # active (201). Until then it is refused as an unknown unit (422), which stores
    # nothing, so asking again is safe.
    added_at = time.monotonic()
    body = communication_session(unit_id=village, started_on="2024-03-08", ended_on="2024-03-08")
    for replica, url in enumerate(services["events"]):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as events:
            while True:
                response = await events.put(f"/v1/activities/cluster/VILLAGE-{replica}", json=body)
                if response.status_code != 422 or time.monotonic() - added_at > VILLAGE_SECONDS:
                    break
                await asyncio.sleep(0.1)
            print(
                f"village known by events replica {replica + 1} after "
                f"{time.monotonic() - added_at:.1f} s"
            )
            assert response.status_code == 201, (replica + 1, response.text)
            assert response.json()["status"] == "active"
