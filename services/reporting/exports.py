"""CSV and XLSX exports: the rows of a JSON report under Vietnamese headers.

Every table names its unit(s) and period(s) in columns, its indicators' units of
measure in Vietnamese (`Đơn vị tính`), and keeps whole numbers whole (a plan's `40.0`
is written 40). Codes are translated into Vietnamese labels (Nữ/Nam, Có/Không, …);
figures are exactly those of the JSON.

- CSV: UTF-8 with a byte-order mark and CRLF line ends, so that Excel opens
  Vietnamese text correctly; `,` between fields and `.` in decimals, or with
  `locale=vi` `;` and a decimal comma, as Excel set to Vietnamese reads them.
- XLSX (openpyxl): a title row, then the header row (bold, frozen, with filters),
  column widths fitted to the content, and number formats (`#,##0` for whole
  numbers, `#,##0.0#` for decimals).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from services.reporting.catalogue import INDICATORS, TIME_DIMENSIONS

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Locale = Literal["en", "vi"]

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
    "grade": "Xếp loại",
    "month": "Tháng",
    "quarter": "Quý",
    "year": "Năm",
    "school_year": "Năm học",
}
LEVEL_LABELS = {
    "nation": "Toàn quốc",
    "province": "Tỉnh",
    "district": "Huyện",
    "commune": "Xã",
    "village": "Thôn",
}
UNIT_HEADERS = ["Mã đơn vị", "Tên đơn vị"]
INDICATOR_HEADERS = ["Mã chỉ tiêu", "Tên chỉ tiêu"]
PERIOD_HEADER = "Kỳ báo cáo"
MEASURE_HEADER = "Đơn vị tính"
VALUE_HEADER = "Giá trị"
WITHIN_HEADER = "Thuộc đơn vị"


@dataclass(frozen=True)
class Table:
    name: str
    headers: list[str]
    rows: list[list[Any]]
    title: str = ""
    # Headers of columns holding percentages (one decimal).
    percent: frozenset[str] = field(default_factory=frozenset)


def _label(value: Any) -> Any:
    if value is True:
        return "Có"
    if value is False:
        return "Không"
    if value is None:
        return "Không rõ"
    return LABELS.get(value, value) if isinstance(value, str) else value


def whole(value: Any) -> Any:
    """Whole numbers as ints (40.0 → 40); anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _indicator_name(code: str) -> str:
    indicator = INDICATORS.get(code)
    return indicator.name_vi if indicator else code


def _measure_vi(code: str) -> str:
    indicator = INDICATORS.get(code)
    return indicator.measure_vi if indicator else ""


def _dimension_cell(dim: str, value: Any) -> Any:
    return value if dim in TIME_DIMENSIONS else _label(value)


def _split_columns(by: Sequence[str]) -> list[str]:
    return [dim for dim in by if dim in DIMENSION_HEADERS]


def _splits_by_unit(by: Sequence[str]) -> bool:
    return any(dim == "child_unit" or dim.startswith("level:") for dim in by)


def _period_title(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "…"


def indicator_table(body: dict[str, Any]) -> Table:
    """The values endpoint's answer (one indicator; one or several units and periods)."""
    code = body["indicator"]
    asked: dict[str, Any] = {"indicator": code, "period": body["period"]}
    if _splits_by_unit(body["by"]):
        asked["within_unit_id"] = body["unit_id"]
    else:
        asked |= {"unit_id": body["unit_id"], "unit_name": body["unit_name"]}
    rows = [asked | row for row in body["rows"]]
    title = f"{_indicator_name(code)} — {body['unit_name'] or body['unit_id']} — " + (
        _period_title(body["period"])
    )
    return _rows_table(f"{code}_{body['unit_id']}_{body['period']}", title, body["by"], rows)


def analytics_table(body: dict[str, Any]) -> Table:
    """The analytics answer: several indicators, units and periods."""
    names = [unit["unit_name"] or unit["unit_id"] for unit in body["units"]]
    keys = [period["period"] for period in body["periods"]]
    title = (
        f"{', '.join(_indicator_name(code) for code in body['indicators'])} — "
        f"{', '.join(names)} — {_period_title(', '.join(keys))}"
    )
    name = f"analytics_{'-'.join(unit['unit_id'] for unit in body['units'])}_{'-'.join(keys)}"
    return _rows_table(name[:120], title, body["by"], body["rows"])


def _rows_table(name: str, title: str, by: Sequence[str], rows: Sequence[dict[str, Any]]) -> Table:
    dims = _split_columns(by)
    with_within = _splits_by_unit(by)
    headers = [*INDICATOR_HEADERS]
    if with_within:
        headers.append(WITHIN_HEADER)
    headers += [*UNIT_HEADERS, PERIOD_HEADER, *[DIMENSION_HEADERS[dim] for dim in dims]]
    headers += [VALUE_HEADER, MEASURE_HEADER]
    table_rows = []
    for row in rows:
        code = row["indicator"]
        line: list[Any] = [code, _indicator_name(code)]
        if with_within:
            line.append(row.get("within_unit_id"))
        line += [row.get("unit_id"), row.get("unit_name"), row.get("period")]
        line += [_dimension_cell(dim, row[dim]) for dim in dims]
        line += [whole(row["value"]), _measure_vi(code)]
        table_rows.append(line)
    return Table(name, headers, table_rows, title)


def summary_table(body: dict[str, Any]) -> Table:
    headers = [
        *INDICATOR_HEADERS,
        *UNIT_HEADERS,
        PERIOD_HEADER,
        MEASURE_HEADER,
        "Tổng số",
        "Nữ",
        "Nam",
        "Không rõ giới tính",
    ]
    rows = [
        [
            item["indicator"],
            item["name_vi"],
            body["unit_id"],
            body["unit_name"],
            body["period"],
            _measure_vi(item["indicator"]),
            whole(item["value"]),
            whole(item.get("female")),
            whole(item.get("male")),
            whole(item.get("sex_unknown")),
        ]
        for item in body["items"]
    ]
    title = f"Tổng hợp chỉ tiêu — {body['unit_name'] or body['unit_id']} — {body['period']}"
    return Table(f"summary_{body['unit_id']}_{body['period']}", headers, rows, title)


def targets_table(programme: str | None, items: list[dict[str, Any]]) -> Table:
    headers = [
        *INDICATOR_HEADERS,
        *UNIT_HEADERS,
        PERIOD_HEADER,
        "Chương trình",
        MEASURE_HEADER,
        "Kế hoạch",
        "Thực hiện",
        "Tỷ lệ đạt (%)",
    ]
    rows = [
        [
            item["indicator"],
            _indicator_name(item["indicator"]),
            item["unit_id"],
            item.get("unit_name"),
            item["period"],
            item.get("programme"),
            _measure_vi(item["indicator"]),
            whole(item["target"]),
            whole(item["actual"]),
            item["achieved_pct"],
        ]
        for item in items
    ]
    title = "Kế hoạch và thực hiện" + (f" — chương trình {programme}" if programme else "")
    return Table(
        f"targets_{programme or 'all'}",
        headers,
        rows,
        title,
        percent=frozenset({"Tỷ lệ đạt (%)"}),
    )


def completeness_table(body: dict[str, Any]) -> Table:
    headers = [
        *UNIT_HEADERS,
        "Cấp",
        WITHIN_HEADER,
        PERIOD_HEADER,
        "Đã báo cáo",
        "Số hoạt động",
    ]
    level = LEVEL_LABELS.get(body["level"], body["level"])
    rows = [
        [
            item["unit_id"],
            item["name"],
            level,
            body["parent"],
            body["period"],
            _label(item["reported"]),
            item["activities"],
        ]
        for item in body["items"]
    ]
    title = (
        f"Mức độ đầy đủ của báo cáo — {body['parent']} — {body['period']} — "
        f"{body['reported']}/{body['units']} đơn vị đã báo cáo"
    )
    return Table(f"completeness_{body['parent']}_{body['period']}", headers, rows, title)


STATE_LABELS = {
    "open": "Chưa gửi",
    "submitted": "Đã gửi",
    "approved": "Đã phê duyệt",
    "accepted": "Đã tiếp nhận",
}
ACTION_LABELS = {
    "submit": "Gửi",
    "approve": "Phê duyệt",
    "accept": "Tiếp nhận",
    "reopen": "Mở lại",
}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def approvals_table(body: dict[str, Any]) -> Table:
    """The approval report: one row per unit with its state, last step and deadline."""
    headers = [
        *UNIT_HEADERS,
        "Cấp",
        WITHIN_HEADER,
        "Chương trình",
        PERIOD_HEADER,
        "Trạng thái",
        "Bước cuối",
        "Người thực hiện",
        "Thời điểm",
        "Số liệu đã được phê duyệt",
        "Đã khóa",
        "Có số liệu",
        "Số hoạt động",
        "Hạn báo cáo",
        "Quá hạn",
    ]
    rows = []
    for item in body["items"]:
        step: dict[str, Any] = item.get("last_step") or {}
        action = str(step.get("action") or "")
        at, deadline = step.get("at"), item.get("deadline")
        rows.append(
            [
                item["unit_id"],
                item["name"],
                LEVEL_LABELS.get(item["level"], item["level"]),
                body["unit_id"],
                body["programme"],
                body["period"],
                STATE_LABELS.get(item["state"], item["state"]),
                ACTION_LABELS.get(action, action) or None,
                step.get("by"),
                _iso(at),
                _label(item["data_approved"]),
                _label(item["locked"]),
                _label(item["has_data"]),
                item["activities"],
                _iso(deadline),
                _label(item["overdue"]),
            ]
        )
    title = (
        f"Tình trạng phê duyệt — {body['programme']} — {body['unit_name'] or body['unit_id']} — "
        f"{body['period']}"
    )
    name = f"approvals_{body['programme']}_{body['unit_id']}_{body['period']}"
    return Table(name, headers, rows, title)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _csv_cell(value: Any, locale: Locale) -> Any:
    if value is None:
        return ""
    if locale == "vi" and isinstance(value, float):
        return repr(value).replace(".", ",")
    return value


def to_csv(table: Table, locale: Locale = "en") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if locale == "vi" else ",", lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows([[_csv_cell(value, locale) for value in row] for row in table.rows])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _width(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return len(f"{value:,}")
    return len(str(value))


def to_xlsx(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Báo cáo"
    columns = max(len(table.headers), 1)
    sheet.append([table.title or table.name])
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=columns)
    sheet.append(table.headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.rows:
        sheet.append([_cell(value) for value in row])
    for position, header in enumerate(table.headers, start=1):
        values = [row[position - 1] for row in table.rows if position - 1 < len(row)]
        widest = max([len(header), *(_width(value) for value in values if value is not None)])
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = min(max(widest + 2, 8), 60)
        for cell in sheet[letter][2:]:
            if isinstance(cell.value, bool) or not isinstance(cell.value, int | float):
                continue
            if header in table.percent:
                cell.number_format = "0.0"
            elif isinstance(cell.value, int):
                cell.number_format = "#,##0"
            else:
                cell.number_format = "#,##0.0#"
    sheet.freeze_panes = "A3"
    if table.rows:
        sheet.auto_filter.ref = f"A2:{get_column_letter(columns)}{len(table.rows) + 2}"
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
