"""The reporting API as a dashboard or an integrator uses it: catalogue, problems,
summary, exports, dashboard page."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from services.reporting.catalogue import CATALOGUE
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import wait_caught_up
from tests.reporting_support.events import activity_events, publish, registry_events
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

CONTRACT_CODES = {
    "clubs_active", "club_members", "club_meetings", "communication_sessions",
    "communication_participants", "training_courses", "trainees", "training_days", "forums",
    "forum_participants", "support_recipients", "support_value_vnd", "school_exchanges",
    "learning_centre_classes", "learning_centre_attendance", "learning_centre_ratings",
    "people_reached", "budget_vnd",
}  # fmt: skip


async def values(client: httpx.AsyncClient, code: str, **params: str) -> httpx.Response:
    return await client.get(f"/v1/indicators/{code}/values", params=params)


async def test_catalogue_problems_summary_and_dashboard(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await publish(nats_server.url, registry_events())
        await publish(nats_server.url, activity_events())
        await wait_caught_up(client)

        catalogue = (await client.get("/v1/indicators")).json()["items"]
        assert {item["code"] for item in catalogue} == CONTRACT_CODES
        members = next(item for item in catalogue if item["code"] == "club_members")
        assert members["name_vi"] == "Số thành viên câu lạc bộ"
        assert members["disaggregations"] == ["sex", "ethnic_minority", "kind", "child_unit"]
        assert all(item["definition"] and item["measure"] for item in catalogue)

        problems: list[tuple[httpx.Response, int, str]] = [
            (await values(client, "nope", unit_id="vn", period="2023"), 404, "unknown-indicator"),
            (await values(client, "trainees", unit_id="vn", period="2023Q5"), 422,
             "invalid-period"),
            (await values(client, "trainees", unit_id="vn", period="SY2017-2019"), 422,
             "invalid-period"),
            (await values(client, "trainees", unit_id="vn63:99", period="2023"), 404,
             "unknown-unit"),
            (await values(client, "trainees", unit_id="vn", period="2023", by="grade"), 422,
             "unsupported-disaggregation"),
            (await values(client, "trainees", unit_id="vn", period="2023",
                          by="sex,ethnic_minority"), 422, "unsupported-disaggregation"),
            (await values(client, "trainees", unit_id="vn63:20", period="2023",
                          structure="vn34"), 422, "unit-not-in-structure"),
            (await values(client, "trainees", unit_id="vn", period="2023", structure="x"), 422,
             "validation"),
            (await client.get("/v1/reports/completeness",
                              params={"period": "2023", "level": "hamlet"}), 422,
             "invalid-level"),
        ]  # fmt: skip
        for response, status, kind in problems:
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("/" + kind)
        bad_period = problems[1][0].json()
        assert bad_period["errors"][0]["loc"] == ["query", "period"]

        # Members split both ways: the crossing adds up to the total too.
        crossed = (
            await values(
                client, "club_members", unit_id="vn63:20", period="2023", by="sex,ethnic_minority"
            )
        ).json()
        assert len(crossed["rows"]) == 4
        assert sum(row["value"] for row in crossed["rows"]) == crossed["total"] == 6

        summary = (
            await client.get("/v1/reports/summary", params={"unit_id": "vn63:20", "period": "2023"})
        ).json()
        assert summary["unit_name"] == "Tỉnh Lạng Sơn"
        items = {item["indicator"]: item for item in summary["items"]}
        assert set(items) == CONTRACT_CODES
        assert (items["people_reached"]["female"], items["people_reached"]["male"]) == (211, 138)
        assert items["people_reached"]["value"] == 349
        assert (items["club_members"]["female"], items["club_members"]["male"]) == (4, 2)
        assert items["budget_vnd"]["value"] == 32_500_000
        assert items["training_days"]["value"] == 1.5
        for indicator in CATALOGUE:
            single = (await values(client, indicator.code, unit_id="vn63:20", period="2023")).json()
            assert items[indicator.code]["value"] == single["total"], indicator.code
        restated = (
            await client.get(
                "/v1/reports/summary",
                params={"unit_id": "vn34:20", "period": "2025", "structure": "vn34"},
            )
        ).json()
        restated_items = {item["indicator"]: item for item in restated["items"]}
        assert restated_items["communication_participants"]["value"] == 37

        page = await client.get("/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "/v1/reports/summary" in page.text
        assert "<script src" not in page.text
        assert "https://" not in page.text


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def xlsx_rows(response: httpx.Response) -> list[list[Any]]:
    workbook = load_workbook(io.BytesIO(response.content))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


async def test_exports_have_the_json_rows_under_vietnamese_headers(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await publish(nats_server.url, registry_events())
        await publish(nats_server.url, activity_events())
        await wait_caught_up(client)

        params = {
            "indicator": "communication_participants",
            "unit_id": "vn34:20",
            "period": "2025",
            "by": "child_unit,sex",
            "structure": "vn34",
        }
        json_body = (
            await values(client, params["indicator"], **{k: v for k, v in params.items()
                                                          if k != "indicator"})
        ).json()  # fmt: skip
        response = await client.get("/v1/exports/indicators.csv", params=params)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = csv_rows(response)
        assert rows[0] == [
            "Mã chỉ tiêu", "Tên chỉ tiêu", "Mã đơn vị", "Tên đơn vị", "Kỳ báo cáo",
            "Giới tính", "Giá trị",
        ]  # fmt: skip
        assert len(rows) - 1 == len(json_body["rows"])
        assert [(r[2], r[5], int(r[6])) for r in rows[1:]] == [
            (row["unit_id"], {"female": "Nữ", "male": "Nam"}[row["sex"]], row["value"])
            for row in json_body["rows"]
        ]
        assert rows[3][3] == "Xã Vân Nham"

        workbook = await client.get("/v1/exports/indicators.xlsx", params=params)
        assert workbook.status_code == 200
        sheet = xlsx_rows(workbook)
        assert sheet[0][6] == "Giá trị"
        assert [row[6] for row in sheet[1:]] == [row["value"] for row in json_body["rows"]]

        summary = csv_rows(
            await client.get(
                "/v1/exports/summary.csv", params={"unit_id": "vn63:20", "period": "2023"}
            )
        )
        assert summary[0] == ["Mã chỉ tiêu", "Tên chỉ tiêu", "Đơn vị tính", "Tổng số", "Nữ", "Nam"]
        people = next(row for row in summary if row[0] == "people_reached")
        assert people[1:] == ["Số lượt người được tiếp cận", "people", "349", "211", "138"]

        targets = xlsx_rows(
            await client.get("/v1/exports/targets.xlsx", params={"programme": "P8"})
        )
        assert targets[0][-1] == "Tỷ lệ đạt (%)"
        assert [
            targets[1][0], *targets[1][2:]
        ] == ["trainees", "vn63:20", "2023", 120, 100, 83.3]  # fmt: skip

        completeness = csv_rows(
            await client.get(
                "/v1/exports/completeness.csv",
                params={"period": "2023", "level": "commune", "parent": "vn63:20"},
            )
        )
        assert completeness[0] == ["Mã đơn vị", "Tên đơn vị", "Đã báo cáo", "Số hoạt động"]
        assert ["vn63:06445", "Xã Minh Tiến", "Không", "0"] in completeness

        missing = await client.get("/v1/exports/indicators.csv", params={"unit_id": "vn"})
        assert missing.status_code == 422
        assert {tuple(e["loc"]) for e in missing.json()["errors"]} == {
            ("query", "indicator"), ("query", "period"),
        }  # fmt: skip
        unknown = await client.get("/v1/exports/nothing.csv")
        assert unknown.status_code == 422
