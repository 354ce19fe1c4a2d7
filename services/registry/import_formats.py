"""Files provinces upload: reading CSV and XLSX sheets, and the XLSX templates."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from services.registry.folding import fold
from services.registry.import_columns import COLUMNS, Column, Kind
from services.registry.problems import invalid


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
