"""Turning what provinces send into activity models: batch bodies, items, Unicode.

A batch is a JSON array or NDJSON (one item per line, blank lines ignored); each
item is an activity body plus `source_system` and `external_id`. Every item is
parsed on its own, so a malformed one is reported with field-level errors and
never stops the others.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.events.schemas import ItemKey
from services.events.validation import FieldError, field_error
from shared.contracts import ACTIVITY_TYPES, Activity
from shared.contracts.activities import ActivityBase
from shared.edge.bodies import JsonSyntaxError, parse_json
from shared.edge.i18n import pydantic_message, say
from shared.edge.problems import malformed_body, too_many_items
from shared.http import Problem

MAX_BATCH_ITEMS = 1000
NDJSON = "application/x-ndjson"
NDJSON_TYPES = (NDJSON, "application/ndjson", "application/jsonl")
MALFORMED = "malformed-batch"
ACTIVITY_ADAPTER: TypeAdapter[Activity] = TypeAdapter(Activity)
_KEY_FIELDS = ("source_system", "external_id")


@dataclass
class Incoming:
    """One item as parsed: its key and model, or why it could not be read."""

    index: int
    key: tuple[str, str] | None = None
    activity: ActivityBase | None = None
    errors: list[FieldError] = field(default_factory=list)


def nfc(value: Any) -> Any:
    """Every string inside `value` in Unicode NFC (`Vân Nham` stored as sent, composed)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc(key): nfc(item) for key, item in value.items()}
    if isinstance(value, list):
        return [nfc(item) for item in value]
    return value


def errors_of(exc: ValidationError, tag: object = None) -> list[FieldError]:
    """Pydantic errors as `[{loc, msg}]`, without the union's type tag in `loc`."""
    found: list[FieldError] = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = list(error["loc"])
        if loc and loc[0] == tag and tag in ACTIVITY_TYPES:
            loc = loc[1:]
        if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            listed = ", ".join(ACTIVITY_TYPES)
            found.append(
                field_error(
                    ["type"], say(f"must be one of {listed}", f"phải là một trong: {listed}")
                )
            )
            continue
        found.append(field_error(loc, pydantic_message(dict(error))))
    return found


def body_of(activity: ActivityBase) -> dict[str, Any]:
    """The activity as stored and compared: JSON values, defaults filled in."""
    return activity.model_dump(mode="json")


def normalised(activity: ActivityBase) -> ActivityBase:
    """The same activity with its text in NFC (validated again only when that changes it)."""
    body = body_of(activity)
    composed = nfc(body)
    if composed == body:
        return activity
    model: ActivityBase = ACTIVITY_ADAPTER.validate_python(composed)
    return model


def parse_item(index: int, raw: Any) -> Incoming:
    """Validate one batch item (body + key) against the contract."""
    if not isinstance(raw, dict):
        message = say("an item must be a JSON object", "mỗi mục phải là một đối tượng JSON")
        return Incoming(index, errors=[field_error([], message)])
    raw = nfc(raw)
    errors: list[FieldError] = []
    key: tuple[str, str] | None = None
    try:
        parsed_key = ItemKey.model_validate(
            {name: raw[name] for name in _KEY_FIELDS if name in raw}
        )
        key = (parsed_key.source_system, parsed_key.external_id)
    except ValidationError as exc:
        errors.extend(errors_of(exc))
    body = {name: value for name, value in raw.items() if name not in _KEY_FIELDS}
    activity: ActivityBase | None = None
    try:
        activity = ACTIVITY_ADAPTER.validate_python(body)
    except ValidationError as exc:
        errors.extend(errors_of(exc, body.get("type")))
    if errors:
        return Incoming(index, errors=errors)
    return Incoming(index, key=key, activity=activity)


def _too_many(count: int) -> Problem:
    return too_many_items("batch-too-large", MAX_BATCH_ITEMS, count, "activities", "hoạt động")


def parse_batch(raw: bytes, content_type: str) -> list[Incoming]:
    """Items of a JSON-array or NDJSON batch; 400 when the body is neither (or nests
    too deep, or holds an integer too large), 413 past 1,000 items."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in NDJSON_TYPES:
        return _parse_ndjson(raw)
    try:
        document = parse_json(raw, MALFORMED)
    except JsonSyntaxError as exc:
        raise malformed_body(
            MALFORMED,
            f"The body is not valid JSON ({exc}); send a JSON array of activities, "
            f"or NDJSON with Content-Type: {NDJSON}.",
            f"Nội dung không phải JSON hợp lệ ({exc}); hãy gửi một mảng JSON các hoạt động, "
            f"hoặc NDJSON với Content-Type: {NDJSON}.",
        ) from None
    if not isinstance(document, list):
        raise malformed_body(
            MALFORMED,
            f"The body must be a JSON array of activities (or NDJSON with Content-Type: "
            f"{NDJSON}), not a JSON {type(document).__name__}.",
            f"Nội dung phải là một mảng JSON các hoạt động (hoặc NDJSON với Content-Type: "
            f"{NDJSON}), không phải {type(document).__name__}.",
        )
    if len(document) > MAX_BATCH_ITEMS:
        raise _too_many(len(document))
    return [parse_item(index, item) for index, item in enumerate(document)]


def _parse_ndjson(raw: bytes) -> list[Incoming]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise malformed_body(
            MALFORMED, f"The body is not UTF-8 ({exc}).", f"Nội dung không phải UTF-8 ({exc})."
        ) from exc
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) > MAX_BATCH_ITEMS:
        raise _too_many(len(lines))
    items: list[Incoming] = []
    for index, (number, line) in enumerate(lines):
        try:
            # Too deep or too large a number is refused for the whole batch (400).
            value = parse_json(line, MALFORMED)
        except JsonSyntaxError as exc:
            message = say(
                f"line {number} is not JSON: {exc}", f"dòng {number} không phải JSON: {exc}"
            )
            items.append(Incoming(index, errors=[field_error([], message)]))
            continue
        items.append(parse_item(index, value))
    return items
