"""Who may read and write which province's registry data (docs/registry.md, *Access*).

Province data (villages, classifications, sites, clubs, members, targets on a unit)
belongs to the province its unit lies in; a client needs `submitter` for that province
to write it and `viewer` (or `submitter`) to read it. National data (a target on `vn`)
and data whose province cannot be determined (an unknown unit) need national scope.
The refusal is a 403 problem naming the role and province the request needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.auth import NATIONAL_SCOPE, Principal
from shared.auth.principal import Role
from shared.http import Problem

Loc = Sequence[str | int]


def forbidden(
    caller: Principal, role: Role, province: str | None, reason: str, loc: Loc | None = None
) -> Problem:
    """The 403 of `shared.auth.http.authorize`, saying why this province was needed."""
    needed = caller.missing_scope(role, province)
    return Problem(
        403,
        "forbidden",
        "Not allowed for this client",
        f"{reason} This request needs {needed}; client {caller.client_id} has roles "
        f"{sorted(caller.roles)} for provinces {sorted(caller.provinces)}.",
        errors=None if loc is None else [{"loc": list(loc), "msg": f"{reason} Needs {needed}."}],
        required_role=role,
        required_province=province or NATIONAL_SCOPE,
    )


def require(
    caller: Principal, role: Role, province: str | None, reason: str, loc: Loc | None = None
) -> None:
    """Raise the 403 unless the caller holds `role` for `province` (`None`: national)."""
    if not caller.may(role, province):
        raise forbidden(caller, role, province, reason, loc)


def where(province: str | None) -> str:
    """Words for the province data belongs to."""
    return "national data" if province is None else f"province {province}"


def unknown_unit_reason(unit_id: str) -> str:
    return f"Unit {unit_id!r} is unknown, so the province it belongs to cannot be determined."


def viewable_provinces(caller: Principal) -> list[str] | None:
    """The provinces whose data a list may show the caller (`None`: all of them)."""
    if caller.national:
        return None
    if not caller.has_role("viewer"):
        raise forbidden(caller, "viewer", None, "Listing needs a role that may read.")
    return sorted(caller.provinces)
