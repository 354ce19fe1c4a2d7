"""Projections are idempotent: any order, any number of deliveries, same figures."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.js.errors import ServiceUnavailableError

from services.reporting.catalogue import INDICATORS
from services.reporting.indicators import IndicatorEngine, IndicatorQuery
from services.reporting.projection import Projection
from services.reporting.replay import Replayer
from services.reporting.repository import MetaRepository, ReadModels
from shared.contracts import CloudEvent
from shared.mongo import MongoHandle
from shared.periods import parse_period
from tests.reporting_support import scenario
from tests.reporting_support.apps import reporting_app, running, service_of
from tests.reporting_support.checks import all_figures, load_scenario, wait_caught_up
from tests.reporting_support.events import activity_events, registry_events
from tests.support.apps import eventually
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


async def figures(projection: Projection) -> list[Any]:
    engine = IndicatorEngine(projection.models, projection.units)
    results = []
    for expected in scenario.EXPECTED:
        query = IndicatorQuery(
            INDICATORS[expected.indicator],
            expected.unit_id,
            parse_period(expected.period),
            tuple(part for part in expected.by.split(",") if part),
            None,
            "vn34" if expected.structure == "vn34" else "as_was",
        )
        result = await engine.compute(query)
        results.append((result.rows, result.total))
    return results


async def project(handle: MongoHandle, batches: list[list[tuple[str, CloudEvent]]]) -> Projection:
    projection = Projection(ReadModels(handle.db, f"t{uuid.uuid4().hex[:6]}"))
    await projection.load()
    for batch in batches:
        registry = [
            event for _, event in batch if event.type.startswith("vn.bdg.activity") is False
        ]
        activities = [event for _, event in batch if event.type.startswith("vn.bdg.activity")]
        await projection.apply_registry(registry)
        await projection.apply_activities(activities)
    return projection


async def test_any_order_and_repeated_deliveries_give_the_same_figures(
    mongo: MongoBackend,
) -> None:
    handle = MongoHandle(
        mongo.url, f"test_projection_{uuid.uuid4().hex[:8]}", "tests", data_dir=mongo.data_dir
    )
    try:
        events = registry_events() + activity_events()
        in_order = await project(handle, [events])
        expected = await figures(in_order)
        assert [total for _, total in expected] == [e.total for e in scenario.EXPECTED]

        shuffler = random.Random(2025)
        for _ in range(3):
            shuffled = events + events
            shuffler.shuffle(shuffled)
            size = shuffler.randint(1, 40)
            batches = [shuffled[i : i + size] for i in range(0, len(shuffled), size)]
            projection = await project(handle, batches)
            assert await figures(projection) == expected
            # Everything once more, on top: still nothing changes.
            for batch in batches:
                await projection.apply_registry([e for _, e in batch if "activity" not in e.type])
                await projection.apply_activities([e for _, e in batch if "activity" in e.type])
            assert await figures(projection) == expected
    finally:
        await handle.close()


async def test_a_restart_reads_the_generation_the_last_rebuild_switched_to(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = f"test_reporting_{uuid.uuid4().hex[:10]}"
    app = reporting_app(mongo, nats_server.url, database=database)
    async with running(app) as client:
        await load_scenario(nats_server.url, client)
        assert (await client.post("/v1/admin/rebuild")).status_code == 202
        await service_of(app).rebuilder.wait()
        before = await all_figures(client)
    again = reporting_app(mongo, nats_server.url, database=database)
    async with running(again) as client:
        assert (await client.get("/v1/status")).json()["generation"] == "g2"
        await wait_caught_up(client)
        assert await all_figures(client) == before


async def test_a_rebuild_left_running_by_a_stopped_replica_starts_again_and_finishes(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = f"test_reporting_{uuid.uuid4().hex[:10]}"
    app = reporting_app(mongo, nats_server.url, database=database)
    async with running(app) as client:
        await load_scenario(nats_server.url, client)
        before = await all_figures(client)
    # What a replica killed in the middle of a rebuild leaves: the state says running,
    # and the new generation holds part of the history (here, one stray fact).
    handle = MongoHandle(mongo.url, database, "tests", data_dir=mongo.data_dir)
    try:
        partial = ReadModels(handle.db, "g2")
        await partial.facts.insert_one({"_id": "partial-only", "indicator": "forums"})
        await MetaRepository(handle.db).save_rebuild(
            {
                "status": "running",
                "generation": "g2",
                "previous_generation": "g1",
                "started_at": datetime.now(UTC),
                "finished_at": None,
                "error": None,
                "streams": {"REGISTRY": {"goal_sequence": 10, "applied_sequence": 3}},
            }
        )
    finally:
        await handle.close()
    again = reporting_app(mongo, nats_server.url, database=database)
    async with running(again) as client:

        async def finished() -> dict[str, Any] | None:
            status = (await client.get("/v1/status")).json()
            rebuild = status.get("rebuild") or {}
            return status if rebuild.get("status") == "completed" else None

        status, _ = await eventually(finished, timeout=30)
        assert status["generation"] == "g2"
        assert status["rebuild"]["restarts"] == 1
        await wait_caught_up(client)
        assert await all_figures(client) == before
        models = service_of(again).generations.active.models
        assert await models.facts.find_one({"_id": "partial-only"}) is None


async def test_a_rebuild_failed_by_nats_for_a_moment_starts_again_and_finishes(
    mongo: MongoBackend, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as client:
        await load_scenario(nats_server.url, client)
        before = await all_figures(client)
        replay = Replayer.replay
        failures = []

        async def once_unavailable(self: Replayer, *args: Any, **kwargs: Any) -> int:
            if not failures:
                failures.append(1)
                raise ServiceUnavailableError
            return await replay(self, *args, **kwargs)

        monkeypatch.setattr(Replayer, "replay", once_unavailable)
        assert (await client.post("/v1/admin/rebuild")).status_code == 202

        async def finished() -> dict[str, Any] | None:
            rebuild = (await client.get("/v1/status")).json().get("rebuild") or {}
            return rebuild if rebuild.get("status") in ("completed", "failed") else None

        rebuild, _ = await eventually(finished, timeout=30)
        assert (rebuild["status"], rebuild["restarts"], failures) == ("completed", 1, [1])
        assert await all_figures(client) == before


async def test_the_pending_facts_index_of_an_earlier_version_is_replaced_at_start(
    mongo: MongoBackend,
) -> None:
    """Earlier versions indexed every fact on `pending`; now only the pending ones are.
    A generation indexed the earlier way gets the new index at start, and the facts
    still waiting for their unit are found (which index serves that read, on either
    store, is checked by the scenario's plans check)."""
    handle = MongoHandle(
        mongo.url, f"test_projection_{uuid.uuid4().hex[:8]}", "tests", data_dir=mongo.data_dir
    )
    try:
        models = ReadModels(handle.db, "g1")
        await models.facts.create_index("pending")  # as an earlier version left it
        await models.facts.insert_many(
            [
                {"_id": "a", "version": 1, "unit_id": "vn63:99999", "pending": True},
                {"_id": "b", "version": 1, "unit_id": "vn63:06433", "pending": False},
                {"_id": "c", "version": 2, "unit_id": "vn63:99998", "pending": True},
            ]
        )
        await models.create_indexes()
        await models.create_indexes()  # a second start, or a replica beside it
        indexes = await models.facts.index_information()
        waiting = sorted(fact["_id"] for fact in await models.facts_to_place([]))
    finally:
        await handle.close()
    assert "pending_1" not in indexes
    assert indexes["pending_facts"]["partialFilterExpression"] == {"pending": True}
    assert waiting == ["a", "c"]
