"""The events service refuses writes into periods the registry locked (both services in
the test process on one real NATS server; the registry on the Lạng Sơn and Hà Giang
slice of the national reference)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import nats
from fastapi import FastAPI

from services.registry.clubs import club_id_of
from tests.events_support.activities import (
    SOURCE,
    batch_item,
    club_meeting,
    communication_session,
)
from tests.registry_support.helpers import (
    DONG_TIEN,
    HUU_LUNG,
    VAN_NHAM,
    problem_type,
    reference_complete,
    sliced_registry,
)
from tests.support.apps import events_app, eventually, running, unique_database
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

# A ward of Thành phố Lạng Sơn, another district of the province.
HOANG_VAN_THU = "vn63:05971"
# Where Vân Nham and Đồng Tiến went on 2025-07-01 (vn63:06415 Minh Tiến went with Vân Nham).
VAN_NHAM_34 = "vn34:06415"
THIEN_TAN_34 = "vn34:06436"
MINH_TIEN = "vn63:06415"


@dataclass
class Services:
    registry: httpx.AsyncClient
    events: httpx.AsyncClient
    events_app: FastAPI


async def events_caught_up(events: httpx.AsyncClient) -> None:
    async def applied() -> bool:
        [registry] = [
            s
            for s in (await events.get("/v1/status")).json()["streams"]
            if s["stream"] == "REGISTRY"
        ]
        return bool(registry["last_sequence"] == registry["stream_last_sequence"] > 0)

    await eventually(applied, timeout=20.0)


@asynccontextmanager
async def services(
    mongo: MongoBackend, nats_url: str, databases: tuple[str, str] | None = None, **registry: Any
) -> AsyncIterator[Services]:
    """The registry (its reference published) and events (caught up with it), on these
    `(registry, events)` databases (default: new ones)."""
    registry_db, events_db = databases or (unique_database("reg"), unique_database("ev"))
    registry["database"] = registry_db
    events = events_app(mongo, nats_url, database=events_db)
    async with (
        running(sliced_registry(mongo, nats_url, **registry)) as reg,
        running(events) as ev,
    ):
        await reference_complete(reg)
        await events_caught_up(ev)
        yield Services(reg, ev, events)


def body(**changes: Any) -> dict[str, Any]:
    """A communication session; one day long unless `ended_on` is given."""
    if "started_on" in changes:
        changes.setdefault("ended_on", changes["started_on"])
    return communication_session(**changes)


async def put(
    events: httpx.AsyncClient,
    external_id: str,
    headers: dict[str, str] | None = None,
    **changes: Any,
) -> httpx.Response:
    path = f"/v1/activities/{SOURCE}/{external_id}"
    return await events.put(path, json=body(**changes), headers=headers)


def refused(response: httpx.Response, unit_id: str, period: str, programme: str = "P8") -> bool:
    """409 `period-locked`, naming the lock."""
    assert (response.status_code, problem_type(response)) == (409, "period-locked"), response.text
    lock = response.json()["lock"]
    assert (lock["programme"], lock["period"], lock["unit_id"]) == (programme, period, unit_id)
    assert lock["since"]
    assert lock["by"]
    return True


async def lock(
    registry: httpx.AsyncClient, programme: str, period: str, unit_id: str
) -> dict[str, Any]:
    response = await registry.put(
        f"/v1/locks/{programme}/{period}", json={"unit_id": unit_id, "reason": "Đã chốt số liệu"}
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def reopen(registry: httpx.AsyncClient, programme: str, period: str, unit_id: str) -> None:
    response = await registry.delete(
        f"/v1/locks/{programme}/{period}", params={"unit_id": unit_id, "reason": "Bổ sung"}
    )
    assert response.status_code == 200, response.text


async def activity_subjects(nats_url: str) -> list[str]:
    """The activity ids of every event on the ACTIVITIES stream, in order."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.pull_subscribe("bdg.activities.>", stream="ACTIVITIES")
        found: list[str] = []
        while True:
            try:
                batch = await subscription.fetch(1000, timeout=0.2)
            except TimeoutError:
                return found
            for message in batch:
                found.append(json.loads(message.data)["data"]["id"])
                await message.ack()
    finally:
        await connection.close()


async def test_writes_into_a_locked_period_are_refused_until_it_is_reopened(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with services(mongo, nats_server.url) as s:
        ev = s.events
        stored = await put(ev, "HL-1", started_on="2024-03-10")
        assert stored.status_code == 201, stored.text
        stored_id = stored.json()["id"]
        moved_in = await put(ev, "HL-2", started_on="2023-12-10")
        assert moved_in.status_code == 201
        village = {"parent_id": VAN_NHAM, "code": "T05", "name": "Thôn Đồng Tâm"}
        assert (await s.registry.post("/v1/units", json=village)).status_code == 201

        async def village_known() -> bool:
            earlier = await put(ev, "HL-V0", unit_id=f"{VAN_NHAM}.T05", started_on="2023-05-01")
            return earlier.status_code == 201

        await eventually(village_known, timeout=5.0)

        await lock(s.registry, "P8", "2024", HUU_LUNG)

        probes = iter(range(1_000_000))

        async def refusing() -> httpx.Response | None:
            # A new key each time: one written before the lock arrived stays written.
            probe = await put(ev, f"P-{next(probes)}", started_on="2024-05-01")
            return probe if probe.status_code == 409 else None

        first, _ = await eventually(refusing, timeout=5.0, interval=0.01)
        assert refused(first, HUU_LUNG, "2024")
        # Everything under the district, on any day of the year, every write path.
        sibling = await put(ev, "HL-NEW2", unit_id=DONG_TIEN, started_on="2024-01-01")
        assert refused(sibling, HUU_LUNG, "2024")
        new_in_village = await put(ev, "HL-V", unit_id=f"{VAN_NHAM}.T05", started_on="2024-12-31")
        assert refused(new_in_village, HUU_LUNG, "2024")
        revised = await put(ev, "HL-1", started_on="2024-03-10", title="Đổi tên")
        assert refused(revised, HUU_LUNG, "2024")
        assert revised.json()["lock"]["reason"] == "Đã chốt số liệu"
        # Moving the stored version out of the period is a write into it too, and so
        # is moving a version into it.
        moved_out = await put(ev, "HL-1", started_on="2023-12-01")
        assert refused(moved_out, HUU_LUNG, "2024")
        into = await put(ev, "HL-2", started_on="2024-01-02")
        assert refused(into, HUU_LUNG, "2024")
        void = await ev.request("DELETE", f"/v1/activities/{stored_id}", json={"reason": "trùng"})
        assert refused(void, HUU_LUNG, "2024")
        void_by_key = await ev.request(
            "DELETE", f"/v1/activities/{SOURCE}/HL-1", json={"reason": "trùng"}
        )
        assert refused(void_by_key, HUU_LUNG, "2024")
        in_vietnamese = await put(
            ev, "HL-NEW", headers={"Accept-Language": "vi"}, started_on="2024-05-01"
        )
        assert "đã bị khóa" in in_vietnamese.json()["detail"]
        # An identical resend changes nothing, so it stays a 200.
        same = await put(ev, "HL-1", started_on="2024-03-10")
        assert (same.status_code, same.json().get("version")) == (200, 1), same.text

        # Batch: the locked item is rejected, the others go on.
        batch = await ev.post(
            "/v1/activities:batch",
            json=[
                batch_item("B-LOCKED", body(started_on="2024-06-01")),
                batch_item("B-FREE", body(started_on="2023-06-01")),
            ],
        )
        results = batch.json()["results"]
        assert [r["status"] for r in results] == ["rejected", "created"], batch.text
        problem = results[0]["problem"]
        assert problem["type"].endswith("/period-locked")
        assert problem["status"] == 409
        assert (problem["lock"]["unit_id"], problem["lock"]["period"]) == (HUU_LUNG, "2024")
        # An upload: the row in the locked period is rejected like a faulty one.
        csv = (
            "Hệ thống nguồn,Mã bản ghi,Mã chương trình,Mã đơn vị hành chính,Tên hoạt động,"
            "Ngày bắt đầu,Ngày kết thúc,Số nữ tham gia,Số nam tham gia\n"
            f"{SOURCE},U-LOCKED,P8,{VAN_NHAM},Tuyên truyền,2024-02-01,2024-02-01,3,2\n"
            f"{SOURCE},U-FREE,P8,{VAN_NHAM},Tuyên truyền,2023-02-01,2023-02-01,3,2\n"
        )
        upload = await ev.post(
            "/v1/imports/activities",
            params={"type": "communication_session", "partial": "true"},
            files={"file": ("tt.csv", csv.encode(), "text/csv")},
        )
        rows = {row["external_id"]: row for row in upload.json()["rows"]}
        assert rows["U-LOCKED"]["status"] == "rejected", upload.text
        assert rows["U-LOCKED"]["problem"]["type"].endswith("/period-locked")
        assert rows["U-FREE"]["status"] == "created"

        # Outside the lock: another programme, another period, another district.
        assert (await put(ev, "O-1", programme="SFES", started_on="2024-05-01")).status_code == 201
        assert (await put(ev, "O-2", started_on="2025-01-15")).status_code == 201
        assert (
            await put(ev, "O-3", unit_id=HOANG_VAN_THU, started_on="2024-05-01")
        ).status_code == 201

        # Nothing of the refused writes was stored.
        for external_id in ("HL-NEW", "HL-NEW2", "HL-V", "B-LOCKED", "U-LOCKED"):
            missing = await ev.get(f"/v1/activities/{SOURCE}/{external_id}")
            assert missing.status_code == 404, external_id
        held = (await ev.get(f"/v1/activities/{stored_id}")).json()
        assert (held["version"], held["status"]) == (1, "active")
        assert held["activity"]["title"] == communication_session()["title"]
        second = (await ev.get(f"/v1/activities/{SOURCE}/HL-2")).json()
        assert (second["version"], second["activity"]["started_on"]) == (1, "2023-12-10")

        # Reopened: the same writes go in.
        await reopen(s.registry, "P8", "2024", HUU_LUNG)

        async def accepting() -> httpx.Response | None:
            probe = await put(ev, "HL-NEW", started_on="2024-05-01")
            return probe if probe.status_code == 201 else None

        await eventually(accepting, timeout=5.0, interval=0.01)
        renamed = await put(ev, "HL-1", started_on="2024-03-10", title="Đổi tên")
        assert (renamed.status_code, renamed.json()["version"]) == (200, 2)
        void = await ev.request("DELETE", f"/v1/activities/{stored_id}", json={"reason": "trùng"})
        assert (void.status_code, void.json()["status"]) == (200, "voided")

        # Published: what was accepted, nothing of what was refused (the last write,
        # the void, is the sentinel: every event before it is on the stream then).
        async def voided_out() -> list[str] | None:
            ids = await activity_subjects(nats_server.url)
            return ids if ids and ids[-1] == stored_id and ids.count(stored_id) == 3 else None

        published, _ = await eventually(voided_out, timeout=5.0)
        refused_ids = {
            (await ev.get(f"/v1/activities/{SOURCE}/{k}")).json().get("id")
            for k in ("HL-V", "B-LOCKED", "U-LOCKED")
        }
        assert not refused_ids & set(published)


async def test_locks_reach_across_the_reorganisation(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with services(mongo, nats_server.url) as s:
        ev = s.events
        after = {"started_on": "2025-08-01"}
        before = {"started_on": "2025-03-01"}
        # A vn63 commune's lock covers the vn34 commune it went into, from 2025-07-01.
        await lock(s.registry, "P8", "2025", VAN_NHAM)
        # A vn34 commune's lock covers the vn63 communes it was formed from, before.
        await lock(s.registry, "SFES", "2025", VAN_NHAM_34)

        probes = iter(range(1_000_000))

        async def refusing() -> httpx.Response | None:
            probe = await put(ev, f"X-{next(probes)}", unit_id=VAN_NHAM_34, **after)
            return probe if probe.status_code == 409 else None

        first, _ = await eventually(refusing, timeout=5.0, interval=0.01)
        assert refused(first, VAN_NHAM, "2025")
        assert refused(await put(ev, "X-63", unit_id=VAN_NHAM, **before), VAN_NHAM, "2025")
        sfes = {"programme": "SFES"}

        async def refusing_sfes() -> httpx.Response | None:
            probe = await put(ev, f"Y-{next(probes)}", unit_id=VAN_NHAM_34, **after, **sfes)
            return probe if probe.status_code == 409 else None

        second, _ = await eventually(refusing_sfes, timeout=5.0, interval=0.01)
        assert refused(second, VAN_NHAM_34, "2025", "SFES")
        assert refused(
            await put(ev, "S-63", unit_id=VAN_NHAM, **before, **sfes), VAN_NHAM_34, "2025", "SFES"
        )
        # Minh Tiến went into the same vn34 commune: covered too.
        assert refused(
            await put(ev, "S-MT", unit_id=MINH_TIEN, **before, **sfes), VAN_NHAM_34, "2025", "SFES"
        )
        assert refused(
            await put(ev, "S-34", unit_id=VAN_NHAM_34, **after, **sfes), VAN_NHAM_34, "2025", "SFES"
        )
        # Đồng Tiến went elsewhere (Thiện Tân): neither lock covers it.
        assert (await put(ev, "F-1", unit_id=THIEN_TAN_34, **after)).status_code == 201
        assert (await put(ev, "F-2", unit_id=DONG_TIEN, **before, **sfes)).status_code == 201
        assert (await put(ev, "F-3", unit_id=MINH_TIEN, **before)).status_code == 201


async def test_a_lock_reaches_the_events_service_well_under_a_second(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    # The outbox relay polls every 2 s here: a lock must not wait for it (the registry
    # answers once the lock is published, so the first write after it is refused).
    async with services(mongo, nats_server.url, outbox_poll_seconds=2.0) as s:
        timings: list[float] = []
        attempts: list[int] = []
        for attempt in range(3):
            period = f"202{attempt}"
            day = {"started_on": f"{period}-05-01"}
            await lock(s.registry, "P8", period, VAN_NHAM)
            started = time.monotonic()
            probes = 0

            async def refusing(day: dict[str, str] = day, period: str = period) -> bool:
                nonlocal probes
                probes += 1
                probe = await put(s.events, f"T-{period}-{probes}", **day)
                return probe.status_code == 409

            await eventually(refusing, timeout=5.0, interval=0.005)
            timings.append(time.monotonic() - started)
            attempts.append(probes)
        print(
            f"lock → refused in {', '.join(f'{t * 1000:.0f} ms' for t in timings)}; "
            f"writes until refused: {attempts}"
        )
        assert max(timings) < 0.5, timings


async def test_an_activity_resolved_into_a_period_locked_meanwhile_is_rejected(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with services(mongo, nats_server.url) as s:
        club_id = club_id_of(SOURCE, "CLB-LATE")
        meeting = club_meeting(
            club_id, unit_id=VAN_NHAM, started_on="2024-03-05", ended_on="2024-03-05"
        )
        waiting = await s.events.put(
            f"/v1/activities/{SOURCE}/LATE-1", params={"allow_pending": "true"}, json=meeting
        )
        assert waiting.status_code == 202, waiting.text
        assert waiting.json()["status"] == "pending_reference"
        await lock(s.registry, "P8", "2024Q1", VAN_NHAM)
        club = {
            "name": "CLB Thủ lĩnh của sự thay đổi",
            "kind": "community",
            "unit_id": VAN_NHAM,
            "programme": "P8",
            "established_on": "2023-01-10",
        }
        registered = await s.registry.put(f"/v1/clubs/{SOURCE}/CLB-LATE", json=club)
        assert registered.status_code == 201, registered.text

        async def settled() -> dict[str, Any] | None:
            found = (await s.events.get(f"/v1/activities/{SOURCE}/LATE-1")).json()
            return found if found["status"] != "pending_reference" else None

        activity, _ = await eventually(settled, timeout=10.0)
        assert activity["status"] == "rejected"
        assert "2024Q1" in json.dumps(activity, ensure_ascii=False)
        # Meanwhile a club meeting outside the lock, with the same club, is taken.
        free = club_meeting(
            club_id, unit_id=VAN_NHAM, started_on="2024-04-05", ended_on="2024-04-05"
        )
        taken = await s.events.put(f"/v1/activities/{SOURCE}/LATE-2", json=free)
        assert (taken.status_code, taken.json()["status"]) == (201, "active")


async def test_approval_locks_are_enforced_and_survive_a_restart(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    databases = (unique_database("reg"), unique_database("ev"))
    path = "/v1/approvals/P8/2024Q4"
    in_quarter = {"started_on": "2024-11-20"}
    async with services(mongo, nats_server.url, databases) as s:
        for action in ("submit", "approve"):
            step = await s.registry.post(path, json={"unit_id": VAN_NHAM, "action": action})
            assert step.status_code == 200, step.text

        probes = iter(range(1_000_000))

        async def refusing() -> httpx.Response | None:
            probe = await put(s.events, f"A-P{next(probes)}", **in_quarter)
            return probe if probe.status_code == 409 else None

        first, _ = await eventually(refusing, timeout=5.0, interval=0.01)
        assert refused(first, VAN_NHAM, "2024Q4")
        assert first.json()["lock"]["origin"] == "approval"
        # The district is not approved: its other communes take writes.
        assert (await put(s.events, "A-2", unit_id=DONG_TIEN, **in_quarter)).status_code == 201

    # Restarted with NATS out of reach: the locks come from its own database.
    restarted = events_app(mongo, "nats://127.0.0.1:1", database=databases[1])
    async with running(restarted, wait_for_nats=False) as ev:
        assert refused(await put(ev, "A-1", **in_quarter), VAN_NHAM, "2024Q4")
        assert (await put(ev, "A-3", unit_id=DONG_TIEN, **in_quarter)).status_code == 201

    async with services(mongo, nats_server.url, databases) as s:
        assert refused(await put(s.events, "A-1", **in_quarter), VAN_NHAM, "2024Q4")
        reopened = await s.registry.post(
            path, json={"unit_id": VAN_NHAM, "action": "reopen", "reason": "Thiếu số liệu"}
        )
        assert (reopened.json()["state"], reopened.json()["locked"]) == ("submitted", False)

        async def accepting() -> httpx.Response | None:
            probe = await put(s.events, "A-1", **in_quarter)
            return probe if probe.status_code == 201 else None

        await eventually(accepting, timeout=5.0, interval=0.01)
