"""Who is calling and what they may do: roles per set of provinces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["submitter", "viewer", "approver", "admin"]
ROLES: tuple[Role, ...] = ("submitter", "viewer", "approver", "admin")
# A client whose provinces include `vn` has national scope.
NATIONAL_SCOPE = "vn"


@dataclass(frozen=True)
class Principal:
    client_id: str
    roles: frozenset[str]
    provinces: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def national(self) -> bool:
        return self.is_admin or NATIONAL_SCOPE in self.provinces

    def has_role(self, role: Role) -> bool:
        if self.is_admin:
            return True
        if role == "viewer":
            # Whoever may submit or approve a province's data may also read it.
            return bool({"viewer", "submitter", "approver"} & self.roles)
        return role in self.roles

    def covers(self, province_id: str | None) -> bool:
        """Whether the client's provinces include this one (`None`: national data)."""
        if self.national:
            return True
        return province_id is not None and province_id in self.provinces

    def may(self, role: Role, province_id: str | None) -> bool:
        return self.has_role(role) and self.covers(province_id)

    def missing_scope(self, role: Role, province_id: str | None) -> str:
        """Words for a 403: the scope the request needed."""
        where = "national scope" if province_id is None else f"province {province_id}"
        return f"role {role!r} for {where}"
