"""Imports from CSV and XLSX files: templates, row results, all-or-nothing and partial."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook, load_workbook

from services.registry.clubs import club_id_of
from tests.registry_support.helpers import (
    DONG_TIEN,
    VAN_NHAM,
    Stream,
    problem_type,
    registry,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SOURCE = "langson-import"


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_templates_have_vietnamese_headers(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with registry(mongo, nats_server.url) as client:
        for kind in ("clubs", "members", "sites", "classifications"):
            response = await client.get(f"/v1/imports/{kind}/template.xlsx")
            assert response.status_code == 200
            assert response.headers["content-type"] == XLSX
            book = load_workbook(io.BytesIO(response.content))
            assert book.sheetnames == ["Dữ liệu", "Hướng dẫn"]
            headers = [cell.value for cell in book.worksheets[0][1]]
            assert "Mã đơn vị hành chính *" in headers or "Mã thành viên *" in headers
        clubs = load_workbook(
            io.BytesIO((await client.get("/v1/imports/clubs/template.xlsx")).content)
        )
        assert [c.value for c in clubs.worksheets[0][1]][:3] == [
            "Mã hệ thống nguồn *",
            "Mã định danh *",
            "Tên câu lạc bộ *",
        ]
        unknown = await client.get("/v1/imports/people/template.xlsx")
        assert unknown.status_code == 422


async def test_xlsx_clubs_and_csv_members(mongo: MongoBackend, nats_server: NatsServer) -> None:
    async with registry(mongo, nats_server.url) as client:
        template = load_workbook(
            io.BytesIO((await client.get("/v1/imports/clubs/template.xlsx")).content)
        )
        headers = [cell.value for cell in template.worksheets[0][1]]
        clubs = workbook(
            [
                headers,
                [
                    SOURCE,
                    "C1",
                    "CLB Vân Nham",
                    "Cộng đồng",
                    VAN_NHAM,
                    None,
                    None,
                    "P8",
                    "05/09/2023",
                    None,
                ],
                [
                    SOURCE,
                    "C2",
                    "CLB Đồng Tiến",
                    "community",
                    DONG_TIEN,
                    None,
                    None,
                    "P8",
                    "2023-10-01",
                    None,
                ],
            ]
        )
        response = await client.post(
            "/v1/imports/clubs", content=clubs, headers={"Content-Type": XLSX}
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert [(r["row"], r["status"]) for r in result["rows"]] == [
            (2, "created"),
            (3, "created"),
        ]
        assert result["rows"][0]["id"] == club_id_of(SOURCE, "C1")
        assert (await client.get(f"/v1/clubs/{club_id_of(SOURCE, 'C1')}")).json()[
            "kind"
        ] == "community"

        # CSV with a byte-order mark, JSON field names as headers, semicolons, as a form upload.
        csv_text = (
            "\ufeffsource_system;club_external_id;member_code;sex;birth_year;ethnicity;joined_on\n"
        )
        csv_text += f"{SOURCE};C1;M1;Nữ;2011;Tày;05/09/2023\n"
        csv_text += f"{SOURCE};C1;M2;Nam;2010;01;05/09/2023\n"
        csv_text += f"{SOURCE};C2;M1;nu;2011;02;2023-10-01\n"
        response = await client.post(
            "/v1/imports/members",
            files={"file": ("members.csv", csv_text.encode(), "text/csv")},
        )
        assert response.status_code == 200, response.text
        assert response.json()["summary"]["created"] == 3
        counts = (await client.get(f"/v1/clubs/{club_id_of(SOURCE, 'C1')}")).json()["members"]
        assert (counts["female"], counts["male"], counts["ethnic_minority"]) == (1, 1, 1)
        again = await client.post(
            "/v1/imports/members", files={"file": ("members.csv", csv_text.encode(), "text/csv")}
        )
        assert again.json()["summary"]["unchanged"] == 3


async def test_all_or_nothing_unless_partial(mongo: MongoBackend, nats_server: NatsServer) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        header = "Mã hệ thống nguồn,Mã định danh,Loại điểm,Tên điểm,Mã đơn vị hành chính\n"
        rows = (
            f"{SOURCE},S1,Trường học,Trường THCS Vân Nham,{VAN_NHAM}\n"
            f"{SOURCE},S2,Trường học,Trường THCS X,vn63:99999\n"
            f"{SOURCE},S3,Bệnh viện,Bệnh viện,{VAN_NHAM}\n"
            "\n"
            f"{SOURCE},S1,Trường học,Trường THCS Vân Nham,{VAN_NHAM}\n"
        )
        count = await stream.settle(client)
        refused = await client.post("/v1/imports/sites", content=(header + rows).encode())
        assert (refused.status_code, problem_type(refused)) == (422, "import-rejected")
        body = refused.json()
        assert body["written"] is False
        statuses = [
            (r["row"], r["status"], (r.get("problem") or {}).get("type", "").rsplit("/", 1)[-1])
            for r in body["rows"]
        ]
        assert statuses == [
            (2, "valid", ""),
            (3, "rejected", "unknown-unit"),
            (4, "rejected", "validation"),
            (6, "rejected", "duplicate-row"),
        ]
        assert (await client.get("/v1/sites")).json()["items"] == []
        assert await stream.settle(client) == count  # nothing but the markers

        partial = await client.post(
            "/v1/imports/sites?partial=true", content=(header + rows).encode()
        )
        assert partial.status_code == 200
        summary = partial.json()["summary"]
        assert (summary["created"], summary["rejected"]) == (1, 3)
        assert [s["external_id"] for s in (await client.get("/v1/sites")).json()["items"]] == ["S1"]


async def test_classification_rows_and_bad_files(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with registry(mongo, nats_server.url) as client:
        header = "Mã đơn vị hành chính,Phân loại,Giá trị,Từ ngày,Đến ngày\n"
        good = (
            f"{VAN_NHAM},Khu vực,III,01/01/2021,30/06/2025\n"
            f"{VAN_NHAM},Khu vực,II,01/01/2016,31/12/2020\n"
            f"{VAN_NHAM}.T05,Đặc biệt khó khăn,Có,01/01/2021,\n"
        )
        await client.post(
            "/v1/units", json={"parent_id": VAN_NHAM, "code": "T05", "name": "Thôn 5"}
        )
        response = await client.post(
            "/v1/imports/classifications", content=(header + good).encode()
        )
        assert response.status_code == 200, response.text
        unit = (await client.get(f"/v1/units/{VAN_NHAM}")).json()
        assert [p["value"] for p in unit["classifications"]["region"]] == ["II", "III"]
        village = (await client.get(f"/v1/units/{VAN_NHAM}.T05")).json()
        assert village["classifications"]["especially_difficult"][0]["value"] is True

        overlapping = header + f"{VAN_NHAM},Khu vực,I,01/06/2020,\n"
        refused = await client.post("/v1/imports/classifications", content=overlapping.encode())
        assert refused.status_code == 422
        assert refused.json()["rows"][0]["problem"]["type"].endswith("/classification-overlap")

        wrong_columns = await client.post("/v1/imports/classifications", content=b"foo,bar\n1,2\n")
        assert (wrong_columns.status_code, problem_type(wrong_columns)) == (422, "import-columns")
        assert "foo" in wrong_columns.json()["detail"]
        latin1 = (header + "vn63:06433,Khu vực,I,2020-01-01,\n").encode("latin-1", errors="replace")
        unreadable = await client.post("/v1/imports/classifications", content=b"\xff\xfe" + latin1)
        assert (unreadable.status_code, problem_type(unreadable)) == (422, "import-unreadable")
        broken_xlsx = await client.post("/v1/imports/clubs", content=b"PK\x03\x04garbage")
        assert (broken_xlsx.status_code, problem_type(broken_xlsx)) == (422, "import-unreadable")
        oversize = header + f"{VAN_NHAM},Khu vực," + "I" * 200_000 + ",01/01/2021,\n"
        choked = await client.post("/v1/imports/classifications", content=oversize.encode())
        assert (choked.status_code, problem_type(choked)) == (422, "import-unreadable")
        empty = await client.post("/v1/imports/clubs", content=header.encode())
        assert empty.status_code == 422


async def test_file_size_is_bounded(mongo: MongoBackend, nats_server: NatsServer) -> None:
    async with registry(mongo, nats_server.url, import_max_bytes=64 * 1024) as client:
        big = b"x" * (200 * 1024)
        response = await client.post("/v1/imports/clubs", content=big)
        assert (response.status_code, problem_type(response)) == (413, "body-too-large")
        form = await client.post("/v1/imports/clubs", files={"file": ("big.csv", big, "text/csv")})
        assert (form.status_code, problem_type(form)) == (413, "body-too-large")
