"""The registry's problem types (RFC 9457), in one place so their slugs stay stable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.http import Problem

Loc = Sequence[str | int]


def invalid(kind: str, title: str, detail: str, loc: Loc, status: int = 422) -> Problem:
    """A rejected field: status 422 unless told, with `errors: [{loc, msg}]`."""
    return Problem(status, kind, title, detail, errors=[{"loc": list(loc), "msg": detail}])


def unknown_unit(unit_id: str, loc: Loc) -> Problem:
    return invalid("unknown-unit", "Unknown unit", f"No unit {unit_id!r}.", loc)


def unit_not_found(unit_id: str) -> Problem:
    return Problem(404, "unknown-unit", "Unknown unit", f"No unit {unit_id!r}.")


def unknown_programme(code: str, loc: Loc) -> Problem:
    return invalid(
        "unknown-programme",
        "Unknown programme",
        f"No programme {code!r}; create it with PUT /v1/programmes/{code} first.",
        loc,
    )


def programme_not_found(code: str) -> Problem:
    return Problem(404, "unknown-programme", "Unknown programme", f"No programme {code!r}.")


def club_not_found(club_id: str) -> Problem:
    return Problem(404, "unknown-club", "Unknown club", f"No club {club_id!r}.")


def site_not_found(site_id: str) -> Problem:
    return Problem(404, "unknown-site", "Unknown site", f"No site {site_id!r}.")


def combined(problems: Sequence[Problem]) -> Problem:
    """Several rejected fields at once: the first one's type, every field's error."""
    first = problems[0]
    errors: list[dict[str, Any]] = [error for problem in problems for error in problem.errors or []]
    detail = (
        first.detail
        if len(problems) == 1
        else f"{first.detail} (and {len(problems) - 1} more; see `errors`)"
    )
    return Problem(first.status, first.kind, first.title, detail, errors=errors)
