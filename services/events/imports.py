"""Activity uploads (CSV or XLSX): rows become the same items as a batch.

The file is read by the shared spreadsheet pipeline (`shared.edge.spreadsheets`);
each row becomes a batch item, so the same rules apply. A row's errors name the
columns as the template does, every mistake of the row at once.
"""

from __future__ import annotations

from typing import Any

from services.events.columns import ALL_COLUMNS, TYPE_COLUMN
from services.events.items import Incoming, parse_item
from shared.contracts import ACTIVITY_TYPES
from shared.edge.i18n import say
from shared.edge.spreadsheets import Row, cell_error, column_errors, nested

TEMPLATE = "GET /v1/imports/activities/{type}/template.xlsx"


def to_item(row: Row, index: int, default_type: str | None) -> Incoming:
    """A row as a batch item: its cell errors and the activity's, named by column."""
    raw: dict[str, Any] = nested(row.values)
    raw.setdefault("type", default_type)
    errors = list(row.errors)
    if raw["type"] is None:
        allowed = ", ".join(ACTIVITY_TYPES)
        errors.append(
            cell_error(
                TYPE_COLUMN,
                say(
                    f"no activity type: fill this column or send ?type= ({allowed})",
                    f"thiếu loại hoạt động: điền cột này hoặc gửi ?type= ({allowed})",
                ),
            )
        )
        return Incoming(index, errors=errors)
    parsed = parse_item(index, raw)
    # A cell that could not be read is left out of the item: the item's own
    # "field required" about it would only repeat the cell's error.
    unread = {".".join(str(part) for part in error["loc"]) for error in row.errors}
    more = [
        error
        for error in parsed.errors
        if ".".join(str(part) for part in error["loc"]) not in unread
    ]
    errors.extend(column_errors(more, ALL_COLUMNS))
    if errors:
        return Incoming(index, errors=errors)
    return parsed
