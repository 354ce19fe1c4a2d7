"""Files provinces upload: columns per kind, reading CSV and XLSX, templates.

A file's first row names its columns, in Vietnamese (as in the template) or by the
JSON field name, in any order and case, with or without diacritics. Cells are read
leniently where a spreadsheet would differ from JSON: dates as cells or as
`2023-09-05` / `05/09/2023`, `Nữ`/`Nam` for sex, `Có`/`Không` for booleans,
Vietnamese labels for kinds.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from services.registry.folding import fold
from services.registry.problems import invalid

Kind = Literal["sites", "clubs", "members", "classifications"]
KINDS: tuple[Kind, ...] = ("sites", "clubs", "members", "classifications")
CellType = Literal["text", "date", "int", "bool", "sex", "site_kind", "club_kind", "classification"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    field: str
    header: str  # Vietnamese header of the template
    required: bool
    cell: CellType
    description: str
    example: str


_SOURCE = Column(
    "source_system",
    "Mã hệ thống nguồn",
    True,
    "text",
    "Mã hệ thống của tỉnh gửi dữ liệu (chữ, số, . _ -)",
    "langson-sldtbxh",
)
_EXTERNAL = Column(
    "external_id",
    "Mã định danh",
    True,
    "text",
    "Mã của bản ghi trong hệ thống của tỉnh",
    "CLB-HL-01",
)
_UNIT = Column(
    "unit_id",
    "Mã đơn vị hành chính",
    True,
    "text",
    "Mã đơn vị: vn63:<mã> trước 01/7/2025, vn34:<mã> từ 01/7/2025; thôn: <mã xã>.<mã thôn>",
    "vn63:06433",
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "sites": (
        _SOURCE,
        _EXTERNAL,
        Column(
            "kind",
            "Loại điểm",
            True,
            "site_kind",
            "Trường học, Trung tâm học tập cộng đồng, Cộng đồng hoặc Cơ quan",
            "Trường học",
        ),
        Column(
            "name",
            "Tên điểm",
            True,
            "text",
            "Tên trường, trung tâm, cộng đồng, cơ quan",
            "Trường THCS Vân Nham",
        ),
        _UNIT,
    ),
    "clubs": (
        _SOURCE,
        _EXTERNAL,
        Column(
            "name",
            "Tên câu lạc bộ",
            True,
            "text",
            "Tên câu lạc bộ",
            "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
        ),
        Column(
            "kind", "Loại câu lạc bộ", True, "club_kind", "Trường học hoặc Cộng đồng", "Trường học"
        ),
        Column("unit_id", _UNIT.header, True, "text", "Xã hoặc thôn của câu lạc bộ", "vn63:06433"),
        Column("site_id", "Mã điểm (id)", False, "text", "id của điểm do hệ thống cấp", ""),
        Column(
            "site_external_id",
            "Mã định danh điểm",
            False,
            "text",
            "Hoặc: mã định danh của điểm, cùng hệ thống nguồn",
            "THCS-VN",
        ),
        Column("programme", "Chương trình", True, "text", "P8, SFES, CLC …", "P8"),
        Column(
            "established_on",
            "Ngày thành lập",
            True,
            "date",
            "dd/mm/yyyy hoặc yyyy-mm-dd",
            "05/09/2023",
        ),
        Column("dissolved_on", "Ngày giải thể", False, "date", "Để trống nếu còn hoạt động", ""),
    ),
    "members": (
        Column(
            "source_system",
            _SOURCE.header,
            False,
            "text",
            "Hệ thống nguồn của câu lạc bộ (cùng với Mã định danh CLB)",
            "langson-sldtbxh",
        ),
        Column(
            "club_external_id",
            "Mã định danh CLB",
            False,
            "text",
            "Mã định danh của câu lạc bộ trong hệ thống của tỉnh",
            "CLB-HL-01",
        ),
        Column(
            "club_id", "Mã CLB (id)", False, "text", "Hoặc: id của câu lạc bộ do hệ thống cấp", ""
        ),
        Column(
            "member_code",
            "Mã thành viên",
            True,
            "text",
            "Mã bí danh của thành viên do tỉnh cấp (không ghi họ tên)",
            "HL01-0001",
        ),
        Column("sex", "Giới tính", True, "sex", "Nữ hoặc Nam", "Nữ"),
        Column("birth_year", "Năm sinh", False, "int", "Năm sinh (4 chữ số)", "2010"),
        Column("ethnicity", "Dân tộc", False, "text", "Mã dân tộc (01 Kinh … 54) hoặc tên", "02"),
        Column(
            "ethnic_minority",
            "Dân tộc thiểu số",
            False,
            "bool",
            "Có hoặc Không; bỏ trống nếu đã ghi Dân tộc",
            "Có",
        ),
        Column(
            "joined_on", "Ngày tham gia", True, "date", "dd/mm/yyyy hoặc yyyy-mm-dd", "05/09/2023"
        ),
        Column("left_on", "Ngày rời câu lạc bộ", False, "date", "Để trống nếu còn tham gia", ""),
    ),
    "classifications": (
        _UNIT,
        Column(
            "name",
            "Phân loại",
            True,
            "classification",
            "Khu vực (region) hoặc Đặc biệt khó khăn (especially_difficult)",
            "Khu vực",
        ),
        Column(
            "value",
            "Giá trị",
            True,
            "text",
            "I, II hoặc III cho Khu vực; Có hoặc Không cho Đặc biệt khó khăn",
            "III",
        ),
        Column("valid_from", "Từ ngày", True, "date", "dd/mm/yyyy hoặc yyyy-mm-dd", "01/01/2021"),
        Column("valid_to", "Đến ngày", False, "date", "Để trống nếu chưa kết thúc", "31/12/2025"),
    ),
}

_LABELS: dict[CellType, dict[str, str]] = {
    "sex": {
        "nu": "female",
        "female": "female",
        "f": "female",
        "nam": "male",
        "male": "male",
        "m": "male",
    },
    "site_kind": {
        "truong hoc": "school",
        "truong": "school",
        "school": "school",
        "trung tam hoc tap cong dong": "learning_centre",
        "learning_centre": "learning_centre",
        "cong dong": "community",
        "community": "community",
        "co quan": "agency",
        "agency": "agency",
    },
    "club_kind": {
        "truong hoc": "school",
        "truong": "school",
        "school": "school",
        "cong dong": "community",
        "community": "community",
    },
    "classification": {
        "khu vuc": "region",
        "region": "region",
        "dac biet kho khan": "especially_difficult",
        "dbkk": "especially_difficult",
        "especially_difficult": "especially_difficult",
    },
}
_TRUE = {"co", "x", "true", "1", "yes", "dung"}
_FALSE = {"khong", "false", "0", "no", "sai"}


def read_bool(value: Any) -> Any:
    """`Có`/`Không`, `x`, `true`/`false`, `1`/`0` as booleans; anything else unchanged."""
    if isinstance(value, bool):
        return value
    folded = fold(str(value))
    return True if folded in _TRUE else False if folded in _FALSE else value


def convert(column: Column, value: Any) -> Any:
    """A cell as the JSON field expects it (unrecognised text is left for validation)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column.cell == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        parts = text.split("/")
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            day, month, year = (int(part) for part in parts)
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                return text
        return text
    if column.cell == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        text = str(value).strip()
        return int(text) if text.isdigit() else text
    if column.cell == "bool":
        return read_bool(value)
    if column.cell in _LABELS:
        return _LABELS[column.cell].get(fold(str(value)), str(value).strip())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


@dataclass(frozen=True)
class Sheet:
    columns: list[Column | None]  # per position; None for a blank header cell
    rows: list[tuple[int, list[Any]]]  # (row number in the file, cells)


def read_sheet(kind: Kind, content: bytes, max_rows: int) -> Sheet:
    """The header and the non-blank rows of an uploaded CSV or XLSX file."""
    table = _xlsx_rows(content) if content[:4] == b"PK\x03\x04" else _csv_rows(content)
    try:
        header = next(table)
    except StopIteration:
        raise invalid(
            "import-empty", "Empty file", "The file has no header row.", ["file"]
        ) from None
    columns = _columns(kind, header)
    rows: list[tuple[int, list[Any]]] = []
    for number, cells in enumerate(table, start=2):
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells):
            continue
        if len(rows) == max_rows:
            raise invalid(
                "import-too-many-rows",
                "Too many rows",
                f"A file holds at most {max_rows} rows; split it.",
                ["file"],
            )
        rows.append((number, cells))
    if not rows:
        raise invalid("import-empty", "Empty file", "The file has no data rows.", ["file"])
    return Sheet(columns, rows)


def _columns(kind: Kind, header: list[Any]) -> list[Column | None]:
    accepted = {
        name: column
        for column in COLUMNS[kind]
        for name in (fold(column.header), fold(column.field))
    }
    columns: list[Column | None] = []
    unknown: list[str] = []
    for cell in header:
        text = "" if cell is None else str(cell)
        if not text.strip():
            columns.append(None)
            continue
        column = accepted.get(fold(text))
        if column is None:
            unknown.append(text)
        columns.append(column)
    present = {column.field for column in columns if column is not None}
    missing = [c.header for c in COLUMNS[kind] if c.required and c.field not in present]
    if unknown or missing:
        problems = [f"unknown column {name!r}" for name in unknown]
        problems += [f"missing column {name!r}" for name in missing]
        raise invalid(
            "import-columns",
            "Columns do not match the template",
            "; ".join(problems) + f". GET /v1/imports/{kind}/template.xlsx shows the columns.",
            ["file", "header"],
        )
    return columns


def _csv_rows(content: bytes) -> Iterator[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid(
            "unreadable-import",
            "Unreadable file",
            "The file is neither an XLSX workbook nor UTF-8 CSV text.",
            ["file"],
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    return iter(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))


def _xlsx_rows(content: bytes) -> Iterator[list[Any]]:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it does not read.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
            finally:
                workbook.close()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError):
        raise invalid(
            "unreadable-import", "Unreadable file", "The XLSX workbook cannot be read.", ["file"]
        ) from None
    return iter(rows)


def template(kind: Kind) -> bytes:
    """The XLSX template of a kind: a data sheet with the headers, and a guide."""
    workbook = Workbook()
    data = workbook.active
    assert data is not None
    data.title = "Dữ liệu"
    columns = COLUMNS[kind]
    data.append([column.header for column in columns])
    for index, column in enumerate(columns, start=1):
        cell = data.cell(row=1, column=index)
        cell.font = Font(bold=True)
        data.column_dimensions[cell.column_letter].width = max(len(column.header) + 4, 16)
    data.freeze_panes = "A2"
    guide = workbook.create_sheet("Hướng dẫn")
    guide.append(["Cột", "Trường (JSON)", "Bắt buộc", "Mô tả", "Ví dụ"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for column in columns:
        guide.append(
            [
                column.header,
                column.field,
                "Có" if column.required else "Không",
                column.description,
                column.example,
            ]
        )
    for letter, width in zip("ABCDE", (28, 20, 10, 70, 40), strict=True):
        guide.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
