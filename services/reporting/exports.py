"""CSV and XLSX exports: the rows of a JSON report under Vietnamese headers.

CSV is UTF-8 with a byte-order mark and CRLF line ends, so that Excel opens
Vietnamese text correctly; XLSX is written with openpyxl. Codes are translated into
Vietnamese labels (Nữ/Nam, Có/Không, …); figures are exactly those of the JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from services.reporting.catalogue import INDICATORS

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LABELS: dict[str, str] = {
    "female": "Nữ",
    "male": "Nam",
    "school": "Trường học",
    "community": "Cộng đồng",
    "scholarship": "Học bổng",
    "gift": "Quà tặng",
    "cash": "Tiền mặt",
    "health": "Y tế",
    "legal": "Pháp lý",
    "shelter": "Nơi ở",
    "other": "Khác",
    "excellent": "Xuất sắc",
    "good": "Tốt",
    "average": "Trung bình",
    "weak": "Yếu",
    "club_meeting": "Sinh hoạt câu lạc bộ",
    "communication_session": "Buổi truyền thông",
    "training_course": "Lớp tập huấn",
    "forum": "Diễn đàn",
    "support_delivery": "Hỗ trợ",
    "school_exchange": "Giao lưu giữa các trường",
    "learning_centre_class": "Lớp tại trung tâm học tập cộng đồng",
    "learning_centre_rating": "Xếp loại trung tâm học tập cộng đồng",
}
DIMENSION_HEADERS = {
    "sex": "Giới tính",
    "ethnic_minority": "Dân tộc thiểu số",
    "kind": "Loại",
    "month": "Tháng",
    "grade": "Xếp loại",
}


@dataclass(frozen=True)
class Table:
    name: str
    headers: list[str]
    rows: list[list[Any]]


def _label(value: Any) -> Any:
    if value is True:
        return "Có"
    if value is False:
        return "Không"
    if value is None:
        return "Không rõ"
    return LABELS.get(value, value) if isinstance(value, str) else value


def _indicator_name(code: str) -> str:
    indicator = INDICATORS.get(code)
    return indicator.name_vi if indicator else code


def indicator_table(body: dict[str, Any]) -> Table:
    dims = [dim for dim in body["by"] if dim != "child_unit"]
    headers = ["Mã chỉ tiêu", "Tên chỉ tiêu", "Mã đơn vị", "Tên đơn vị", "Kỳ báo cáo"]
    headers += [DIMENSION_HEADERS[dim] for dim in dims] + ["Giá trị"]
    rows = []
    for row in body["rows"]:
        rows.append(
            [
                body["indicator"],
                _indicator_name(body["indicator"]),
                row.get("unit_id", body["unit_id"]),
                row.get("unit_name", body["unit_name"]) if "unit_id" in row else body["unit_name"],
                body["period"],
                *[row[dim] if dim == "month" else _label(row[dim]) for dim in dims],
                row["value"],
            ]
        )
    return Table(f"{body['indicator']}_{body['unit_id']}_{body['period']}", headers, rows)


def summary_table(body: dict[str, Any]) -> Table:
    headers = ["Mã chỉ tiêu", "Tên chỉ tiêu", "Đơn vị tính", "Tổng số", "Nữ", "Nam"]
    rows = [
        [
            item["indicator"],
            item["name_vi"],
            item["measure"],
            item["value"],
            item.get("female"),
            item.get("male"),
        ]
        for item in body["items"]
    ]
    return Table(f"summary_{body['unit_id']}_{body['period']}", headers, rows)


def targets_table(programme: str, items: list[dict[str, Any]]) -> Table:
    headers = [
        "Mã chỉ tiêu",
        "Tên chỉ tiêu",
        "Mã đơn vị",
        "Kỳ báo cáo",
        "Kế hoạch",
        "Thực hiện",
        "Tỷ lệ đạt (%)",
    ]
    rows = [
        [
            item["indicator"],
            _indicator_name(item["indicator"]),
            item["unit_id"],
            item["period"],
            item["target"],
            item["actual"],
            item["achieved_pct"],
        ]
        for item in items
    ]
    return Table(f"targets_{programme}", headers, rows)


def completeness_table(body: dict[str, Any]) -> Table:
    headers = ["Mã đơn vị", "Tên đơn vị", "Đã báo cáo", "Số hoạt động"]
    rows = [
        [item["unit_id"], item["name"], _label(item["reported"]), item["activities"]]
        for item in body["items"]
    ]
    return Table(f"completeness_{body['parent']}_{body['period']}", headers, rows)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows([[_cell(value) for value in row] for row in table.rows])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Báo cáo"
    sheet.append(table.headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_name(table: Table, extension: str) -> str:
    # ASCII only: the name travels in a Content-Disposition header.
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in table.name)
    return f"{safe}.{extension}"


def column(table: Table, header: str) -> Sequence[Any]:
    position = table.headers.index(header)
    return [row[position] for row in table.rows]
