"""Problem factories: every error answer of the services is built here.

One factory per kind of mistake, so a mistake gets the same status, `type` and
wording wherever it is made. Texts are in the request's language (`i18n.say`);
`type`s are stable slugs under `shared.http.PROBLEM_BASE`. Validation-like problems
carry `errors: [{"loc", "msg"}]` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.edge.i18n import say
from shared.http import Problem

Loc = Sequence[str | int]
FieldError = dict[str, Any]


def field_error(loc: Loc, msg: str) -> FieldError:
    return {"loc": list(loc), "msg": msg}


def invalid(kind: str, title: str, detail: str, loc: Loc | None, **extensions: Any) -> Problem:
    """422: a value breaks a rule; `loc` names the field (`None`: the request as a whole)."""
    errors = None if loc is None else [field_error(loc, detail)]
    return Problem(422, kind, title, detail, errors=errors, **extensions)


def rows_rejected(detail: str, members: dict[str, Any]) -> Problem:
    """422 `import-rejected`: rows of an upload were rejected and nothing was written;
    `members` (the upload's result: `rows`, `summary`, …) ride in the problem."""
    problem = Problem(
        422,
        "import-rejected",
        say("Rows rejected; nothing was written", "Có dòng bị từ chối; chưa ghi gì"),
        detail,
    )
    problem.extensions = dict(members)
    return problem


def validation(errors: Sequence[FieldError], detail: str | None = None) -> Problem:
    """422 `validation`: the request does not match the schema."""
    summary = detail or say(
        "The request does not match the schema; see `errors`.",
        "Yêu cầu không khớp với lược đồ; xem `errors`.",
    )
    return Problem(
        422, "validation", say("Invalid request", "Yêu cầu không hợp lệ"), summary, errors=errors
    )


def combined(problems: Sequence[Problem]) -> Problem:
    """Several mistakes at once: the first one's type, every field's error."""
    first = problems[0]
    errors: list[FieldError] = [e for problem in problems for e in problem.errors or []]
    if len(problems) == 1:
        return first
    more = len(problems) - 1
    detail = first.detail + say(
        f" (and {more} more; see `errors`)", f" (và {more} lỗi khác; xem `errors`)"
    )
    return Problem(first.status, first.kind, first.title, detail, errors=errors, **first.extensions)


def rejected(
    status: int, kind: str, title: str, errors: Sequence[FieldError], **extensions: Any
) -> Problem:
    """An item refused for the reasons in `errors`: the first one is the `detail`."""
    more = len(errors) - 1
    detail = str(errors[0]["msg"]) if errors else title
    if more > 0:
        detail += say(f" (and {more} more; see `errors`)", f" (và {more} lỗi khác; xem `errors`)")
    return Problem(status, kind, title, detail, errors=errors, **extensions)


def not_found(kind: str, title: str, detail: str, **extensions: Any) -> Problem:
    return Problem(404, kind, title, detail, **extensions)


def conflict(
    kind: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] | None = None,
    **extensions: Any,
) -> Problem:
    return Problem(409, kind, title, detail, errors=errors, **extensions)


def concurrent_write(key: str) -> Problem:
    return conflict(
        "concurrent-write",
        say("Changed concurrently", "Bị thay đổi đồng thời"),
        say(
            f"{key} kept changing while this request was applied; send it again.",
            f"{key} liên tục thay đổi trong khi xử lý yêu cầu; hãy gửi lại.",
        ),
    )


# ------------------------------------------------------------------ references
_REFERENCE_WORDS = {
    "unit": ("unit", "đơn vị hành chính"),
    "programme": ("programme", "chương trình"),
    "club": ("club", "câu lạc bộ"),
    "site": ("site", "điểm (cơ sở)"),
    "province": ("province", "tỉnh"),
    "activity": ("activity", "hoạt động"),
    "client": ("API client", "ứng dụng"),
    "stream": ("stream", "luồng sự kiện"),
}


def unknown_reference(
    what: str, value: str, loc: Loc, hint_en: str = "", hint_vi: str = ""
) -> Problem:
    """422 `unknown-<what>`: a body refers to something that does not exist; names the
    field (`loc`) and the value."""
    en, vi = _REFERENCE_WORDS[what]
    field = ".".join(str(part) for part in loc if part not in ("body", "query"))
    detail = say(
        f"{field}: there is no {en} {value!r}.{(' ' + hint_en) if hint_en else ''}",
        f"{field}: không có {vi} {value!r}.{(' ' + hint_vi) if hint_vi else ''}",
    )
    return invalid(
        f"unknown-{what}",
        say(f"Unknown {en}", f"Không có {vi} này"),
        detail,
        loc,
        field=field,
        value=value,
    )


def missing(what: str, value: str) -> Problem:
    """404 `unknown-<what>`: the resource the path names does not exist."""
    en, vi = _REFERENCE_WORDS[what]
    return not_found(
        f"unknown-{what}",
        say(f"Unknown {en}", f"Không có {vi} này"),
        say(f"There is no {en} {value!r}.", f"Không có {vi} {value!r}."),
    )


# ----------------------------------------------------------------------- bodies
def body_too_large(limit_bytes: int) -> Problem:
    """413 `body-too-large`: the one answer to a body or file over its limit."""
    megabytes = limit_bytes / (1024 * 1024)
    size = f"{limit_bytes} bytes" + (f" ({megabytes:g} MB)" if megabytes >= 1 else "")
    return Problem(
        413,
        "body-too-large",
        say("Request body too large", "Nội dung yêu cầu quá lớn"),
        say(
            f"The body exceeds the limit of {size}; split it into smaller requests or files.",
            f"Nội dung vượt quá giới hạn {size.replace('bytes', 'byte')}; "
            "hãy chia thành các yêu cầu hoặc tệp nhỏ hơn.",
        ),
        limit_bytes=limit_bytes,
    )


def too_many_items(kind: str, limit: int, count: int, en_unit: str, vi_unit: str) -> Problem:
    """413: more items (batch items, upload rows) than one request may hold."""
    return Problem(
        413,
        kind,
        say("Too many items in one request", "Quá nhiều mục trong một yêu cầu"),
        say(
            f"One request holds at most {limit} {en_unit}; this one has {count}. Split it.",
            f"Một yêu cầu chứa tối đa {limit} {vi_unit}; yêu cầu này có {count}. Hãy chia nhỏ.",
        ),
        limit=limit,
        items=count,
    )


def unsupported_media_type(received: str, accepted: Sequence[str]) -> Problem:
    listed = ", ".join(accepted)
    return Problem(
        415,
        "unsupported-media-type",
        say("Unsupported content type", "Kiểu nội dung không được hỗ trợ"),
        say(
            f"Content-Type {received or '(none)'!r} is not accepted here; send {listed}.",
            f"Không nhận Content-Type {received or '(không có)'!r} ở đây; hãy gửi {listed}.",
        ),
        accepted=list(accepted),
    )


def malformed_body(kind: str, detail_en: str, detail_vi: str) -> Problem:
    """400: the body cannot be read at all (not JSON, too deep, not UTF-8, …)."""
    return Problem(
        400,
        kind,
        say("Malformed body", "Nội dung không đọc được"),
        say(detail_en, detail_vi),
    )


def invalid_cursor() -> Problem:
    """400 `invalid-cursor`: the one answer to a cursor that was not given out."""
    return Problem(
        400,
        "invalid-cursor",
        say("Invalid cursor", "Con trỏ phân trang không hợp lệ"),
        say(
            "Pass `next_cursor` back exactly as received, with the same filters.",
            "Hãy gửi lại `next_cursor` đúng như đã nhận, với cùng bộ lọc.",
        ),
        errors=[field_error(["query", "cursor"], say("unknown cursor", "con trỏ không hợp lệ"))],
    )


# ------------------------------------------------------------------ access
def unauthenticated() -> Problem:
    return Problem(
        401,
        "unauthenticated",
        say("Authentication required", "Cần xác thực"),
        say(
            "Send `Authorization: Bearer <access_token>`; get a token from the "
            "registry's POST /v1/oauth/token (client credentials).",
            "Hãy gửi `Authorization: Bearer <access_token>`; lấy mã truy cập từ "
            "POST /v1/oauth/token của dịch vụ registry (client credentials).",
        ),
        headers={"WWW-Authenticate": 'Bearer realm="bdg"'},
    )


def invalid_token(detail: str) -> Problem:
    return Problem(
        401,
        "invalid-token",
        say("Invalid access token", "Mã truy cập không hợp lệ"),
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="bdg", error="invalid_token"'},
    )


def rate_limited(client_id: str, rate: float, retry_after: int) -> Problem:
    return Problem(
        429,
        "rate-limited",
        say("Too many requests", "Quá nhiều yêu cầu"),
        say(
            f"Client {client_id} is over its limit of {rate:g} requests per second.",
            f"Ứng dụng {client_id} vượt giới hạn {rate:g} yêu cầu mỗi giây.",
        ),
        headers={"Retry-After": str(retry_after)},
    )


def oauth_error(status: int, error: str, en: str, vi: str) -> Problem:
    """A token request refused: RFC 6749 §5.2 names the error in `error`, and the body
    is a problem document too."""
    description = say(en, vi)
    return Problem(
        status,
        f"oauth-{error.replace('_', '-')}",
        say("Token request refused", "Yêu cầu cấp mã truy cập bị từ chối"),
        description,
        headers={"WWW-Authenticate": 'Basic realm="bdg"'} if status == 401 else None,
        error=error,
        error_description=description,
    )


def forbidden(
    detail: str, role: str, province: str, errors: Sequence[FieldError] | None
) -> Problem:
    """403 `forbidden`; `shared.edge.authorization` words the `detail`."""
    return Problem(
        403,
        "forbidden",
        say("Not allowed for this client", "Ứng dụng không được phép"),
        detail,
        errors=errors,
        required_role=role,
        required_province=province,
    )


# ----------------------------------------------------------------- operations
def internal_error() -> Problem:
    return Problem(
        500,
        "internal",
        say("Internal error", "Lỗi hệ thống"),
        say("An unexpected error occurred.", "Đã xảy ra lỗi không mong đợi."),
    )


def http_error(status: int, detail: str, headers: dict[str, str] | None = None) -> Problem:
    """What the framework itself answers (no route, wrong method, unreadable body)."""
    kinds = {404: "not-found", 405: "method-not-allowed", 400: "malformed-body"}
    titles = {
        404: say("Not found", "Không tìm thấy"),
        405: say("Method not allowed", "Phương thức không được phép"),
        400: say("Malformed body", "Nội dung không đọc được"),
    }
    details = {
        404: say("No such resource.", "Không có tài nguyên này."),
        405: say(
            "This path does not take this method.", "Đường dẫn này không nhận phương thức này."
        ),
        400: say(
            "The body cannot be read as JSON of a sensible depth and size.",
            "Không đọc được nội dung dưới dạng JSON (quá sâu, quá lớn hoặc sai cú pháp).",
        ),
    }
    return Problem(
        status,
        kinds.get(status, "http"),
        titles.get(status, say("HTTP error", "Lỗi HTTP")),
        details.get(status, detail),
        headers=headers,
    )


def keys_unavailable(retry_after: int) -> Problem:
    """503: a token that may be valid cannot be checked (no key can be fetched now)."""
    return Problem(
        503,
        "keys-unavailable",
        say("Token cannot be checked now", "Chưa kiểm tra được mã truy cập"),
        say(
            "The registry's signing keys cannot be fetched now. Send the request again "
            f"in {retry_after} seconds.",
            "Hiện không lấy được khóa ký của dịch vụ danh mục. Vui lòng gửi lại yêu cầu "
            f"sau {retry_after} giây.",
        ),
        headers={"Retry-After": str(retry_after)},
    )


def database_unavailable(retry_after: int) -> Problem:
    """503: the database cannot answer now (an election, a failover, a lock held)."""
    return Problem(
        503,
        "database-unavailable",
        say("Database unavailable", "Cơ sở dữ liệu tạm thời không phản hồi"),
        say(
            "The database cannot answer now (an election or a failover, or it is "
            f"overloaded). Send the request again in {retry_after} seconds.",
            "Cơ sở dữ liệu hiện không phản hồi (đang bầu chọn hoặc chuyển đổi máy chủ, "
            f"hoặc quá tải). Vui lòng gửi lại yêu cầu sau {retry_after} giây.",
        ),
        headers={"Retry-After": str(retry_after)},
    )


def nats_unavailable(retry_after: int) -> Problem:
    return Problem(
        503,
        "nats-unavailable",
        say("NATS unavailable", "NATS tạm thời không phản hồi"),
        say(
            f"The streams cannot be read now. Send the request again in {retry_after} seconds.",
            f"Hiện không đọc được luồng sự kiện. Vui lòng gửi lại sau {retry_after} giây.",
        ),
        headers={"Retry-After": str(retry_after)},
    )
