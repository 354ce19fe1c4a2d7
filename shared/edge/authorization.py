"""Who may do what: the one check and the one 403 of every service.

A refusal says what is missing: the role (the client has no `submitter` role at
all), or the province (it has the role, but not for this province, or the data is
national). `required_role` and `required_province` carry the same in
machine-readable form; the `type` is always `forbidden`.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.auth.principal import NATIONAL_SCOPE, Principal, Role
from shared.edge import problems
from shared.edge.i18n import say
from shared.edge.problems import field_error
from shared.http import Problem

Loc = Sequence[str | int]


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)) or "-"


def forbidden(
    caller: Principal,
    role: Role,
    province: str | None,
    reason_en: str = "",
    reason_vi: str = "",
    loc: Loc | None = None,
) -> Problem:
    """The 403 for a caller lacking `role` for `province` (`None`: national data)."""
    reason = say(reason_en, reason_vi)
    prefix = f"{reason} " if reason else ""
    if not caller.has_role(role):
        detail = say(
            f"{prefix}This needs role {role!r}; client {caller.client_id} has roles "
            f"[{_listed(caller.roles)}].",
            f"{prefix}Thao tác này cần vai trò {role!r}; ứng dụng {caller.client_id} có vai "
            f"trò [{_listed(caller.roles)}].",
        )
    elif province is None:
        detail = say(
            f"{prefix}This is national data: it needs national scope (`vn`); client "
            f"{caller.client_id} acts for provinces [{_listed(caller.provinces)}].",
            f"{prefix}Đây là dữ liệu toàn quốc: cần phạm vi toàn quốc (`vn`); ứng dụng "
            f"{caller.client_id} chỉ được làm việc với các tỉnh [{_listed(caller.provinces)}].",
        )
    else:
        detail = say(
            f"{prefix}Client {caller.client_id} does not act for province {province}; it "
            f"acts for [{_listed(caller.provinces)}].",
            f"{prefix}Ứng dụng {caller.client_id} không được làm việc với tỉnh {province}; "
            f"chỉ với [{_listed(caller.provinces)}].",
        )
    errors = None if loc is None else [field_error(loc, detail)]
    return problems.forbidden(detail, role, province or NATIONAL_SCOPE, errors)


def require(
    caller: Principal,
    role: Role,
    province: str | None,
    reason_en: str = "",
    reason_vi: str = "",
    loc: Loc | None = None,
) -> None:
    """Raise the 403 unless the caller holds `role` for `province` (`None`: national)."""
    if not caller.may(role, province):
        raise forbidden(caller, role, province, reason_en, reason_vi, loc)


def refusal(caller: Principal, role: Role, province: str | None) -> Problem | None:
    """The 403 `require` would raise, or `None` when the caller may."""
    return None if caller.may(role, province) else forbidden(caller, role, province)


def require_role(caller: Principal, role: Role) -> None:
    """403 unless the client holds `role` for at least one province (or is an admin)."""
    if not caller.has_role(role):
        # Any province will do: the role is what is missing.
        raise forbidden(caller, role, next(iter(sorted(caller.provinces)), None))


def require_admin(caller: Principal) -> None:
    if not caller.is_admin:
        raise forbidden(caller, "admin", None)


def viewable_provinces(caller: Principal) -> list[str] | None:
    """The provinces whose data a list may show the caller (`None`: all of them)."""
    if caller.national:
        return None
    require_role(caller, "viewer")
    return sorted(caller.provinces)
