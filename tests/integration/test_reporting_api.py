"""The reporting API as a dashboard or an integrator uses it: catalogue, problems,
summary, exports, dashboard page."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
from openpyxl import load_workbook

from services.reporting.catalogue import CATALOGUE
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import load_scenario
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
        await load_scenario(nats_server.url, client)

        catalogue = (await client.get("/v1/indicators")).json()["items"]
        assert {item["code"] for item in catalogue} == CONTRACT_CODES
        members = next(item for item in catalogue if item["code"] == "club_members")
        assert members["name_vi"] == "Số thành viên câu lạc bộ"
        assert members["disaggregations"] == [
            "sex", "ethnic_minority", "kind", "child_unit",
            "level:province", "level:district", "level:commune",
        ]  # fmt: skip
        assert (members["measure_vi"], members["kind"]) == ("người", "stock")
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

        # The page and everything it loads come from this service: no CDN.
        page = await client.get("/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources
        assert all(source.startswith(("/dashboard/static/", "#", "data:")) for source in sources)
        for source in sources:
            if source.startswith("/"):
                assert (await client.get(source)).status_code == 200, source
        script = (await client.get("/dashboard/static/dashboard.js")).text
        assert "/v1/reports/summary" in script
        assert "https://" not in page.text + script
        assert (await client.get("/dashboard/static/../config.py")).status_code == 404


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
        await load_scenario(nats_server.url, client)

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
            "Mã chỉ tiêu", "Tên chỉ tiêu", "Thuộc đơn vị", "Mã đơn vị", "Tên đơn vị",
            "Kỳ báo cáo", "Giới tính", "Giá trị", "Đơn vị tính",
        ]  # fmt: skip
        assert len(rows) - 1 == len(json_body["rows"])
        assert [(r[3], r[6], int(r[7])) for r in rows[1:]] == [
            (row["unit_id"], {"female": "Nữ", "male": "Nam"}[row["sex"]], row["value"])
            for row in json_body["rows"]
        ]
        assert {(r[2], r[5], r[8]) for r in rows[1:]} == {("vn34:20", "2025", "lượt người")}
        assert rows[3][4] == "Xã Vân Nham"

        workbook = await client.get("/v1/exports/indicators.xlsx", params=params)
        assert workbook.status_code == 200
        sheet = xlsx_rows(workbook)
        assert sheet[0][0] == "Số lượt người tham dự truyền thông — Tỉnh Lạng Sơn — 2025"
        assert sheet[1][7] == "Giá trị"
        assert [row[7] for row in sheet[2:]] == [row["value"] for row in json_body["rows"]]

        summary = csv_rows(
            await client.get(
                "/v1/exports/summary.csv", params={"unit_id": "vn63:20", "period": "2023"}
            )
        )
        assert summary[0] == [
            "Mã chỉ tiêu", "Tên chỉ tiêu", "Mã đơn vị", "Tên đơn vị", "Kỳ báo cáo",
            "Đơn vị tính", "Tổng số", "Nữ", "Nam", "Không rõ giới tính",
        ]  # fmt: skip
        by_code = {row[0]: row for row in summary[1:]}
        assert by_code["people_reached"][1:] == [
            "Số lượt người được tiếp cận", "vn63:20", "Tỉnh Lạng Sơn", "2023", "lượt người",
            "349", "211", "138", "",
        ]  # fmt: skip
        # Five children supported, whose sex is not recorded.
        assert by_code["support_recipients"][5:] == ["lượt người", "5", "0", "0", "5"]
        assert by_code["support_value_vnd"][5:7] == ["đồng", "15000000"]

        # Vietnamese Excel: `;` between fields and a decimal comma.
        vi_summary = await client.get(
            "/v1/exports/summary.csv",
            params={"unit_id": "vn63:20", "period": "2023", "locale": "vi"},
        )
        lines = vi_summary.content.decode("utf-8-sig").splitlines()
        assert lines[0].split(";")[:3] == ["Mã chỉ tiêu", "Tên chỉ tiêu", "Mã đơn vị"]
        days = next(line for line in lines if line.startswith("training_days;"))
        assert days.split(";")[6] == "1,5"

        targets_file = await client.get("/v1/exports/targets.xlsx", params={"programme": "P8"})
        targets = xlsx_rows(targets_file)
        assert targets[0][0] == "Kế hoạch và thực hiện — chương trình P8"
        assert targets[1][-3:] == ["Kế hoạch", "Thực hiện", "Tỷ lệ đạt (%)"]
        assert targets[2] == [
            "trainees", "Số lượt học viên tập huấn", "vn63:20", "Tỉnh Lạng Sơn", "2023", "P8",
            "lượt người", 120, 100, 83.3,
        ]  # fmt: skip
        sheet_of_targets = load_workbook(io.BytesIO(targets_file.content)).active
        assert sheet_of_targets.freeze_panes == "A3"
        assert sheet_of_targets["H3"].number_format == "#,##0"
        assert sheet_of_targets["J3"].number_format == "0.0"
        assert sheet_of_targets.column_dimensions["B"].width > 20
        # A plan's 40 people stay a whole number, in JSON and in the file.
        plan = (await client.get("/v1/reports/targets", params={"programme": "P8"})).json()
        forty = next(row for row in plan if row["target"] == 40)
        assert isinstance(forty["target"], int)
        assert 40 in [row[7] for row in targets[2:]]

        completeness = csv_rows(
            await client.get(
                "/v1/exports/completeness.csv",
                params={"period": "2023", "level": "commune", "parent": "vn63:20"},
            )
        )
        assert completeness[0] == [
            "Mã đơn vị", "Tên đơn vị", "Cấp", "Thuộc đơn vị", "Kỳ báo cáo", "Đã báo cáo",
            "Số hoạt động",
        ]  # fmt: skip
        assert ["vn63:06445", "Xã Minh Tiến", "Xã", "vn63:20", "2023", "Không", "0"] in completeness

        missing = await client.get("/v1/exports/indicators.csv", params={"unit_id": "vn"})
        assert missing.status_code == 422
        assert {tuple(e["loc"]) for e in missing.json()["errors"]} == {
            ("query", "indicator"), ("query", "period"),
        }  # fmt: skip
        unknown = await client.get("/v1/exports/nothing.csv")
        assert unknown.status_code == 422
