"""Which province registry data belongs to, said for a refusal (docs/registry.md, *Access*).

Province data (villages, classifications, sites, clubs, members, targets on a unit)
belongs to the province its unit lies in; a client needs `submitter` for that province
to write it and `viewer` (or `submitter`) to read it; national data (a target on `vn`)
needs national scope. The checks and the 403 are the edge's
(`shared.edge.authorization`); this module only words where a record lies.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.auth import Principal
from shared.auth.principal import Role
from shared.edge.authorization import require


def require_for(
    caller: Principal,
    role: Role,
    province: str | None,
    what_en: str,
    what_vi: str,
    loc: Sequence[str | int] | None = None,
) -> None:
    """403 unless the caller holds `role` where `what` lies, saying where that is."""
    where_en = "national data" if province is None else f"province {province}"
    where_vi = "dữ liệu toàn quốc" if province is None else f"tỉnh {province}"
    require(
        caller, role, province, f"{what_en} is in {where_en}.", f"{what_vi} thuộc {where_vi}.", loc
    )
