"""The one cursor codec of every list: opaque text over the sort key of the last item.

A cursor is the URL-safe base64 of a JSON array holding the sort key of the last
item of a page (for example `[started_on, id]`). A cursor that does not decode to a
key of the expected shape is answered 400 `invalid-cursor`, wherever it is used.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from shared.edge.problems import invalid_cursor

Key = tuple[Any, ...]


def encode_cursor(key: Sequence[str | int]) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: Sequence[type]) -> Key | None:
    """The key a cursor holds (`None` for no cursor), each part of the type `shape`
    names; 400 `invalid-cursor` otherwise."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise invalid_cursor() from None
    if not isinstance(value, list) or len(value) != len(shape):
        raise invalid_cursor()
    for part, kind in zip(value, shape, strict=True):
        # `bool` is an `int` to Python, never to a cursor.
        if not isinstance(part, kind) or (kind is int and isinstance(part, bool)):
            raise invalid_cursor()
    return tuple(value)


def page_cursor(items: Sequence[Any], limit: int, key: Any) -> str | None:
    """The cursor after a page read with `limit + 1`: `None` when nothing follows."""
    if len(items) <= limit:
        return None
    return encode_cursor(key(items[limit - 1]))
