"""Reading the scenario's figures back from the reporting API and comparing them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.reporting_support import scenario
from tests.reporting_support.apps import eventually
from tests.reporting_support.events import activity_events, publish, registry_events


async def caught_up(client: httpx.AsyncClient) -> bool:
    streams = (await client.get("/v1/status")).json()["streams"]
    return len(streams) == 2 and all(
        stream["stream_last_sequence"] is not None
        and stream["last_sequence"] == stream["stream_last_sequence"]
        and stream["pending"] == 0
        for stream in streams
    )


async def wait_caught_up(client: httpx.AsyncClient, timeout: float = 10.0) -> None:
    await eventually(lambda: caught_up(client), timeout=timeout)


async def load_scenario(nats_url: str, client: httpx.AsyncClient) -> None:
    """Publish the scenario's registry data and activities; return once `client`'s
    reporting service has applied all of them."""
    await publish(nats_url, registry_events())
    await publish(nats_url, activity_events())
    await wait_caught_up(client)


async def figure(client: httpx.AsyncClient, expected: scenario.Expected) -> dict[str, Any]:
    response = await client.get(
        f"/v1/indicators/{expected.indicator}/values", params=expected.params()
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def mismatch(expected: scenario.Expected, body: dict[str, Any]) -> str | None:
    """What differs between a response and its expected figures (None when equal)."""
    label = f"{expected.indicator} {expected.unit_id} {expected.period} by={expected.by} " + (
        expected.structure
    )
    if body["total"] != expected.total:
        return f"{label}: total {body['total']} != {expected.total}"
    if sum(row["value"] for row in body["rows"]) != body["total"]:
        return f"{label}: rows do not add up to the total"
    for want in expected.rows:
        keys = [key for key in want if key != "value"]
        found = [row for row in body["rows"] if all(row.get(k) == want[k] for k in keys)]
        if len(found) != 1 or found[0]["value"] != want["value"]:
            return f"{label}: row {want} not in {body['rows']}"
    return None


async def all_figures(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every expected query's full response without `as_of` (for comparing runs)."""
    bodies = []
    for expected in scenario.EXPECTED:
        body = await figure(client, expected)
        body.pop("as_of")
        bodies.append(body)
    for programme in scenario.TARGET_PLANS:
        bodies.append(
            (await client.get("/v1/reports/targets", params={"programme": programme})).json()
        )
    for period, level, parent in scenario.EXPECTED_COMPLETENESS:
        params = {"period": period, "level": level, "parent": parent}
        body = (await client.get("/v1/reports/completeness", params=params)).json()
        body.pop("as_of")
        bodies.append(body)
    return bodies


async def check_scenario(client: httpx.AsyncClient) -> None:
    errors = []
    for expected in scenario.EXPECTED:
        problem = mismatch(expected, await figure(client, expected))
        if problem:
            errors.append(problem)
    assert not errors, "\n".join(errors)

    for programme in scenario.TARGET_PLANS:
        body = (await client.get("/v1/reports/targets", params={"programme": programme})).json()
        got = {
            (item["indicator"], item["unit_id"], item["period"]): (
                item["target"],
                item["actual"],
                item["achieved_pct"],
            )
            for item in body
        }
        assert got == scenario.EXPECTED_TARGETS

    for (period, level, parent), reported in scenario.EXPECTED_COMPLETENESS.items():
        params = {"period": period, "level": level, "parent": parent}
        body = (await client.get("/v1/reports/completeness", params=params)).json()
        assert {item["unit_id"]: item["reported"] for item in body["items"]} == reported
        share = sum(reported.values()) / len(reported)
        assert body["rate"] == round(share, 4)
