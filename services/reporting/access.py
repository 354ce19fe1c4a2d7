"""Who may read which figures: the province a query is about, and the checks.

Figures of a unit are province data: reading them needs role `viewer` (or
`submitter`, or admin) for the province the unit lies in, found in the active
generation's `UnitIndex` (a province is its own province; a district, commune or
village its ancestors' province). `vn` is national data and needs national scope, and
so does a unit whose province cannot be determined (its ancestors are not known yet).
"""

from __future__ import annotations

from shared.auth.http import authorize
from shared.auth.principal import Principal
from shared.units import NATION_ID, UnitIndex


def province_scope(unit_id: str, units: UnitIndex) -> str | None:
    """The province whose viewers may read figures of `unit_id`; `None`: national scope."""
    if unit_id == NATION_ID:
        return None
    return units.province_of(unit_id)


def require_viewer(caller: Principal, unit_id: str, units: UnitIndex) -> None:
    """403 problem unless the caller may read the figures of `unit_id`."""
    authorize(caller, "viewer", province_scope(unit_id, units))


def may_read(caller: Principal, unit_id: str, units: UnitIndex) -> bool:
    return caller.may("viewer", province_scope(unit_id, units))


def require_reading_role(caller: Principal) -> None:
    """403 for a client with no role that reads figures at all (before filtering a
    list down to the caller's provinces, so that such a client is not just shown an
    empty list)."""
    if not caller.has_role("viewer"):
        authorize(caller, "viewer", None)
