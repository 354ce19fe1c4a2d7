"""Approved data, approval state and deadlines, fed through real NATS: reporting
follows the registry's approval records and locks and limits figures to approved
data when asked."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.reporting_support.approvals import (
    ALL_2023,
    APPROVED_2023,
    activity_events,
    approval,
    approval_events,
    reference_events,
)
from tests.reporting_support.apps import eventually, reporting_app, running, service_of
from tests.reporting_support.checks import wait_caught_up
from tests.reporting_support.events import publish
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

PARTICIPANTS = "/v1/indicators/communication_participants/values"


async def total(client: httpx.AsyncClient, **params: str) -> Any:
    response = await client.get(PARTICIPANTS, params=params)
    assert response.status_code == 200, response.text
    return response.json()["total"]


async def loaded(client: httpx.AsyncClient, nats_url: str) -> None:
    await publish(nats_url, reference_events())
    await publish(nats_url, activity_events())
    await publish(nats_url, approval_events())
    await wait_caught_up(client)


async def test_approved_only_values_count_what_approved_records_cover(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await loaded(client, nats_server.url)
        province = {"unit_id": "vn63:20", "period": "2023"}
        assert await total(client, **province) == ALL_2023
        assert await total(client, **province, approval="all") == ALL_2023
        # Vân Nham's 15 and its village's 5: not Đồng Tiến (submitted), not Minh Tiến
        # (reopened), not Vân Nham's second half, not another programme's session.
        body = (await client.get(PARTICIPANTS, params={**province, "approval": "approved"})).json()
        assert (body["total"], body["approval"]) == (APPROVED_2023, "approved")
        assert (await client.get(PARTICIPANTS, params=province)).json()["approval"] == "all"

        by_commune = (
            await client.get(
                PARTICIPANTS,
                params={
                    "unit_id": "vn63:186",
                    "period": "2023H1",
                    "by": "child_unit,sex",
                    "approval": "approved",
                },
            )
        ).json()
        cells = {(row["unit_id"], row["sex"]): row["value"] for row in by_commune["rows"]}
        assert cells[("vn63:06433", "female")] == 14
        assert cells[("vn63:06433", "male")] == 6
        assert cells[("vn63:06436", "female")] == cells[("vn63:06445", "female")] == 0
        assert (
            await total(client, unit_id="vn63:06433.T05", period="2023", approval="approved") == 5
        )
        assert await total(client, unit_id="vn63:06436", period="2023", approval="approved") == 0
        assert await total(client, unit_id="vn63:06433", period="2023H2", approval="approved") == 0
        # A month split keeps the approved facts' months.
        monthly = (
            await client.get(
                PARTICIPANTS,
                params={**province, "by": "month", "approval": "approved"},
            )
        ).json()
        months = {row["month"]: row["value"] for row in monthly["rows"] if row["value"]}
        assert months == {"2023-03": 15, "2023-04": 5}
        # Restated onto today's units: Vân Nham went whole to vn34:06415.
        restated = {"period": "2023", "structure": "vn34", "approval": "approved"}
        assert await total(client, unit_id="vn34:06415", **restated) == APPROVED_2023
        assert await total(client, unit_id="vn34:06440", **restated) == 0
        # Several periods in one request (one read of the approved records).
        analytics = (
            await client.get(
                "/v1/analytics",
                params={
                    "indicator": "communication_participants,clubs_active,club_members",
                    "unit_id": "vn63:20",
                    "period": "2023H1,2023H2",
                    "approval": "approved",
                },
            )
        ).json()
        assert analytics["approval"] == "approved"
        got = {(t["indicator"], t["period"]): t["value"] for t in analytics["totals"]}
        # Clubs and members count by their club's unit on the period's last day.
        assert got == {
            ("communication_participants", "2023H1"): 20,
            ("communication_participants", "2023H2"): 0,
            ("clubs_active", "2023H1"): 1,
            ("clubs_active", "2023H2"): 0,
            ("club_members", "2023H1"): 3,
            ("club_members", "2023H2"): 0,
        }
        assert await total(client, unit_id="vn63:20", period="2023H1") == 61

        # A district's approval covers its communes and villages, once each.
        await publish(nats_server.url, [approval("vn63:186", ["submit", "approve"], period="2023")])
        await wait_caught_up(client)
        assert await total(client, **province, approval="approved") == 63  # all of P8
        assert await total(client, **province, approval="approved", programme="CLC") == 0

        summary = (
            await client.get("/v1/reports/summary", params={**province, "approval": "approved"})
        ).json()
        assert summary["approval"] == "approved"
        items = {item["indicator"]: item["value"] for item in summary["items"]}
        assert items["communication_participants"] == 63
        assert items["clubs_active"] == 2

        wrong = await client.get(PARTICIPANTS, params={**province, "approval": "yes"})
        assert wrong.status_code == 422
        problem = wrong.json()
        assert problem["type"].endswith("/invalid-approval")
        assert "all, approved" in problem["detail"]
        assert problem["errors"][0]["loc"] == ["query", "approval"]


async def test_a_reopened_record_drops_out_and_rebuild_keeps_approvals(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await loaded(client, nats_server.url)
        approved = {"unit_id": "vn63:20", "period": "2023", "approval": "approved"}
        assert await total(client, **approved) == APPROVED_2023
        # Vân Nham reopened: its 20 stop counting; a late copy of the approval does not
        # bring them back.
        await publish(
            nats_server.url,
            [
                approval("vn63:06433", ["submit", "approve", "reopen"]),
                approval("vn63:06433", ["submit", "approve"]),
            ],
        )
        await wait_caught_up(client)
        assert await total(client, **approved) == 0
        await publish(
            nats_server.url, [approval("vn63:06433", ["submit", "approve", "reopen", "approve"])]
        )
        await wait_caught_up(client)
        assert await total(client, **approved) == APPROVED_2023
        # Lock events are kept, never dead-lettered.
        letters = (await client.get("/v1/dead-letters")).json()["items"]
        assert letters == []

        assert (await client.post("/v1/admin/rebuild")).status_code == 202

        async def completed() -> dict[str, Any] | None:
            status = (await client.get("/v1/status")).json()
            rebuild = status["rebuild"] or {}
            return status if rebuild.get("status") == "completed" else None

        status, _ = await eventually(completed, timeout=20)
        assert status["generation"] == "g2"
        assert await total(client, **approved) == APPROVED_2023
        report = (
            await client.get(
                "/v1/reports/approvals",
                params={"programme": "P8", "period": "2023H1", "unit_id": "vn63:186"},
            )
        ).json()
        states = {item["unit_id"]: item["state"] for item in report["items"]}
        assert states == {
            "vn63:06433": "approved",
            "vn63:06436": "submitted",
            "vn63:06445": "submitted",
        }


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_exports_honour_the_approval_filter(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await loaded(client, nats_server.url)
        asked = {
            "indicator": "communication_participants",
            "unit_id": "vn63:20",
            "period": "2023",
        }
        for approval_filter, expected in (("all", ALL_2023), ("approved", APPROVED_2023)):
            chosen = {**asked, "approval": approval_filter}
            rows = csv_rows(await client.get("/v1/exports/indicators.csv", params=chosen))
            assert rows[1][rows[0].index("Giá trị")] == str(expected)
            analytics = csv_rows(await client.get("/v1/exports/analytics.csv", params=chosen))
            assert analytics[1][analytics[0].index("Giá trị")] == str(expected)
            xlsx = await client.get("/v1/exports/indicators.xlsx", params=chosen)
            assert xlsx.status_code == 200
            sets = (await client.get("/v1/exports/dataValueSets.json", params=chosen)).json()
            assert [value["value"] for value in sets["dataValues"]] == [str(expected)]
            adx = await client.get("/v1/exports/adx", params=chosen)
            assert adx.status_code == 200
            assert f'value="{expected}"' in adx.text
        summary = csv_rows(
            await client.get(
                "/v1/exports/summary.csv",
                params={"unit_id": "vn63:20", "period": "2023", "approval": "approved"},
            )
        )
        line = next(row for row in summary if row[0] == "communication_participants")
        assert line[summary[0].index("Tổng số")] == str(APPROVED_2023)
        refused = await client.get(
            "/v1/exports/dataValueSets.json", params={**asked, "approval": "maybe"}
        )
        assert refused.status_code == 422


async def test_targets_and_completeness_count_approved(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await loaded(client, nats_server.url)
        completeness = (
            await client.get(
                "/v1/reports/completeness",
                params={"period": "2023H1", "parent": "vn63:20", "level": "commune"},
            )
        ).json()
        assert (completeness["units"], completeness["reported"]) == (4, 3)
        assert completeness["rate"] == 0.75
        assert (completeness["approved"], completeness["approved_rate"]) == (1, 0.25)
        assert completeness["approved_rate_pct"] == 25.0
        flags = {item["unit_id"]: item["approved"] for item in completeness["items"]}
        assert flags == {
            "vn63:06300": False,
            "vn63:06433": True,
            "vn63:06436": False,
            "vn63:06445": False,
        }
        # The year is not approved as a whole (only its first half).
        year = (
            await client.get(
                "/v1/reports/completeness",
                params={"period": "2023", "parent": "vn63:20", "level": "commune"},
            )
        ).json()
        assert year["approved"] == 0
        clc = (
            await client.get(
                "/v1/reports/completeness",
                params={"period": "2023H1", "parent": "vn63:20", "level": "commune",
                        "programme": "CLC"},
            )
        ).json()  # fmt: skip
        assert (clc["reported"], clc["approved"]) == (1, 0)
        rows = csv_rows(
            await client.get(
                "/v1/exports/completeness.csv",
                params={"period": "2023H1", "parent": "vn63:20", "level": "commune"},
            )
        )
        assert len(rows) == 5


async def test_approval_report_with_deadlines_and_overdue_flags(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = reporting_app(mongo, nats_server.url)
    async with running(app) as client:
        await loaded(client, nats_server.url)
        queries = service_of(app).queries
        asked = {"programme": "P8", "period": "2023H1", "unit_id": "vn63:20", "level": "commune"}

        # 16:59 UTC on 15 September is 23:59 in Vietnam: the deadline's last minute.
        queries.clock = lambda: datetime(2023, 9, 15, 16, 59, tzinfo=UTC)
        on_time = (await client.get("/v1/reports/approvals", params=asked)).json()
        assert on_time["deadline"] == "2023-09-15"
        assert on_time["today"] == "2023-09-15"
        assert on_time["overdue"] == 0

        queries.clock = lambda: datetime(2023, 9, 15, 17, 0, tzinfo=UTC)
        late = (await client.get("/v1/reports/approvals", params=asked)).json()
        assert late["today"] == "2023-09-16"
        items = {item["unit_id"]: item for item in late["items"]}
        assert list(items) == ["vn63:06300", "vn63:06433", "vn63:06436", "vn63:06445"]
        assert {unit: item["overdue"] for unit, item in items.items()} == {
            "vn63:06300": True,  # nothing submitted
            "vn63:06433": False,
            "vn63:06436": False,
            "vn63:06445": False,  # reopened, but submitted
        }
        assert late["overdue"] == 1
        assert late["states"] == {"open": 1, "submitted": 2, "approved": 1, "accepted": 0}
        van_nham = items["vn63:06433"]
        assert van_nham["state"] == "approved"
        assert van_nham["last_step"]["action"] == "approve"
        assert van_nham["last_step"]["by"] == "officer-approve"
        assert (van_nham["data_approved"], van_nham["locked"]) == (True, True)
        assert (van_nham["has_data"], van_nham["activities"]) == (True, 2)
        assert items["vn63:06445"]["last_step"]["action"] == "reopen"
        assert items["vn63:06445"]["path"] == ["open", "submitted", "approved", "accepted"]
        assert items["vn63:06300"]["last_step"] is None
        assert items["vn63:06300"]["has_data"] is False
        assert items["vn63:06436"]["locked"] is False

        year = await client.get("/v1/reports/approvals", params={**asked, "period": "2023"})
        assert year.json()["deadline"] == "2024-01-31"
        clc = await client.get("/v1/reports/approvals", params={**asked, "programme": "CLC"})
        assert clc.json()["deadline"] is None
        assert clc.json()["overdue"] == 0
        # No unit can submit a year across the reorganisation: nobody is flagged for it.
        queries.clock = lambda: datetime(2026, 6, 1, tzinfo=UTC)
        across = await client.get("/v1/reports/approvals", params={**asked, "period": "2025"})
        assert (across.json()["deadline"], across.json()["overdue"]) == (None, 0)
        queries.clock = lambda: datetime(2023, 9, 15, 17, 0, tzinfo=UTC)

        rows = csv_rows(await client.get("/v1/exports/approvals.csv", params=asked))
        header = rows[0]
        exported = {row[0]: row for row in rows[1:]}
        assert exported["vn63:06433"][header.index("Trạng thái")] == "Đã phê duyệt"
        assert exported["vn63:06300"][header.index("Quá hạn")] == "Có"
        assert exported["vn63:06300"][header.index("Hạn báo cáo")] == "2023-09-15"
        xlsx = await client.get("/v1/exports/approvals.xlsx", params=asked)
        assert xlsx.status_code == 200

        missing = await client.get("/v1/reports/approvals", params={"period": "2023H1"})
        assert missing.status_code == 422
        unknown = await client.get("/v1/reports/approvals", params={**asked, "state": "x"})
        assert unknown.status_code == 422
