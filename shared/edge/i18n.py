"""Vietnamese first: the language of an answer, chosen by `Accept-Language`.

Every text a client reads (a problem's `title` and `detail`, a field or row error) is
written in both languages with `say(en=..., vi=...)`, which picks the language of the
request being answered. The request's language is set once per request by
`LanguageMiddleware`: Vietnamese when the client prefers `vi`, English otherwise.
Problem `type`s never change with the language.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

Language = Literal["vi", "en"]
_language: ContextVar[Language] = ContextVar("answer_language", default="en")


def language_of(accept_language: str | None) -> Language:
    """`vi` when Vietnamese is the client's most preferred language, else `en`."""
    best: tuple[float, Language] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if not primary or quality <= 0:
            continue
        # Earlier tags win ties, as RFC 9110 leaves it to the server.
        score = quality - position * 1e-6
        if best is None or score > best[0]:
            best = (score, "vi" if primary == "vi" else "en")
    return "en" if best is None else best[1]


def current_language() -> Language:
    return _language.get()


def use_language(language: Language) -> None:
    """Answer in `language` from here on in this request (tests and middleware)."""
    _language.set(language)


def say(en: str, vi: str) -> str:
    """The text in the language of the request being answered."""
    return vi if _language.get() == "vi" else en


def header_language(scope: Scope) -> Language:
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            return language_of(value.decode("latin-1"))
    return "en"


class LanguageMiddleware:
    """Sets the answer language of each HTTP request before anything else runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _language.set(header_language(scope))
        await self.app(scope, receive, send)


# Pydantic's error types, said in Vietnamese (the English is pydantic's own message).
_PYDANTIC_VI: dict[str, str] = {
    "missing": "Thiếu trường bắt buộc",
    "extra_forbidden": "Trường này không được phép (không có trong lược đồ)",
    "string_type": "Phải là một chuỗi ký tự",
    "string_too_short": "Chuỗi quá ngắn (tối thiểu {min_length} ký tự)",
    "string_too_long": "Chuỗi quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "Không đúng định dạng (mẫu {pattern})",
    "int_type": "Phải là số nguyên",
    "int_parsing": "Phải là số nguyên",
    "int_from_float": "Phải là số nguyên, không có phần thập phân",
    "float_type": "Phải là một số",
    "float_parsing": "Phải là một số",
    "bool_type": "Phải là true hoặc false",
    "bool_parsing": "Phải là true hoặc false",
    "greater_than": "Phải lớn hơn {gt}",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}",
    "less_than": "Phải nhỏ hơn {lt}",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}",
    "finite_number": "Phải là một số hữu hạn",
    "date_type": "Phải là một ngày (YYYY-MM-DD)",
    "date_parsing": "Không phải là ngày hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_parsing": "Không phải là ngày hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_inexact": "Phải là một ngày, không kèm giờ",
    "datetime_type": "Phải là thời điểm RFC 3339",
    "datetime_parsing": "Không phải là thời điểm RFC 3339 hợp lệ",
    "datetime_from_date_parsing": "Không phải là thời điểm RFC 3339 hợp lệ",
    "literal_error": "Phải là một trong: {expected}",
    "enum": "Phải là một trong: {expected}",
    "list_type": "Phải là một danh sách (mảng JSON)",
    "dict_type": "Phải là một đối tượng JSON",
    "model_type": "Phải là một đối tượng JSON",
    "model_attributes_type": "Phải là một đối tượng JSON",
    "too_short": "Quá ít phần tử (tối thiểu {min_length})",
    "too_long": "Quá nhiều phần tử (tối đa {max_length})",
    "json_invalid": "JSON không hợp lệ",
    "json_type": "JSON không hợp lệ",
    "union_tag_invalid": "Giá trị phân loại không hợp lệ: phải là một trong {expected_tags}",
    "union_tag_not_found": "Thiếu trường phân loại {discriminator}",
    "value_error": "Giá trị không hợp lệ: {error}",
    "assertion_error": "Giá trị không hợp lệ: {error}",
    "url_parsing": "Không phải là URL hợp lệ",
    "uuid_parsing": "Không phải là UUID hợp lệ",
}


def pydantic_message(error: dict[str, Any]) -> str:
    """One validation error of pydantic in the request's language."""
    english = str(error.get("msg", ""))
    if _language.get() != "vi":
        return english
    template = _PYDANTIC_VI.get(str(error.get("type", "")))
    if template is None:
        return english
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split(":")[0].split("(")[0].strip()
