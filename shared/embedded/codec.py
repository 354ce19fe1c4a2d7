"""How documents are stored as JSON text, keeping BSON's types and order where it matters.

JSON has no dates, ObjectIds or binary data, so those become *tagged strings*: the
private-use character U+E000, a one-letter tag and a text form chosen so that values
of one type sort as BSON sorts them (a date's fixed-width UTC timestamp sorts
chronologically). A string that itself starts with U+E000 gets one more in front, so
no stored string can be mistaken for a tag. (NUL would be the natural tag, but
SQLite's JSON functions cut text at a NUL.) SQLite's `json_extract` then returns values that compare
and index like the originals: strings and tagged dates as text, numbers as numbers.

Dates keep millisecond precision and come back timezone-aware (UTC), as from
PyMongo with `tz_aware=True`; integers outside 64 bits are refused, as by BSON.

Encoding and decoding go through orjson; Python walks a document only where JSON
cannot say it alone: orjson hands over dates, ObjectIds and bytes to be tagged, and
an encoded text holding more tag characters than were put in (a string of the
document's own starting with, or holding, U+E000), an integer beyond 2^53 or a value
orjson refuses is encoded again by the exact walk below. Decoding changes the parsed
values in place, and walks into nested values only when the text holds more tag
characters than its top-level fields. NaN and infinities, which
JSON cannot hold, are stored as null.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson
from bson import ObjectId
from bson.errors import InvalidDocument

TAG = "\ue000"
_DATE = "D"
_OBJECT_ID = "O"
_BINARY = "B"
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_TAG_BYTES = TAG.encode()
_FAST_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_STRICT_INTEGER


def _date_text(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return f"{TAG}{_DATE}{value.isoformat(timespec='milliseconds')}Z"


def encode_value(value: Any) -> Any:
    """The JSON-ready form of one value (recursively for documents and arrays)."""
    if isinstance(value, str):
        return TAG + value if value.startswith(TAG) else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # as orjson writes them
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError("MongoDB can only handle up to 8-byte ints")
        return value
    if isinstance(value, dict):
        encoded: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidDocument(f"documents must have only string keys, key was {key!r}")
            encoded[key] = encode_value(item)
        return encoded
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if isinstance(value, datetime):
        return _date_text(value)
    if isinstance(value, ObjectId):
        return f"{TAG}{_OBJECT_ID}{value}"
    if isinstance(value, (bytes, bytearray)):
        return f"{TAG}{_BINARY}{base64.b64encode(bytes(value)).decode('ascii')}"
    raise InvalidDocument(f"cannot encode object: {value!r}, of type: {type(value)!r}")


def _decode_string(text: str) -> Any:
    if not text.startswith(TAG):
        return text
    tag, body = text[1:2], text[2:]
    if tag == TAG:
        return text[1:]
    if tag == _DATE:
        return datetime.fromisoformat(body)
    if tag == _OBJECT_ID:
        return ObjectId(body)
    if tag == _BINARY:
        return base64.b64decode(body)
    raise ValueError(f"unknown stored value tag {tag!r}")


def decode_in_place(container: dict[str, Any] | list[Any]) -> None:
    """Turn the tagged strings of freshly parsed JSON back into their values."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, item in items:
        if isinstance(item, str):
            if item[:1] == TAG:
                container[key] = _decode_string(item)  # type: ignore[index]
        elif isinstance(item, (dict, list)):
            decode_in_place(item)


class _Tagger:
    """orjson's `default`: the tagged text of what JSON has no type for, counted."""

    __slots__ = ("tags",)

    def __init__(self) -> None:
        self.tags = 0

    def __call__(self, value: Any) -> str:
        if isinstance(value, datetime):
            text = _date_text(value)
        elif isinstance(value, ObjectId):
            text = f"{TAG}{_OBJECT_ID}{value}"
        elif isinstance(value, (bytes, bytearray)):
            text = f"{TAG}{_BINARY}{base64.b64encode(bytes(value)).decode('ascii')}"
        else:
            raise TypeError
        self.tags += 1
        return text


def dumps(document: Any) -> str:
    """The stored text of a document (or of any one value: a field's, for SQLite's JSON
    functions to put in place)."""
    tagger = _Tagger()
    try:
        encoded = orjson.dumps(document, default=tagger, option=_FAST_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        encoded = b""  # something only the exact walk can judge (and maybe refuse)
    if encoded and encoded.count(_TAG_BYTES) == tagger.tags:
        return encoded.decode()
    return json.dumps(encode_value(document), ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    try:
        document: dict[str, Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = json.loads(text)  # NaN or infinity written by an earlier version
    tags = text.count(TAG)
    if not tags:  # no tag character: nothing to decode
        return document
    # Tagged values are mostly top-level fields (dates of a record): decode those, and
    # walk the nested values only when the text holds tags not found there.
    nested: list[Any] = []
    for key, value in document.items():
        if isinstance(value, str):
            if value[:1] == TAG:
                document[key] = _decode_string(value)
                tags -= value.count(TAG)
        elif isinstance(value, (dict, list)):
            nested.append(value)
    if tags:
        for value in nested:
            decode_in_place(value)
    return document


def loads_value(text: str) -> Any:
    """One value from its JSON text (a field SQLite extracted with `->`)."""
    value = orjson.loads(text)
    if TAG not in text:
        return value
    if isinstance(value, str):
        return _decode_string(value)
    decode_in_place(value)
    return value


def key_of(value: Any) -> Any:
    """The primary-key column value of an `_id`: strings, integers and floats as
    themselves (so they sort as BSON sorts them), anything else as its tagged or
    canonical JSON text."""
    if isinstance(value, bool):
        return f"{TAG}b{int(value)}"
    if isinstance(value, (int, float, str, datetime, ObjectId, bytes)):
        return encode_value(value)
    if value is None:
        return f"{TAG}n"
    return f"{TAG}J" + json.dumps(encode_value(value), sort_keys=True, separators=(",", ":"))


def sql_scalar(value: Any) -> Any:
    """A filter operand as SQLite compares it with `json_extract` of a stored value."""
    if isinstance(value, bool):
        return int(value)
    return encode_value(value)
