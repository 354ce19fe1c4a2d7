"""Provinces without an API client upload CSV or XLSX files."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from openpyxl import load_workbook

from tests.events_support.registry import CENTRE_VAN_NHAM, publish_and_wait, reference_events
from tests.support.apps import events_app, running
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = (
    "Hệ thống nguồn,Mã bản ghi,Mã chương trình,Mã đơn vị hành chính,Tên hoạt động,"
    "Ngày bắt đầu,Ngày kết thúc,Số nữ tham gia,Số nam tham gia\n"
    "langson-p8,TT-01,P8,vn63:06433,Tuyên truyền bình đẳng giới,12/10/2023,12/10/2023,31,24\n"
    "langson-p8,TT-02,P8,vn63:06433,Diễn đàn trẻ em,2023-11-16,2023-11-16,80,70\n"
    "langson-p8,TT-03,P8,vn63:06433,Ngày sai,2023-11-16,2023-11-01,1,1\n"
)


@pytest.fixture
async def events(mongo: MongoBackend, nats_server: NatsServer) -> AsyncIterator[httpx.AsyncClient]:
    app = events_app(mongo, nats_server.url, import_max_bytes=64 * 1024, import_max_rows=20)
    async with running(app) as client:
        await publish_and_wait(nats_server.url, client, reference_events())
        yield client


async def test_a_csv_upload_gives_row_results_and_is_idempotent(
    events: httpx.AsyncClient,
) -> None:
    files = {"file": ("truyen-thong.csv", ("\ufeff" + CSV).encode(), "text/csv")}
    params = {"type": "communication_session"}
    # One bad row keeps the file from being written, unless `partial`.
    whole = await events.post("/v1/imports/activities", params=params, files=files)
    assert (whole.status_code, whole.json()["type"].rsplit("/", 1)[-1]) == (422, "import-rejected")
    assert whole.json()["summary"] == {
        "created": 0,
        "revised": 0,
        "unchanged": 0,
        "rejected": 1,
        "valid": 2,
    }
    assert (await events.get("/v1/activities")).json()["items"] == []
    params["partial"] = "true"
    response = await events.post("/v1/imports/activities", params=params, files=files)
    assert response.status_code == 200
    body = response.json()
    assert body["format"] == "csv"
    assert body["summary"] == {
        "created": 2,
        "revised": 0,
        "unchanged": 0,
        "rejected": 1,
        "valid": 0,
    }
    rows = {row["row"]: row for row in body["rows"]}
    assert (rows[2]["status"], rows[2]["external_id"], rows[2]["version"]) == (
        "created",
        "TT-01",
        1,
    )
    assert rows[4]["status"] == "rejected"
    assert rows[4]["errors"] == [
        {"loc": [], "msg": "Value error, ended_on must not be before started_on"}
    ]

    again = await events.post("/v1/imports/activities", params=params, files=files)
    assert again.json()["summary"] == {
        "created": 0,
        "revised": 0,
        "unchanged": 2,
        "rejected": 1,
        "valid": 0,
    }
    listed = (await events.get("/v1/activities", params={"source_system": "langson-p8"})).json()
    assert [item["activity"]["title"] for item in listed["items"]] == [
        "Tuyên truyền bình đẳng giới",
        "Diễn đàn trẻ em",
    ]


async def test_the_xlsx_template_filled_in_and_uploaded(events: httpx.AsyncClient) -> None:
    template = await events.get("/v1/imports/activities/learning_centre_class/template.xlsx")
    assert template.status_code == 200
    assert template.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(template.content))
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert "Số nữ tham gia" in headers
    row = {
        "Hệ thống nguồn *": "phutho-clc",
        "Mã bản ghi *": 7,
        "Mã chương trình *": "CLC",
        "Mã đơn vị hành chính *": "vn63:06433",
        "Mã cơ sở *": CENTRE_VAN_NHAM,
        "Tên hoạt động *": "Lớp tin học cho phụ nữ",
        "Ngày bắt đầu *": datetime(2023, 3, 1),
        "Ngày kết thúc *": datetime(2023, 3, 31),
        "Số nữ tham gia": 25,
        "Số nam tham gia": 3,
    }
    sheet.append([row.get(header) for header in headers])
    sheet.append(
        [row.get(header) if header != "Mã cơ sở *" else "site-unknown" for header in headers]
    )
    output = io.BytesIO()
    book.save(output)
    upload = {"file": ("lop-hoc.xlsx", output.getvalue(), XLSX)}
    # An unknown site is refused at once, naming the column and the value …
    strict = await events.post("/v1/imports/activities", files=upload)
    assert strict.status_code == 422
    error = strict.json()["rows"][1]["errors"][0]
    assert (error["column"], error["loc"]) == ("Mã cơ sở", ["site_id"])
    assert "'site-unknown'" in error["msg"]
    # … unless the province says the site may arrive later.
    response = await events.post(
        "/v1/imports/activities", params={"allow_pending": "true"}, files=upload
    )
    assert response.status_code == 200
    body = response.json()
    assert body["format"] == "xlsx"
    first, second = body["rows"]
    assert (first["row"], first["status"], first["activity_status"]) == (2, "created", "active")
    assert first["external_id"] == "7"
    # Both rows have the same key: the second revises the first, waiting for its site.
    assert (second["status"], second["activity_status"], second["pending_on"]) == (
        "revised",
        "pending_reference",
        ["site:site-unknown"],
    )
    detail = (await events.get(f"/v1/activities/{first['id']}")).json()
    assert detail["activity"]["type"] == "learning_centre_class"
    assert detail["activity"]["participants"] == {"female": 25, "male": 3, "ethnic_minority": None}


async def test_uploads_are_bounded_and_explain_bad_files(events: httpx.AsyncClient) -> None:
    too_big = {"file": ("big.csv", b"a" * (65 * 1024), "text/csv")}
    response = await events.post("/v1/imports/activities", files=too_big)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/body-too-large")

    unknown = {"file": ("x.csv", "Mã bản ghi,Ghi chú\n1,2\n".encode(), "text/csv")}
    response = await events.post("/v1/imports/activities", files=unknown)
    assert response.status_code == 422
    assert response.json()["unknown_columns"] == ["Ghi chú"]

    not_utf8 = {"file": ("x.csv", b"M\xe3 b\xe1n ghi\n1\n", "text/csv")}
    response = await events.post("/v1/imports/activities", files=not_utf8)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/import-unreadable")
    oversize = CSV.splitlines()[0] + "\n" + "x" * 40_000 + "\n"
    response = await events.post("/v1/imports/activities", content=oversize.encode())
    assert (response.status_code, response.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "import-unreadable",
    )
    many = (
        CSV.splitlines()[0]
        + "\n"
        + "".join(CSV.splitlines()[1].replace("TT-01", f"R-{n}") + "\n" for n in range(21))
    )
    response = await events.post("/v1/imports/activities", content=many.encode())
    assert (response.status_code, response.json()["type"].rsplit("/", 1)[-1]) == (
        413,
        "import-too-many-rows",
    )
    assert (await events.get("/v1/activities")).json()["items"] == []


async def test_row_errors_are_vietnamese_name_the_column_and_list_every_mistake(
    events: httpx.AsyncClient,
) -> None:
    header = "Loại hoạt động,Hệ thống nguồn,Mã bản ghi,Mã chương trình,Mã đơn vị hành chính,"
    header += "Tên hoạt động,Ngày bắt đầu,Ngày kết thúc,Năm học,Xếp loại,Mã cơ sở\n"
    row = "Xếp loại trung tâm học tập cộng đồng,phutho-clc,R-1,CLC,vn63:06433,Xếp loại,"
    row += f"hôm qua,01/06/2017,2016-2017,Rất tốt,{CENTRE_VAN_NHAM}\n"
    response = await events.post(
        "/v1/imports/activities",
        content=(header + row).encode(),
        headers={"Accept-Language": "vi-VN,vi;q=0.9", "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "Có dòng bị từ chối; chưa ghi gì"
    [result] = body["rows"]
    assert [error["column"] for error in result["errors"]] == ["Ngày bắt đầu", "Xếp loại"]
    assert result["errors"][1]["msg"] == (
        "Xếp loại: 'Rất tốt' không hợp lệ; chọn một trong Xuất sắc, Tốt, Trung bình, Yếu"
    )
