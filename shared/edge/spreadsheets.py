"""Files provinces upload (CSV or XLSX) and the templates they fill in.

One pipeline for every upload of every service:

- `read_upload` takes the file from the body or the `file` field of a form, under the
  route's byte limit (413 `body-too-large`).
- `read_table` reads CSV (UTF-8, `,` `;` or tab, any line ending, bare CR included) or
  the first sheet of an XLSX workbook; a file that cannot be read is 422
  `import-unreadable`.
- `read_rows` matches the header row to the template's columns (the Vietnamese header
  or the JSON field name, in any case, with or without diacritics, a trailing `*`
  ignored), refuses more than `max_rows` data rows (413 `import-too-many-rows`, before
  anything is checked), and converts every cell: a cell that cannot be read becomes an
  error of its row that names the column as the template does and, for a column of
  fixed values, the values it takes (`Giới tính: chọn một trong Nữ, Nam`). Every
  mistake of a row is reported, not only the first.
- `template_xlsx` writes the template: the header row (required columns marked `*`,
  drop-down lists for fixed values) and a guide sheet explaining each column.

What is done with the rows is the service's: see `UploadResult` for the answer.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Request
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from shared.edge.i18n import pydantic_message, say
from shared.edge.problems import (
    FieldError,
    body_too_large,
    invalid,
    rows_rejected,
    too_many_items,
)
from shared.edge.text import fold
from shared.limits import read_limited
from shared.schemas import RowResult, UploadResult, UploadSummary

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What an upload route takes as its body (declared in its OpenAPI request body).
UPLOAD_CONTENT: dict[str, Any] = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
    "text/csv": {"schema": {"type": "string"}},
    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
}
FileFormat = Literal["csv", "xlsx"]
CellKind = Literal["text", "date", "count", "int", "number", "bool", "list", "mapping", "choice"]
GUIDE_SHEET = "Hướng dẫn"
_ZIP_MAGIC = b"PK\x03\x04"
# Room for the multipart envelope (boundaries, part headers) around the file.
_ENVELOPE = 64 * 1024
# A cell of a sane file is far smaller; the csv module's own limit is 128 KiB.
_MAX_CELL = 32 * 1024
_THOUSANDS = re.compile(r"^\d{1,3}([.,\s]\d{3})+$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_TRUE = {"co", "x", "true", "1", "yes", "dung"}
_FALSE = {"khong", "false", "0", "no", "sai"}


@dataclass(frozen=True)
class Choice:
    """One of a column's fixed values: what is stored, and what a person writes."""

    value: str
    label: str  # Vietnamese, as the template lists it
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    field: str  # the JSON field, dotted for nested ones (`participants.female`)
    header: str  # the template's Vietnamese header
    cell: CellKind
    help: str  # the guide's explanation, in Vietnamese
    required: bool = False
    choices: tuple[Choice, ...] = ()
    example: Any = ""

    @property
    def path(self) -> list[str]:
        return self.field.split(".")

    def allowed(self) -> str:
        """The values a column of fixed values takes, as the template writes them."""
        return ", ".join(choice.label for choice in self.choices)


class CellError(ValueError):
    def __init__(self, en: str, vi: str) -> None:
        super().__init__(en)
        self.en = en
        self.vi = vi


@dataclass(frozen=True)
class Upload:
    content: bytes
    filename: str | None
    content_type: str


@dataclass(frozen=True)
class Table:
    format: FileFormat
    title: str  # the XLSX sheet's name ("" for CSV)
    header: list[Any]
    rows: list[tuple[int, list[Any]]]  # (row number in the file, cells)


@dataclass
class Row:
    number: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)


def unreadable(detail_en: str, detail_vi: str) -> Exception:
    return invalid(
        "import-unreadable",
        say("Unreadable file", "Không đọc được tệp"),
        say(detail_en, detail_vi),
        ["file"],
    )


def _empty_file() -> Exception:
    return invalid(
        "import-empty",
        say("Empty file", "Tệp rỗng"),
        say(
            "No file was sent, or it has no data rows; send it as the body or the form "
            "field `file`.",
            "Không có tệp, hoặc tệp không có dòng dữ liệu; hãy gửi tệp làm nội dung yêu cầu "
            "hoặc trong trường `file` của biểu mẫu.",
        ),
        ["file"],
    )


# ------------------------------------------------------------------- reading
async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The uploaded file: the body itself, or the `file` field of a multipart form."""
    content_type = request.headers.get("content-type", "")
    body = await read_limited(request, max_bytes + _ENVELOPE)
    filename: str | None = None
    if content_type.startswith("multipart/form-data"):
        body, filename, content_type = await _form_file(request, body)
    if len(body) > max_bytes:
        raise body_too_large(max_bytes)
    if not body:
        raise _empty_file()
    return Upload(body, filename, content_type)


async def _form_file(request: Request, body: bytes) -> tuple[bytes, str | None, str]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1).parse()
    except MultiPartException as exc:
        raise unreadable(
            f"The form cannot be read: {exc.message}.", "Không đọc được biểu mẫu."
        ) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _empty_file()
        return await upload.read(), upload.filename, upload.content_type or ""
    finally:
        await form.close()


def file_format(upload: Upload) -> FileFormat:
    name = (upload.filename or "").lower()
    media = upload.content_type.split(";")[0].strip().lower()
    if name.endswith(".xlsx") or media == XLSX_MEDIA_TYPE or upload.content.startswith(_ZIP_MAGIC):
        return "xlsx"
    return "csv"


def read_table(upload: Upload) -> Table:
    """The first sheet (XLSX) or the whole file (CSV) as a header and rows."""
    if file_format(upload) == "xlsx":
        title, records = _xlsx_records(upload.content)
        kind: FileFormat = "xlsx"
    else:
        title, records, kind = "", _csv_records(upload.content), "csv"
    if not records:
        raise _empty_file()
    return Table(kind, title, list(records[0]), list(enumerate(records[1:], start=2)))


def _csv_records(content: bytes) -> list[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise unreadable(
            f"The file is neither an XLSX workbook nor UTF-8 CSV text ({exc}); save it as "
            "“CSV UTF-8”.",
            "Tệp không phải sổ tính XLSX cũng không phải văn bản CSV UTF-8; hãy lưu dưới "
            "dạng “CSV UTF-8”.",
        ) from None
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    delimiter = max(",;\t", key=first_line.count)
    # `newline=""`: the csv module reads CR, LF and CRLF itself, also inside quotes.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise unreadable(
            f"The CSV file cannot be read at line {reader.line_num}: {exc}.",
            f"Không đọc được tệp CSV ở dòng {reader.line_num}: {exc}.",
        ) from None
    for number, record in enumerate(records, start=1):
        if any(len(cell) > _MAX_CELL for cell in record):
            raise unreadable(
                f"Row {number} holds a cell longer than {_MAX_CELL} characters.",
                f"Dòng {number} có ô dài hơn {_MAX_CELL} ký tự.",
            )
    return [list(record) for record in records]


def _xlsx_records(content: bytes) -> tuple[str, list[list[Any]]]:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it does not read.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                rows = [list(row) for row in sheet.iter_rows(values_only=True)]
                title = str(sheet.title)
            finally:
                workbook.close()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError, TypeError) as exc:
        raise unreadable(
            f"The XLSX workbook cannot be read ({type(exc).__name__}).",
            "Không đọc được sổ tính XLSX.",
        ) from None
    return title, rows


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def header_key(text: str) -> str:
    """How headers are compared: folded, single spaces, no trailing `*`."""
    return fold(text.strip().rstrip("*"))


def read_rows(
    table: Table,
    columns: Sequence[Column],
    *,
    required: Sequence[Column],
    max_rows: int,
    template: str,
) -> list[Row]:
    """The table's non-blank rows, each cell converted as its column says.

    `columns` are every column the header may name, `required` those it must name;
    `template` is where the template is (for the message about a wrong header).
    """
    by_header = {header_key(name): c for c in columns for name in (c.header, c.field)}
    matched: list[Column | None] = []
    unknown: list[str] = []
    for cell in table.header:
        text = "" if _blank(cell) else _text(cell)
        column = by_header.get(header_key(text)) if text else None
        if text and column is None:
            unknown.append(text)
        matched.append(column)
    present = {column.field for column in matched if column is not None}
    missing = [column.header for column in required if column.field not in present]
    if unknown or missing:
        raise _wrong_header(unknown, missing, template)
    body = [(n, cells) for n, cells in table.rows if not all(_blank(c) for c in cells)]
    if len(body) > max_rows:
        raise too_many_items("import-too-many-rows", max_rows, len(body), "rows", "dòng")
    if not body:
        raise _empty_file()
    rows: list[Row] = []
    for number, cells in body:
        row = Row(number)
        for column, cell in zip(matched, cells, strict=False):
            if column is None or _blank(cell):
                continue
            try:
                row.values[column.field] = convert(column, cell)
            except CellError as exc:
                row.errors.append(cell_error(column, say(exc.en, exc.vi)))
        rows.append(row)
    return rows


def _wrong_header(unknown: list[str], missing: list[str], template: str) -> Exception:
    parts_en = [f"unknown column {name!r}" for name in unknown]
    parts_en += [f"missing column {name!r}" for name in missing]
    parts_vi = [f"cột không có trong mẫu {name!r}" for name in unknown]
    parts_vi += [f"thiếu cột {name!r}" for name in missing]
    return invalid(
        "import-columns",
        say("Columns do not match the template", "Các cột không khớp với mẫu"),
        say(
            "; ".join(parts_en) + f". The template {template} shows the columns.",
            "; ".join(parts_vi) + f". Mẫu {template} liệt kê các cột.",
        ),
        ["file", "header"],
        unknown_columns=unknown,
        missing_columns=missing,
    )


# ---------------------------------------------------------------- row errors
def cell_error(column: Column, message: str) -> FieldError:
    """An error of one cell: the column as the template names it, then why."""
    return {"loc": column.path, "column": column.header, "msg": f"{column.header}: {message}"}


def column_errors(errors: Sequence[FieldError], columns: Sequence[Column]) -> list[FieldError]:
    """Field errors (from a use case) said in terms of the template's columns."""
    by_field = {column.field: column for column in columns}
    named: list[FieldError] = []
    for error in errors:
        loc = [part for part in error.get("loc", []) if part not in ("body",)]
        column = by_field.get(".".join(str(part) for part in loc)) or (
            by_field.get(str(loc[0])) if loc else None
        )
        if column is None or "column" in error:
            named.append({**error, "loc": loc})
        else:
            named.append({"loc": loc, "column": column.header, "msg": _prefixed(column, error)})
    return named


def _prefixed(column: Column, error: FieldError) -> str:
    message = str(error["msg"])
    return message if message.startswith(f"{column.header}:") else f"{column.header}: {message}"


def validation_errors(exc: ValidationError, columns: Sequence[Column]) -> list[FieldError]:
    """A model's validation errors for a row: each names its column and, for a column of
    fixed values, the values it takes."""
    by_field = {column.field: column for column in columns}
    found: list[FieldError] = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        column = by_field.get(".".join(loc)) or (by_field.get(loc[0]) if loc else None)
        if column is None:
            found.append({"loc": loc, "msg": pydantic_message(dict(error))})
            continue
        if error["type"] == "missing":
            message = say("required; fill it in", "bắt buộc; hãy điền")
        elif column.choices:
            allowed = column.allowed()
            message = say(f"choose one of {allowed}", f"chọn một trong {allowed}")
        else:
            message = pydantic_message(dict(error))
        found.append(cell_error(column, message))
    return found


# ---------------------------------------------------------------- conversion
def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    match = _DMY.match(text)
    try:
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day).isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise CellError(
            f"{text!r} is not a date (use DD/MM/YYYY or YYYY-MM-DD)",
            f"{text!r} không phải là ngày (ghi DD/MM/YYYY hoặc YYYY-MM-DD)",
        ) from None


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise CellError(f"{value!r} is not a whole number", f"{value!r} không phải số nguyên")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if _THOUSANDS.match(text):
        text = re.sub(r"[.,\s]", "", text)
    if re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    raise CellError(f"{text!r} is not a whole number", f"{text!r} không phải số nguyên")


def _count(value: Any) -> int:
    number = _whole(value)
    if number < 0:
        raise CellError(f"{number} is negative", f"{number} là số âm")
    return number


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = _text(value).replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise CellError(f"{text!r} is not a number", f"{text!r} không phải là số") from None


def read_bool(value: Any) -> bool:
    """`Có`/`Không`, `x`, `true`/`false`, `1`/`0` as booleans."""
    if isinstance(value, bool):
        return value
    folded = fold(_text(value))
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError(
        f"{_text(value)!r} is not yes or no: write Có or Không",
        f"{_text(value)!r} không phải có/không: ghi Có hoặc Không",
    )


def _choice(column: Column, value: Any) -> str:
    folded = fold(_text(value))
    for choice in column.choices:
        if folded in {fold(choice.value), fold(choice.label), *map(fold, choice.aliases)}:
            return choice.value
    allowed = column.allowed()
    raise CellError(
        f"{_text(value)!r} is not allowed; choose one of {allowed}",
        f"{_text(value)!r} không hợp lệ; chọn một trong {allowed}",
    )


def _items(value: Any) -> list[str]:
    return [part.strip() for part in re.split(r"[;,\n]", _text(value)) if part.strip()]


def _mapping(value: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in re.split(r"[;\n]", _text(value)):
        if not part.strip():
            continue
        match = re.fullmatch(r"\s*([^=:]+?)\s*[=:]\s*(.+?)\s*", part)
        if match is None:
            raise CellError(
                f"{part.strip()!r} should be name=number, e.g. student=50",
                f"{part.strip()!r} phải có dạng tên=số, ví dụ student=50",
            )
        found[match[1]] = _count(match[2])
    return found


def convert(column: Column, value: Any) -> Any:
    """A cell as the JSON field expects it, or `CellError` saying why it cannot be."""
    if column.cell == "date":
        return _date(value)
    if column.cell == "count":
        return _count(value)
    if column.cell == "int":
        return _whole(value)
    if column.cell == "number":
        return _number(value)
    if column.cell == "bool":
        return read_bool(value)
    if column.cell == "choice":
        return _choice(column, value)
    if column.cell == "list":
        return _items(value)
    if column.cell == "mapping":
        return _mapping(value)
    return _text(value)


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """Dotted fields (`participants.female`) as nested objects."""
    body: dict[str, Any] = {}
    for name, value in values.items():
        target = body
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return body


# ----------------------------------------------------------------- templates
def header_text(column: Column) -> str:
    return f"{column.header} *" if column.required else column.header


def template_xlsx(title: str, columns: Sequence[Column], notes: Sequence[str] = ()) -> bytes:
    """A template: the header row on sheet `title` (an untouched template imports
    nothing), drop-down lists for fixed values, and the guide sheet."""
    book = Workbook()
    sheet = book.active or book.create_sheet()
    sheet.title = title[:31]
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for position, column in enumerate(columns, 1):
        cell = sheet.cell(row=1, column=position, value=header_text(column))
        cell.font = bold
        cell.fill = fill
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = max(14, len(column.header) + 4)
        if column.choices:
            labels = ",".join(choice.label for choice in column.choices)
            rule = DataValidation(type="list", formula1=f'"{labels}"', allow_blank=True)
            rule.add(f"{letter}2:{letter}5000")
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"
    guide = book.create_sheet(GUIDE_SHEET)
    guide.append(["Cột", "Trường JSON", "Bắt buộc", "Cách ghi", "Giá trị được chọn", "Ví dụ"])
    for cell in guide[1]:
        cell.font = bold
    for column in columns:
        guide.append(
            [
                column.header,
                column.field,
                "Có" if column.required else "",
                column.help,
                column.allowed(),
                column.example,
            ]
        )
    if notes:
        guide.append([])
        for note in notes:
            guide.append([note])
    for letter, width in zip("ABCDEF", (30, 30, 10, 70, 40, 40), strict=True):
        guide.column_dimensions[letter].width = width
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


# ------------------------------------------------------------------- answers
def summary_of(rows: Sequence[RowResult]) -> UploadSummary:
    counts = dict.fromkeys(UploadSummary.model_fields, 0)
    for row in rows:
        counts[row.status] += 1
    return UploadSummary(**counts)


def upload_answer(
    kind: str, table: Table, rows: Sequence[RowResult], *, partial: bool
) -> UploadResult:
    """The upload's result, or 422 `import-rejected` holding it when a row was rejected
    without `partial` (nothing was written then)."""
    summary = summary_of(rows)
    written = any(row.status in ("created", "revised", "unchanged") for row in rows)
    result = UploadResult(
        kind=kind,
        format=table.format,
        partial=partial,
        written=written,
        summary=summary,
        rows=list(rows),
    )
    if summary.rejected and not partial:
        raise rows_rejected(
            say(
                f"{summary.rejected} of {len(rows)} rows were rejected; see `rows`. Correct "
                "them, or send ?partial=true to write the others.",
                f"{summary.rejected} trên {len(rows)} dòng bị từ chối; xem `rows`. Hãy sửa "
                "các dòng đó, hoặc gửi ?partial=true để ghi các dòng còn lại.",
            ),
            result.model_dump(mode="json", exclude_none=True),
        )
    return result
