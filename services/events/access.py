"""Who may write and read which activities: roles per province.

An activity belongs to the province of its unit, as the registry replica knows it
(a village not seen yet belongs to its commune's province). A unit whose province
cannot be determined (unknown to the replica) is national data: only a client with
national scope may write or read it. A stored activity keeps the province it was
written in (`province_id`), so revising, voiding or reading it needs rights on that
province, whatever unit a new version names.
"""

from __future__ import annotations

from services.events.references import ReferenceCache
from shared.auth import Principal
from shared.auth.http import authorize
from shared.auth.principal import Role
from shared.http import Problem
from shared.mongo import Document
from shared.units import NATION_ID, parse_unit_id

FORBIDDEN = "forbidden"


def activity_province(cache: ReferenceCache, document: Document) -> str | None:
    """The province a stored activity belongs to (`None`: national scope needed)."""
    stored: str | None = document.get("province_id")
    return stored or cache.province_of(document["activity"]["unit_id"])


def refusal(principal: Principal, role: Role, province_id: str | None) -> Problem | None:
    """The 403 problem `authorize` would raise, or `None` when the client may."""
    try:
        authorize(principal, role, province_id)
    except Problem as problem:
        return problem
    return None


def authorizable(unit_id: str) -> bool:
    """Whether a unit id names a place rights can be checked on.

    A malformed id or `vn` itself is refused by validation with a message about the
    id; checking rights on it would only hide that message behind a 403.
    """
    return unit_id != NATION_ID and parse_unit_id(unit_id) is not None


def require_role(principal: Principal, role: Role) -> None:
    """403 unless the client holds `role` for at least one province (or is an admin)."""
    if principal.has_role(role):
        return
    raise Problem(
        403,
        FORBIDDEN,
        "Not allowed for this client",
        f"This request needs role {role!r}; client {principal.client_id} has roles "
        f"{sorted(principal.roles)}.",
        required_role=role,
    )
