"""Hostile input: MongoDB operators and `$` values in every parameter, over-long values.
Each is refused with a 4xx problem or taken literally (matching nothing); never a 500,
never more data than asked for."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.reporting_support.access import LANG_SON, client_as, ha_giang_events, token_for
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import wait_caught_up
from tests.reporting_support.events import activity_events, publish, registry_events
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

HOSTILE = ['{"$gt": ""}', '{"$ne": null}', "$gt", "$where", "$lineage", "$$ROOT", "vn|$gt"]

VALUES = "/v1/indicators/people_reached/values"
# Each endpoint with valid parameters; every parameter is replaced in turn.
ENDPOINTS: list[tuple[str, dict[str, str]]] = [
    (VALUES, {"unit_id": "vn63:20", "period": "2023", "by": "sex", "programme": "P8",
              "structure": "as_was"}),
    ("/v1/reports/summary", {"unit_id": "vn63:20", "period": "2023", "programme": "P8",
                             "structure": "as_was"}),
    ("/v1/reports/targets", {"programme": "SFES", "unit_id": "vn63:20", "period": "2023"}),
    ("/v1/reports/completeness", {"period": "2023", "level": "commune", "parent": "vn63:20"}),
    ("/v1/exports/indicators.csv", {"indicator": "people_reached", "unit_id": "vn63:20",
                                    "period": "2023", "by": "sex", "programme": "P8",
                                    "structure": "as_was"}),
    ("/v1/exports/summary.xlsx", {"unit_id": "vn63:20", "period": "2023", "programme": "P8"}),
    ("/v1/exports/targets.csv", {"programme": "SFES", "unit_id": "vn63:20", "period": "2023"}),
    ("/v1/exports/completeness.csv", {"period": "2023", "level": "commune",
                                      "parent": "vn63:20"}),
    ("/v1/dead-letters", {"status": "failed", "limit": "10", "cursor": "QUNUSVZJVElFUzox"}),
]  # fmt: skip


def refused_or_empty(response: httpx.Response, label: str) -> None:
    """A 4xx problem, or a 200 that matched nothing."""
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", label
        return
    assert response.status_code == 200, label
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        if isinstance(body, list):  # the plan-against-actual rows
            assert body == [], f"{label}: {body}"
        else:
            assert body.get("items", []) == [], f"{label}: {body}"
            assert body.get("total", 0) == 0, f"{label}: {body}"
    else:  # an export: the header row only
        assert response.content.decode("utf-8-sig").count("\n") <= 1, label


async def test_operators_and_dollar_values_in_every_parameter_match_nothing(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as admin:
        await publish(nats_server.url, registry_events())
        await publish(nats_server.url, activity_events())
        await publish(nats_server.url, ha_giang_events())
        await wait_caught_up(admin)
        lang_son = token_for("langson-app", LANG_SON)
        async with client_as(app, lang_son) as viewer:
            for client_name, client in (("admin", admin), ("viewer", viewer)):
                for path, valid in ENDPOINTS:
                    if client_name == "viewer" and path == "/v1/dead-letters":
                        continue  # admins only: a plain 403
                    ok = await client.get(path, params=valid)
                    assert ok.status_code == 200, (client_name, path, ok.text)
                    for name in valid:
                        for value in HOSTILE:
                            response = await client.get(path, params={**valid, name: value})
                            refused_or_empty(response, f"{client_name} {path} {name}={value}")

            # Path parameters.
            for value in HOSTILE:
                escaped = quote(value, safe="")
                for response in (
                    await admin.get(f"/v1/indicators/{escaped}/values",
                                    params={"unit_id": "vn", "period": "2023"}),
                    await admin.get(f"/v1/exports/{escaped}.csv"),
                    await admin.post(f"/v1/dead-letters/{escaped}/retry"),
                    await admin.post(f"/v1/dead-letters/ACTIVITIES:{escaped}/retry"),
                ):  # fmt: skip
                    assert 400 <= response.status_code < 500, (value, response.text)

            # Operators as JSON body keys: the operations endpoints take no body.
            letter = await admin.post(
                "/v1/dead-letters/ACTIVITIES:1/retry", json={"_id": {"$gt": ""}, "$where": "1"}
            )
            assert letter.status_code == 404

            # A viewer's scope cannot be widened by a hostile unit: unknown → national
            # scope needed (403), and for an admin it matches nothing.
            targets = {"programme": "SFES", "unit_id": '{"$gt": ""}'}
            refused = await viewer.get("/v1/reports/targets", params=targets)
            assert refused.status_code == 403
            assert (await admin.get("/v1/reports/targets", params=targets)).json() == []
            everything = await admin.get("/v1/reports/targets", params={"programme": "SFES"})
            assert len(everything.json()) == 4


async def test_over_long_values_are_refused_naming_the_parameter(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        cases: list[tuple[str, dict[str, str], str]] = [
            (VALUES, {"unit_id": "vn63:" + "1" * 80, "period": "2023"}, "unit_id"),
            (VALUES, {"unit_id": "vn", "period": "2" * 41}, "period"),
            (VALUES, {"unit_id": "vn", "period": "2023", "by": "sex," * 30}, "by"),
            (VALUES, {"unit_id": "vn", "period": "2023", "programme": "P" * 21}, "programme"),
            ("/v1/reports/targets", {"programme": "P8", "period": "2" * 41}, "period"),
            ("/v1/reports/targets", {"programme": "P8", "unit_id": "v" * 65}, "unit_id"),
            ("/v1/reports/completeness", {"period": "2023", "level": "l" * 21}, "level"),
            ("/v1/reports/completeness", {"period": "2023", "level": "commune",
                                          "parent": "p" * 65}, "parent"),
            ("/v1/exports/indicators.csv", {"indicator": "i" * 65, "unit_id": "vn",
                                            "period": "2023"}, "indicator"),
            ("/v1/dead-letters", {"cursor": "c" * 201}, "cursor"),
        ]  # fmt: skip
        for path, params, name in cases:
            response = await client.get(path, params=params)
            assert response.status_code == 422, (path, name, response.text)
            assert ["query", name] in [error["loc"] for error in response.json()["errors"]]
        long_code = await client.get(
            "/v1/indicators/" + "x" * 65 + "/values", params={"unit_id": "vn", "period": "2023"}
        )
        assert long_code.status_code == 422
        long_letter = await client.post("/v1/dead-letters/" + "A" * 101 + "/retry")
        assert long_letter.status_code == 422
        assert long_letter.json()["errors"][0]["loc"] == ["path", "letter_id"]
