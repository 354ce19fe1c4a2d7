"""The registry replica: highest revision wins, memory and database agree after a restart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.events.reference_cache import ReferenceCache
from services.events.replica import RegistryReplica
from services.events.repository import ReferenceRepository
from shared.mongo import MongoHandle
from tests.events_support.activities import club_meeting, communication_session
from tests.events_support.registry import (
    club_event,
    publish_and_wait,
    reference_events,
    unit_event,
)
from tests.support.apps import events_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


@pytest.fixture
async def handle(mongo: MongoBackend) -> AsyncIterator[MongoHandle]:
    found = MongoHandle(
        mongo.url, f"test_events_replica_{uuid.uuid4().hex[:8]}", "tests", data_dir=mongo.data_dir
    )
    yield found
    await found.close()


async def test_late_and_repeated_revisions_change_nothing_and_a_restart_reloads(
    handle: MongoHandle,
) -> None:
    replica = RegistryReplica(ReferenceRepository(handle.db), ReferenceCache())
    renamed = unit_event("vn63:06433", "Xã Vân Nham (mới)", "commune", "vn63:186", revision=2)
    original = unit_event("vn63:06433", "Xã Vân Nham", "commune", "vn63:186", revision=1)
    first = await replica.apply([*reference_events(), renamed])
    assert "unit:vn63:06433" in first
    assert await replica.apply([original, renamed]) == []
    assert replica.cache.unit_name("vn63:06433") == "Xã Vân Nham (mới)"

    restarted = RegistryReplica(ReferenceRepository(handle.db), ReferenceCache())
    await restarted.load()
    assert restarted.cache.unit_name("vn63:06433") == "Xã Vân Nham (mới)"
    assert restarted.cache.units.lineage("vn63:06433") == [
        "vn63:06433",
        "vn63:186",
        "vn63:20",
        "vn",
    ]
    assert sorted(restarted.cache.programmes) == ["CLC", "P8", "SFES"]
    assert restarted.cache.revisions["unit"]["vn63:06433"] == 2
    # Memory that missed a revision (another instance applied it) still ends right.
    stale = RegistryReplica(ReferenceRepository(handle.db), ReferenceCache())
    newer = unit_event("vn63:06433", "Xã Vân Nham 3", "commune", "vn63:186", revision=3)
    assert await stale.apply([renamed, newer]) == ["unit:vn63:06433"]
    assert stale.cache.unit_name("vn63:06433") == "Xã Vân Nham 3"


async def test_what_the_follower_put_in_memory_first_is_still_stored(
    handle: MongoHandle,
) -> None:
    replica = RegistryReplica(ReferenceRepository(handle.db), ReferenceCache())
    await replica.apply(reference_events())
    renamed = unit_event("vn63:06433", "Xã Vân Nham (mới)", "commune", "vn63:186", revision=2)
    newest = unit_event("vn63:06433", "Xã Vân Nham 3", "commune", "vn63:186", revision=3)
    # This replica's follower sees the renaming before the shared consumer stores it.
    await replica.follow([renamed, newest])
    assert await replica.apply([renamed]) == ["unit:vn63:06433"]
    assert replica.cache.unit_name("vn63:06433") == "Xã Vân Nham 3", "memory never goes back"

    restarted = RegistryReplica(ReferenceRepository(handle.db), ReferenceCache())
    await restarted.load()
    assert restarted.cache.unit_name("vn63:06433") == "Xã Vân Nham (mới)"
    assert restarted.cache.revisions["unit"]["vn63:06433"] == 2


@pytest.fixture
async def events(mongo: MongoBackend, nats_server: NatsServer) -> AsyncIterator[httpx.AsyncClient]:
    async with running(events_app(mongo, nats_server.url)) as client:
        await publish_and_wait(nats_server.url, client, reference_events())
        yield client


async def test_validation_follows_registry_changes(
    events: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    moved = club_event("club-x", "vn63:06433", "vn63:20", revision=1)
    await publish_and_wait(nats_server.url, events, [moved])
    ok = await events.put("/v1/activities/langson-p8/M-1", json=club_meeting("club-x"))
    assert ok.json()["status"] == "active"

    # The registry corrects the club: it is in Hà Giang.
    corrected = club_event("club-x", "vn63:01024", "vn63:02", name="CLB X", revision=2)
    await publish_and_wait(nats_server.url, events, [corrected])
    refused = await events.put(
        "/v1/activities/langson-p8/M-2", json=club_meeting("club-x", title="Họp lần 2")
    )
    assert refused.status_code == 422
    assert "lies in vn63:02 (Tỉnh Hà Giang)" in refused.json()["detail"]

    # A renamed unit is named by its new name in errors.
    await publish_and_wait(
        nats_server.url,
        events,
        [unit_event("vn34:06415", "Xã Vân Nham Mới", "commune", "vn34:20", revision=2)],
    )
    late = communication_session(started_on="2025-08-01", ended_on="2025-08-01")
    response = await events.put("/v1/activities/langson-p8/M-3", json=late)
    assert "vn34:06415 (Xã Vân Nham Mới)" in response.json()["detail"]
