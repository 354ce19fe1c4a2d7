"""Upload files: templates with Vietnamese headers, CSV and XLSX rows into items."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from services.events.columns import columns_for
from services.events.imports import detect_format, read_csv, read_xlsx, to_item
from services.events.items import body_of
from services.events.templates import GUIDE_SHEET, template_xlsx
from shared.http import Problem

CSV_ROWS = (
    "Hệ thống nguồn;Mã bản ghi;Mã chương trình;Mã đơn vị hành chính;Tên hoạt động;"
    "Ngày bắt đầu;Ngày kết thúc;Số nữ tham gia;Số nam tham gia;Thành phần tham gia;Chủ đề;"
    "Kinh phí (đồng)\n"
    "langson-p8;HL-1;P8;vn63:06433;Tuyên truyền;12/10/2023;12/10/2023;31;24;"
    '"student=50; teacher=5";"school_violence; gender_equality";3.000.000\n'
    ";;;;;;;;;;;\n"
    "langson-p8;HL-2;P8;vn63:06433;Diễn đàn;2023-13-45;2023-10-12;nhiều;0;;;0\n"
)


def test_template_has_vietnamese_headers_required_marks_and_a_guide() -> None:
    book = load_workbook(io.BytesIO(template_xlsx("training_course")))
    sheet = book.worksheets[0]
    assert sheet.title == "training_course"
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["Hệ thống nguồn *", "Mã bản ghi *", "Mã chương trình *"]
    assert "Số nữ tham gia" in headers
    assert headers[-2:] == ["Số lớp *", "Số ngày *"]
    assert sheet.max_row == 1  # an untouched template imports nothing
    guide = book[GUIDE_SHEET]
    fields = [row[1] for row in guide.iter_rows(min_row=2, values_only=True) if row[1]]
    assert fields == [column.field for column in columns_for("training_course")]


def test_csv_with_bom_semicolons_and_vietnamese_formats() -> None:
    rows = list(read_csv(("\ufeff" + CSV_ROWS).encode()))
    assert [row.number for row in rows] == [2, 4]  # the empty line 3 is skipped
    item = to_item(rows[0], 0, "communication_session")
    assert item.errors == []
    assert item.activity is not None
    body = body_of(item.activity)
    assert item.key == ("langson-p8", "HL-1")
    assert (body["started_on"], body["participants"]) == (
        "2023-10-12",
        {"female": 31, "male": 24, "ethnic_minority": None},
    )
    assert body["roles"] == {"student": 50, "teacher": 5}
    assert body["topics"] == ["school_violence", "gender_equality"]
    assert body["budget_vnd"] == 3_000_000


def test_a_bad_cell_rejects_its_row_naming_the_column() -> None:
    bad = list(read_csv(CSV_ROWS.encode()))[1]
    item = to_item(bad, 1, "communication_session")
    assert item.activity is None
    assert item.errors == [
        {
            "loc": ["started_on"],
            "msg": "Ngày bắt đầu: '2023-13-45' is not a date (use YYYY-MM-DD or DD/MM/YYYY)",
        },
        {"loc": ["participants", "female"], "msg": "Số nữ tham gia: 'nhiều' is not a whole number"},
    ]


def test_a_row_without_a_type_is_rejected() -> None:
    row = next(iter(read_csv(CSV_ROWS.encode())))
    assert to_item(row, 0, None).errors[0]["loc"] == ["type"]


def test_json_field_names_work_as_headers_and_unknown_headers_are_refused() -> None:
    text = "source_system,external_id,type,programme,unit_id,title,started_on,ended_on\n"
    text += "langson-p8,F-1,forum,P8,vn63:06433,Diễn đàn,2023-10-12,2023-10-12\n"
    [row] = read_csv(text.encode())
    assert to_item(row, 0, None).activity is not None
    with pytest.raises(Problem) as raised:
        list(read_csv(b"source_system,external_id,Ghi chu\n"))
    assert raised.value.status == 422
    assert raised.value.extensions["columns"] == ["Ghi chu"]


def test_a_filled_xlsx_template_reads_back_with_excel_cell_types() -> None:
    book = load_workbook(io.BytesIO(template_xlsx("learning_centre_rating")))
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    values = {
        "Hệ thống nguồn *": "phutho-clc",
        "Mã bản ghi *": 1024,  # Excel keeps numeric ids as numbers
        "Mã chương trình *": "CLC",
        "Mã đơn vị hành chính *": "vn63:06433",
        "Mã cơ sở *": "site-tthtcd-van-nham",
        "Tên hoạt động *": "Đánh giá xếp loại TTHTCĐ",
        "Ngày bắt đầu *": datetime(2017, 6, 1),
        "Ngày kết thúc *": datetime(2017, 6, 1),
        "Số nữ tham gia": 3.0,
        "Năm học *": "2016-2017",
        "Xếp loại *": "good",
    }
    sheet.append([values.get(header) for header in headers])
    output = io.BytesIO()
    book.save(output)
    data = output.getvalue()
    assert detect_format(None, None, data) == "xlsx"
    title, rows = read_xlsx(data)
    [row] = list(rows)
    item = to_item(row, 0, title)
    assert item.errors == []
    assert item.activity is not None
    assert item.key == ("phutho-clc", "1024")
    body = body_of(item.activity)
    assert (body["type"], body["grade"], body["started_on"]) == (
        "learning_centre_rating",
        "good",
        "2017-06-01",
    )
    assert body["participants"]["female"] == 3


def test_an_empty_workbook_has_no_header() -> None:
    output = io.BytesIO()
    Workbook().save(output)
    with pytest.raises(Problem) as raised:
        list(read_xlsx(output.getvalue())[1])
    assert raised.value.kind == "import-no-header"


def test_csv_lines_may_end_in_cr_lf_or_crlf() -> None:
    for newline in ("\r", "\n", "\r\n"):
        text = CSV_ROWS.replace("\n", newline)
        rows = list(read_csv(text.encode()))
        assert [row.values.get("external_id") for row in rows] == ["HL-1", "HL-2"], newline


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"9\r\x0e", "import-unknown-columns"),
        (b"M\xc3\xa3 b\xe1\xba\xa3n ghi\n" + b"x" * 200_000 + b"\n", "import-unreadable"),
    ],
)
def test_a_csv_the_reader_chokes_on_is_a_422_not_a_crash(data: bytes, kind: str) -> None:
    with pytest.raises(Problem) as raised:
        list(read_csv(data))
    assert (raised.value.status, raised.value.kind) == (422, kind)
