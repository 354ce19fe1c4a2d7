"""Reading request bodies safely: the content type a route takes, and JSON that is
neither absurdly deep nor holding integers no store can keep.

`guard_body` is a dependency of every `/v1` router. For a request with a body it
answers 415 when the `Content-Type` is not one the route declares (a JSON route
takes `application/json`; a route that declares its own request body, like a batch
or an upload, takes the media types it lists; a form route takes forms). For a JSON
body it answers 400 when the document nests deeper than `MAX_DEPTH` or holds an
integer outside 64 bits. Routes that parse their body themselves use
`json_document`, which applies the same rules.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from shared.edge.problems import malformed_body, unsupported_media_type

JSON = "application/json"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_DEPTH = 32
_INT_LIMIT = 2**63
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def _bounded_int(text: str) -> int:
    # Before conversion: a 5,000-digit integer never becomes a Python int.
    if len(text.lstrip("-")) > 19:
        raise ValueError("integer too large")
    return int(text)


def check_document(document: Any, kind: str = "malformed-body") -> None:
    """400 unless `document` nests at most `MAX_DEPTH` levels and its integers fit in
    64 bits (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep(kind)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_LIMIT:
            raise _too_big(kind)


class JsonSyntaxError(ValueError):
    """Text that is not JSON at all (as opposed to JSON too deep or too large)."""


def parse_json(raw: bytes | str, kind: str = "malformed-body") -> Any:
    """Parse JSON under the rules above: `JsonSyntaxError` when it is not JSON, 400
    `kind` when it nests too deep or holds an integer too large."""
    try:
        document = json.loads(raw, parse_int=_bounded_int)
    except RecursionError:
        raise _too_deep(kind) from None
    except UnicodeDecodeError as exc:
        raise JsonSyntaxError(f"not UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise JsonSyntaxError(str(exc)) from None
    except ValueError:
        raise _too_big(kind) from None
    check_document(document, kind)
    return document


def json_document(raw: bytes | str, kind: str = "malformed-body") -> Any:
    """`parse_json`, answering 400 `kind` for text that is not JSON too."""
    try:
        return parse_json(raw, kind)
    except JsonSyntaxError as exc:
        raise malformed_body(
            kind,
            f"The body is not valid JSON ({exc}).",
            f"Nội dung không phải JSON hợp lệ ({exc}).",
        ) from None


def _too_deep(kind: str = "malformed-body") -> Exception:
    return malformed_body(
        kind,
        f"The JSON nests deeper than {MAX_DEPTH} levels.",
        f"JSON lồng nhau sâu quá {MAX_DEPTH} cấp.",
    )


def _too_big(kind: str = "malformed-body") -> Exception:
    return malformed_body(
        kind,
        "The JSON holds an integer outside the 64-bit range.",
        "JSON chứa số nguyên vượt quá phạm vi 64 bit.",
    )


def accepted_media_types(route: APIRoute) -> tuple[str, ...]:
    """What a route's body may be sent as, as its OpenAPI document says."""
    declared = (route.openapi_extra or {}).get("requestBody", {}).get("content")
    if declared:
        return tuple(declared)
    if route.body_field is None:
        return ()
    field_info = route.body_field.field_info
    if type(field_info).__name__ in ("Form", "File"):
        return FORMS
    return (JSON,)


async def guard_body(request: Request) -> None:
    """415 for a body of a type the route does not take; 400 for hostile JSON."""
    if request.method not in _WRITE_METHODS:
        return
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    route = request.scope.get("route")
    if not has_body or not isinstance(route, APIRoute):
        return
    accepted = accepted_media_types(route)
    received = media_type(request.headers.get("content-type"))
    if not accepted:
        return
    if received and received not in accepted and not (_is_json(received) and JSON in accepted):
        raise unsupported_media_type(received, accepted)
    if (not received or _is_json(received)) and route.body_field is not None:
        # FastAPI parsed it already (and answered 400 when it could not).
        check_document(await request.json())
