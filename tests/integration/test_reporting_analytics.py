"""The analytics API on the Lạng Sơn scenario: several indicators, units and periods,
splits by time and by level, relative periods, refusals, and what it reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.repository import ReadModels
from tests.reporting_support.apps import reporting_app, running, service_of
from tests.reporting_support.checks import load_scenario, wait_caught_up
from tests.reporting_support.events import publish, registry_events
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

Scenario = tuple[FastAPI, httpx.AsyncClient]


@asynccontextmanager
async def scenario(mongo: MongoBackend, nats_url: str) -> AsyncIterator[Scenario]:
    app = reporting_app(mongo, nats_url)
    async with running(app) as client:
        await load_scenario(nats_url, client)
        yield app, client


async def analytics(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/v1/analytics", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def values(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], Any]:
    return {tuple(row[key] for key in keys): row["value"] for row in rows}


async def test_several_indicators_units_and_periods_in_one_answer(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with scenario(mongo, nats_server.url) as (_, client):
        body = await analytics(
            client,
            indicator="communication_sessions,communication_participants",
            unit_id="vn63:186,vn63:181",
            period="2023Q3,2023Q4",
        )
        assert body["indicators"] == ["communication_sessions", "communication_participants"]
        assert [unit["unit_name"] for unit in body["units"]] == ["Huyện Hữu Lũng", "Huyện Văn Quan"]
        assert [period["period"] for period in body["periods"]] == ["2023Q3", "2023Q4"]
        # Hữu Lũng's session (A3, 55 people) was in October; Văn Quan's (A4, 15) in July.
        assert values(body["rows"], "indicator", "unit_id", "period") == {
            ("communication_sessions", "vn63:186", "2023Q3"): 0,
            ("communication_sessions", "vn63:186", "2023Q4"): 1,
            ("communication_sessions", "vn63:181", "2023Q3"): 1,
            ("communication_sessions", "vn63:181", "2023Q4"): 0,
            ("communication_participants", "vn63:186", "2023Q3"): 0,
            ("communication_participants", "vn63:186", "2023Q4"): 55,
            ("communication_participants", "vn63:181", "2023Q3"): 15,
            ("communication_participants", "vn63:181", "2023Q4"): 0,
        }
        assert {row["unit_name"] for row in body["rows"]} == {"Huyện Hữu Lũng", "Huyện Văn Quan"}
        assert len(body["totals"]) == 8

        # The same figures as the values endpoint gives one by one.
        for row in body["rows"]:
            params = {"unit_id": row["unit_id"], "period": row["period"]}
            single = await client.get(f"/v1/indicators/{row['indicator']}/values", params=params)
            assert single.json()["total"] == row["value"]


async def test_splits_by_quarter_year_and_school_year_are_derived_from_months(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with scenario(mongo, nats_server.url) as (_, client):
        participants = {"indicator": "communication_participants", "unit_id": "vn63:20"}
        quarters = await analytics(client, **participants, period="2023", by="quarter,sex")
        assert values(quarters["rows"], "quarter", "sex") == {
            ("2023Q1", "female"): 0, ("2023Q1", "male"): 0,
            ("2023Q2", "female"): 0, ("2023Q2", "male"): 0,
            ("2023Q3", "female"): 12, ("2023Q3", "male"): 3,
            ("2023Q4", "female"): 33, ("2023Q4", "male"): 22,
        }  # fmt: skip
        # July 2023 closes school year 2022-2023; October opens 2023-2024.
        school = await analytics(client, **participants, period="2023", by="school_year")
        assert values(school["rows"], "school_year") == {("SY2022-2023",): 15, ("SY2023-2024",): 55}
        # Years over a range: 2023 and the first half of 2025 (A10 17 + A13 10).
        years = await analytics(client, **participants, period="2021-01-01..2025-12-31", by="year")
        assert values(years["rows"], "year") == {
            ("2021",): 0, ("2022",): 0, ("2023",): 70, ("2024",): 0, ("2025",): 27,
        }  # fmt: skip
        # Two time splits share one axis: each month once, with its quarter.
        nested = await analytics(client, **participants, period="2023H2", by="quarter,month")
        assert [(row["quarter"], row["month"]) for row in nested["rows"]] == [
            ("2023Q3", "2023-07"), ("2023Q3", "2023-08"), ("2023Q3", "2023-09"),
            ("2023Q4", "2023-10"), ("2023Q4", "2023-11"), ("2023Q4", "2023-12"),
        ]  # fmt: skip
        assert values(nested["rows"], "month")[("2023-10",)] == 55


async def test_levels_below_the_unit_and_facts_recorded_above_them(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with scenario(mongo, nats_server.url) as (_, client):
        people = {"indicator": "people_reached", "unit_id": "vn63:20", "period": "2023"}
        communes = await analytics(client, **people, by="level:commune")
        # The forum (150) was recorded on the district and the training (100) on the
        # province: each stays in a row of its own unit; the village's meeting (11)
        # counts in its commune Vân Nham (18 + 11).
        assert values(communes["rows"], "unit_id") == {
            ("vn63:06300",): 15,
            ("vn63:06433",): 29,
            ("vn63:06436",): 55,
            ("vn63:06445",): 0,
            ("vn63:186",): 150,
            ("vn63:20",): 100,
        }
        assert {row["within_unit_id"] for row in communes["rows"]} == {"vn63:20"}
        assert (
            next(row for row in communes["rows"] if row["unit_id"] == "vn63:06433")["unit_name"]
            == "Xã Vân Nham"
        )
        assert sum(row["value"] for row in communes["rows"]) == 349
        districts = await analytics(client, **people, by="level:district,sex")
        # Hữu Lũng's women: meetings 10 + 6, session 33, forum 90.
        assert values(districts["rows"], "unit_id", "sex")[("vn63:186", "female")] == 139
        assert sum(row["value"] for row in districts["rows"]) == 349

        # Stocks split by level too: members at the end of 2023.
        members = await analytics(
            client, indicator="club_members", unit_id="vn63:20", period="2023", by="level:commune"
        )
        assert values(members["rows"], "unit_id") == {
            ("vn63:06300",): 0,
            ("vn63:06433",): 4,
            ("vn63:06436",): 2,
            ("vn63:06445",): 0,
        }
        # The values endpoint takes the new splits as well.
        response = await client.get(
            "/v1/indicators/communication_participants/values",
            params={"unit_id": "vn63:20", "period": "2023", "by": "level:commune,quarter"},
        )
        body = response.json()
        assert body["total"] == 70
        assert values(body["rows"], "unit_id", "quarter")[("vn63:06436", "2023Q4")] == 55


async def test_relative_periods_resolve_on_the_day_in_vietnam_and_are_echoed(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with scenario(mongo, nats_server.url) as (app, client):
        # 23:30 UTC on 31 December 2023 is already 1 January 2024 in Vietnam.
        service_of(app).queries.clock = lambda: datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
        params = {"indicator": "communication_participants", "unit_id": "vn63:20"}
        body = await analytics(client, **params, period="LAST_4_QUARTERS,THIS_YEAR")
        assert body["resolved_on"] == "2024-01-01"
        assert body["time_zone"] == "Asia/Ho_Chi_Minh"
        assert body["relative_periods"] == {
            "LAST_4_QUARTERS": ["2023Q1", "2023Q2", "2023Q3", "2023Q4"],
            "THIS_YEAR": ["2024"],
        }
        assert [(p["period"], p["asked"]) for p in body["periods"]] == [
            ("2023Q1", "LAST_4_QUARTERS"),
            ("2023Q2", "LAST_4_QUARTERS"),
            ("2023Q3", "LAST_4_QUARTERS"),
            ("2023Q4", "LAST_4_QUARTERS"),
            ("2024", "THIS_YEAR"),
        ]
        assert [row["value"] for row in body["rows"]] == [0, 0, 15, 55, 0]

        last_year = await analytics(client, **params, period="LAST_YEAR", by="sex")
        assert values(last_year["rows"], "period", "sex") == {
            ("2023", "female"): 45,
            ("2023", "male"): 25,
        }
        months = await analytics(client, **params, period="LAST_12_MONTHS")
        assert next(row["period"] for row in months["rows"]) == "2023-01"
        assert len(months["rows"]) == 12

        # The values endpoint: one relative period standing for one period keeps the
        # single answer; several periods name each row's period.
        single = await client.get(
            "/v1/indicators/communication_participants/values",
            params={"unit_id": "vn63:20", "period": "LAST_YEAR"},
        )
        assert (single.json()["period"], single.json()["total"]) == ("2023", 70)
        several = (
            await client.get(
                "/v1/indicators/communication_participants/values",
                params={"unit_id": "vn63:20", "period": "THIS_SCHOOL_YEAR", "by": "month"},
            )
        ).json()
        assert several["period"] == "SY2023-2024"
        assert values(several["rows"], "month")[("2023-10",)] == 55
        lists = (
            await client.get(
                "/v1/indicators/communication_participants/values",
                params={"unit_id": "vn63:186,vn63:181", "period": "2023Q3,2023Q4"},
            )
        ).json()
        assert lists["total"] is None
        assert values(lists["rows"], "unit_id", "period") == {
            ("vn63:186", "2023Q3"): 0,
            ("vn63:186", "2023Q4"): 55,
            ("vn63:181", "2023Q3"): 15,
            ("vn63:181", "2023Q4"): 0,
        }
        # The summary takes a relative period standing for one period, not a list.
        summary = await client.get(
            "/v1/reports/summary", params={"unit_id": "vn63:20", "period": "LAST_YEAR"}
        )
        assert summary.json()["period"] == "2023"
        refused = await client.get(
            "/v1/reports/summary", params={"unit_id": "vn63:20", "period": "LAST_4_QUARTERS"}
        )
        assert refused.status_code == 422
        assert "2023Q1, 2023Q2, 2023Q3, 2023Q4" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("params", "kind", "names"),
    [
        ({"by": "quarterly"}, "unsupported-disaggregation", ["quarter", "level:commune"]),
        ({"by": "grade"}, "unsupported-disaggregation", ["trainees", "school_year"]),
        ({"by": "child_unit,level:commune"}, "unsupported-disaggregation", ["child_unit"]),
        ({"level": "commune"}, "validation", ["level", "by=level:commune"]),
        ({"period": "LAST_5_YEARS"}, "invalid-period", ["LAST_4_QUARTERS"]),
        ({"period": "2023,,2024"}, "invalid-period", ["empty"]),
        ({"unit_id": "vn63:06433", "by": "level:district"}, "unsupported-disaggregation",
         ["commune", "district"]),
        ({"unit_id": "vn34:20", "by": "level:district"}, "unsupported-disaggregation",
         ["level:commune"]),
    ],
)  # fmt: skip
async def test_refusals_name_what_is_allowed(
    mongo: MongoBackend,
    nats_server: NatsServer,
    params: dict[str, str],
    kind: str,
    names: list[str],
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await publish(nats_server.url, registry_events())
        await wait_caught_up(client)
        query = {"indicator": "trainees", "unit_id": "vn63:20", "period": "2023", **params}
        response = await client.get("/v1/analytics", params=query)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"].endswith("/" + kind)
        for name in names:
            assert name in problem["detail"]


async def test_stocks_refuse_time_splits_and_suggest_period_lists(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with scenario(mongo, nats_server.url) as (_, client):
        refused = await client.get(
            "/v1/analytics",
            params={"indicator": "club_members", "unit_id": "vn63:20", "period": "2023",
                    "by": "quarter"},
        )  # fmt: skip
        assert refused.status_code == 422
        assert "period=2023Q1,2023Q2" in refused.json()["detail"]
        # A mix of a flow and a stock split by sex: both have the dimension.
        body = await analytics(
            client,
            indicator="club_members,trainees",
            unit_id="vn63:20",
            period="2023",
            by="sex",
        )
        assert values(body["rows"], "indicator", "sex") == {
            ("club_members", "female"): 4,
            ("club_members", "male"): 2,
            ("trainees", "female"): 60,
            ("trainees", "male"): 40,
        }


def count_reads(models: ReadModels, calls: dict[str, int]) -> None:
    """Counts the engine's reads of facts, clubs and members on `models`."""
    for name in ("flow_groups", "clubs_at", "member_groups", "activity_counts_by_unit"):
        original: Callable[..., Awaitable[Any]] = getattr(models, name)

        def counted(
            *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
        ) -> Awaitable[Any]:
            calls[_name] = calls.get(_name, 0) + 1
            result: Awaitable[Any] = _original(*args, **kwargs)
            return result

        setattr(models, name, counted)


async def test_one_answer_reads_no_more_than_one_query_per_combination(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with scenario(mongo, nats_server.url) as (app, client):
        calls: dict[str, int] = {}
        count_reads(service_of(app).generations.active.models, calls)
        flows = ["people_reached", "trainees", "communication_sessions", "budget_vnd"]
        units, periods = ["vn63:186", "vn63:181"], ["2023Q3", "2023Q4", "2023"]
        body = await analytics(
            client,
            indicator=",".join([*flows, "club_members", "clubs_active"]),
            unit_id=",".join(units),
            period=",".join(periods),
            by="child_unit",
        )
        assert len(body["totals"]) == 6 * 2 * 3
        # One read of facts per unit and period for the four flows (not 4 * 2 * 3 = 24),
        # one of clubs and one of members per period end for the two stocks.
        assert calls == {"flow_groups": 6, "clubs_at": 2, "member_groups": 2}
        people = {
            (total["unit_id"], total["period"]): total["value"]
            for total in body["totals"]
            if total["indicator"] == "people_reached"
        }
        assert people[("vn63:181", "2023")] == 15
        assert people[("vn63:186", "2023Q4")] == 18 + 11 + 55 + 150
