"""Reading activity upload files (CSV or XLSX) into batch items, row by row.

The first row holds the headers (see `columns.py`); every following non-empty row
is one activity. A cell that cannot be read (a date that is not a date, a count
that is not a whole number) rejects its row with the column named; the other rows
go on. Rows become the same items as a batch, so the same rules apply.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from services.events.columns import COLUMNS_BY_HEADER, Column, header_key
from services.events.items import Incoming, parse_item
from services.events.validation import FieldError, field_error
from shared.contracts import ACTIVITY_TYPES
from shared.http import Problem

FileFormat = Literal["csv", "xlsx"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_ZIP_MAGIC = b"PK\x03\x04"
_THOUSANDS = re.compile(r"^\d{1,3}([.,\s]\d{3})+$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


class CellError(ValueError):
    pass


@dataclass
class Row:
    number: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)


def detect_format(filename: str | None, content_type: str | None, data: bytes) -> FileFormat:
    name = (filename or "").lower()
    media = (content_type or "").split(";")[0].strip().lower()
    if name.endswith(".xlsx") or media == XLSX_MEDIA_TYPE or data.startswith(_ZIP_MAGIC):
        return "xlsx"
    return "csv"


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
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
    except ValueError as exc:
        raise CellError(f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)") from exc


def _count(value: Any) -> int:
    if isinstance(value, bool):
        raise CellError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if _THOUSANDS.match(text):
        text = re.sub(r"[.,\s]", "", text)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise CellError(f"{text!r} is not a whole number")


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = _text(value).replace(",", ".")
    try:
        return float(text)
    except ValueError as exc:
        raise CellError(f"{text!r} is not a number") from exc


def _items(value: Any) -> list[str]:
    return [part.strip() for part in re.split(r"[;,\n]", _text(value)) if part.strip()]


def _mapping(value: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in re.split(r"[;\n]", _text(value)):
        if not part.strip():
            continue
        match = re.fullmatch(r"\s*([^=:]+?)\s*[=:]\s*(.+?)\s*", part)
        if match is None:
            raise CellError(f"{part.strip()!r} should be name=number, e.g. student=50")
        found[match[1]] = _count(match[2])
    return found


def convert(column: Column, value: Any) -> Any:
    if column.kind == "date":
        return _date(value)
    if column.kind == "count":
        return _count(value)
    if column.kind == "number":
        return _number(value)
    if column.kind == "list":
        return _items(value)
    if column.kind == "mapping":
        return _mapping(value)
    return _text(value)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(header: list[Any], body: Iterator[tuple[int, list[Any]]]) -> Iterator[Row]:
    columns: list[Column | None] = []
    unknown: list[str] = []
    for cell in header:
        text = _text(cell) if not _empty(cell) else ""
        column = COLUMNS_BY_HEADER.get(header_key(text)) if text else None
        if text and column is None:
            unknown.append(text)
        columns.append(column)
    if unknown:
        raise Problem(
            422,
            "import-unknown-columns",
            "Unknown columns",
            f"The header row has columns this service does not know: {', '.join(unknown)}. "
            "Use the headers of GET /v1/imports/activities/{type}/template.xlsx "
            "or the JSON field names.",
            columns=unknown,
        )
    if not any(columns):
        raise Problem(422, "import-no-header", "No header row", "The first row has no headers.")
    for number, cells in body:
        if all(_empty(cell) for cell in cells):
            continue
        row = Row(number)
        for column, cell in zip(columns, cells, strict=False):
            if column is None or _empty(cell):
                continue
            try:
                row.values[column.field] = convert(column, cell)
            except CellError as exc:
                row.errors.append(field_error(list(column.path), f"{column.header}: {exc}"))
        yield row


def read_csv(data: bytes) -> Iterator[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(
            422,
            "import-encoding",
            "File is not UTF-8",
            f"The CSV file is not UTF-8 ({exc}); save it as “CSV UTF-8”.",
        ) from exc
    first_line = text.splitlines()[0] if text else ""
    delimiter = max(",;\t", key=first_line.count)
    # `newline=""`: the csv module handles CR, LF and CRLF itself, also inside quotes.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise Problem(
            422,
            "import-unreadable",
            "Unreadable file",
            f"The CSV file cannot be read: line {reader.line_num}: {exc}.",
        ) from exc
    header = records[0] if records else []
    return _rows(list(header), ((number, cells) for number, cells in enumerate(records[1:], 2)))


def read_xlsx(data: bytes) -> tuple[str, Iterator[Row]]:
    """The first sheet's name and rows."""
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            # Excel extensions openpyxl does not read (data validation, …) are harmless.
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise Problem(
            422, "import-unreadable", "Unreadable file", f"The XLSX file cannot be read ({exc})."
        ) from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows, ()))
    body = ((number, list(cells)) for number, cells in enumerate(rows, 2))
    return str(sheet.title), _rows(header, body)


def to_item(row: Row, index: int, default_type: str | None) -> Incoming:
    """A row as a batch item; conversion errors and a missing type reject it."""
    raw: dict[str, Any] = {}
    for name, value in row.values.items():
        target = raw
        *parents, leaf = name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    raw.setdefault("type", default_type)
    errors = list(row.errors)
    if raw["type"] is None:
        errors.append(
            field_error(
                ["type"],
                "no activity type: fill the column “Loại hoạt động” or send ?type= "
                f"({', '.join(ACTIVITY_TYPES)})",
            )
        )
    if errors:
        return Incoming(index, errors=errors)
    return parse_item(index, raw)
