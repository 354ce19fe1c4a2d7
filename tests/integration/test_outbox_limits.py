"""An event NATS can never take does not hold up the events after it.

A plan of 20,000 targets makes an event of about 1.7 MB; the test NATS keeps its default
`max_payload` of 1 MiB (deployments raise it to 8 MiB: deploy/local/nats_config.py).
The relay sets that event aside, with the error and an alarm, and the registry's next
change is published as usual.
"""

from __future__ import annotations

import json
from typing import Any

import nats

from shared.contracts import REGISTRY
from shared.contracts.indicators import INDICATOR_CODES
from shared.outbox import OUTBOX_DEAD_LETTERS
from tests.support.apps import eventually, registry_app, running, runtime_of
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer


async def _registry_events(nats_url: str) -> list[tuple[str, str | None]]:
    """(subject, programme code) of every event on REGISTRY."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.pull_subscribe("bdg.registry.>", stream=REGISTRY.name)
        found: list[tuple[str, str | None]] = []
        while True:
            try:
                messages = await subscription.fetch(500, timeout=0.5)
            except TimeoutError:
                return found
            for message in messages:
                data = json.loads(message.data)["data"]
                found.append((message.subject, data.get("code") or data.get("programme")))
    finally:
        await connection.close()


async def test_an_event_too_large_for_nats_is_set_aside_and_the_next_ones_flow(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = registry_app(mongo, nats_server.url, reference_provinces="vn63:20")
    periods = [f"{year}-{month:02d}" for year in range(2001, 2100) for month in range(1, 13)]
    plan = [
        {"indicator": code, "unit_id": "vn63:20", "period": period, "value": 1}
        for code in INDICATOR_CODES
        for period in periods
    ][:20_000]
    async with running(app) as admin:
        response = await admin.put("/v1/programmes/P8/targets", json=plan)
        assert response.status_code == 200, response.text[:300]
        after = await admin.put(
            "/v1/programmes/LATER",
            json={"name": "Later", "name_vi": "Sau đó", "starts_on": "2026-01-01"},
        )
        assert after.status_code in (200, 201), after.text
        letters = runtime_of(app).mongo.db[OUTBOX_DEAD_LETTERS]

        async def set_aside() -> list[dict[str, Any]] | None:
            return await letters.find({}).to_list(None) or None

        found, _ = await eventually(set_aside, timeout=20)
        assert [letter["event"]["type"] for letter in found] == ["vn.bdg.target.set.v1"]
        assert "MaxPayload" in found[0]["error"]
        metrics = (await admin.get("/metrics")).text
        assert 'bdg_outbox_dead_letters{service="registry"} 1.0' in metrics

        async def later_published() -> list[tuple[str, str | None]] | None:
            published = await _registry_events(nats_server.url)
            later = ("bdg.registry.v1.programme.upserted", "LATER")
            return published if later in published else None

        published, _ = await eventually(later_published, timeout=20)
        assert ("bdg.registry.v1.target.set", "P8") not in published
