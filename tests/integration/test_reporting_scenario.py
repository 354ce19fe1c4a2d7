"""The reporting scenario over real JetStream: exact figures, redelivery, rebuild."""

from __future__ import annotations

from typing import Any

import nats

from services.reporting.replay import Replayer
from services.reporting.service import ReportingService
from shared.contracts import ACTIVITIES, REGISTRY
from tests.reporting_support.apps import eventually, reporting_app, running, runtime_of
from tests.reporting_support.checks import (
    all_figures,
    check_scenario,
    load_scenario,
    wait_caught_up,
)
from tests.reporting_support.events import activity_events, publish, registry_events
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


async def test_scenario_figures_are_exact(mongo: MongoBackend, nats_server: NatsServer) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as reporting:
        # Activities first: their units arrive later on the other stream.
        await publish(nats_server.url, activity_events())
        await publish(nats_server.url, registry_events())
        await wait_caught_up(reporting)
        await check_scenario(reporting)

        # Without `level`, completeness lists the level just below the parent.
        defaults = {"vn": "province", "vn63:20": "district", "vn34:20": "commune"}
        for parent, level in defaults.items():
            params = {"period": "2023", "parent": parent}
            implicit = (await reporting.get("/v1/reports/completeness", params=params)).json()
            explicit = (
                await reporting.get("/v1/reports/completeness", params={**params, "level": level})
            ).json()
            assert implicit["level"] == level
            assert implicit["items"] == explicit["items"]


async def test_redelivering_every_event_and_rebuilding_change_no_figure(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as reporting:
        await load_scenario(nats_server.url, reporting)
        before = await all_figures(reporting)

        # A second delivery of everything: a new consumer from sequence 1, applying
        # into the same collections as the live one.
        service: ReportingService = app.state.service
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            replayer = Replayer(js, runtime_of(app).dead_letters, consumer_name="again")
            for stream, apply in (
                (REGISTRY, service.generations.active.apply_registry),
                (ACTIVITIES, service.generations.active.apply_activities),
            ):
                goal = (await js.stream_info(stream.name)).state.last_seq
                assert await replayer.replay(stream, apply, goal) == goal
        finally:
            await nc.close()
        assert await all_figures(reporting) == before

        response = await reporting.post("/v1/admin/rebuild")
        assert response.status_code == 202
        assert response.json()["generation"] == "g2"

        async def rebuilt() -> dict[str, Any] | None:
            status = (await reporting.get("/v1/status")).json()
            return status if status["rebuild"]["status"] == "completed" else None

        status, _ = await eventually(rebuilt, timeout=20)
        assert status["generation"] == "g2"
        progress = status["rebuild"]["streams"]
        for name in ("REGISTRY", "ACTIVITIES"):
            assert progress[name]["applied_sequence"] == progress[name]["goal_sequence"] > 0
        assert await all_figures(reporting) == before
        await check_scenario(reporting)
