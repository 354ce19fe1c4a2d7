"""Who may write and read which activities: roles per province.

An activity belongs to the province of its unit, as the registry replica knows it
(a village not seen yet belongs to its commune's province). A unit whose province
cannot be determined (unknown to the replica) is national data: only a client with
national scope may write or read it. A stored activity keeps the province it was
written in (`province_id`), so revising, voiding or reading it needs rights on that
province, whatever unit a new version names.
"""

from __future__ import annotations

from services.events.reference_cache import ReferenceCache
from shared.mongo import Document
from shared.units import NATION_ID, parse_unit_id

FORBIDDEN = "forbidden"


def activity_province(cache: ReferenceCache, document: Document) -> str | None:
    """The province a stored activity belongs to (`None`: national scope needed)."""
    stored: str | None = document.get("province_id")
    return stored or cache.province_of(document["activity"]["unit_id"])


def authorizable(unit_id: str) -> bool:
    """Whether a unit id names a place rights can be checked on.

    A malformed id or `vn` itself is refused by validation with a message about the
    id; checking rights on it would only hide that message behind a 403.
    """
    return unit_id != NATION_ID and parse_unit_id(unit_id) is not None
