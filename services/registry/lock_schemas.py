"""Bodies of the lock and approval endpoints (docs/registry.md, *Locks and approvals*)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.approvals import ApprovalAction, ApprovalState, LockOrigin

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
UnitId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]

LOCK_EXAMPLE: dict[str, Any] = {
    "id": "P8|2024|vn63:186",
    "programme": "P8",
    "period": "2024",
    "unit_id": "vn63:186",
    "locked": True,
    "origin": "lock",
    "reason": "Báo cáo năm 2024 đã chốt",
    "since": "2025-01-20T08:30:00+00:00",
    "by": "langson-approver",
    "revision": 1,
}
APPROVAL_EXAMPLE: dict[str, Any] = {
    "id": "P8|2024Q4|vn63:06433",
    "programme": "P8",
    "period": "2024Q4",
    "unit_id": "vn63:06433",
    "province_id": "vn63:20",
    "state": "approved",
    "path": ["open", "submitted", "approved", "accepted"],
    "allowed": ["accept", "reopen"],
    "steps": [
        {
            "action": "submit",
            "state": "submitted",
            "by": "vannham-submitter",
            "at": "2025-01-05T02:00:00+00:00",
            "reason": None,
        },
        {
            "action": "approve",
            "state": "approved",
            "by": "huulung-approver",
            "at": "2025-01-08T03:15:00+00:00",
            "reason": None,
        },
    ],
    "locked": True,
    "revision": 2,
}


class LockIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"unit_id": "vn63:186", "reason": "Báo cáo năm 2024 đã chốt"}]
        },
    )

    unit_id: UnitId = Field(description="The unit locked, with every unit under it")
    reason: Reason = Field(description="Why the period is locked (kept in the lock)")


class Lock(BaseModel):
    """A lock of one programme's period for a unit and everything under it."""

    model_config = ConfigDict(json_schema_extra={"examples": [LOCK_EXAMPLE]})

    id: str = Field(
        description="`programme|period|unit_id`, followed by `|approval` when an approval set it"
    )
    programme: str
    period: str
    unit_id: str
    locked: bool = Field(description="`false` once reopened")
    origin: LockOrigin = Field(description="`lock` (set by hand) or `approval`")
    reason: str = Field(description="Why it was locked, or (reopened) why it was reopened")
    since: datetime = Field(description="When it took its current state")
    by: str = Field(description="The API client that set it (or reopened it)")
    revision: int


class LockList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [LOCK_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Lock]
    next_cursor: str | None = None


class ApprovalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"unit_id": "vn63:06433", "action": "submit"},
                {"unit_id": "vn63:06433", "action": "reopen", "reason": "Thiếu số liệu tháng 12"},
            ]
        },
    )

    unit_id: UnitId = Field(description="A commune, or a unit directly under a province")
    action: ApprovalAction = Field(description="`submit`, `approve`, `accept` or `reopen`")
    reason: Reason | None = Field(default=None, description="Required to `reopen`")


class Step(BaseModel):
    action: ApprovalAction
    state: ApprovalState = Field(description="The state the step led to")
    by: str
    at: datetime
    reason: str | None = None


class Approval(BaseModel):
    """Where one unit's data for a programme and period stands, with every step taken."""

    model_config = ConfigDict(json_schema_extra={"examples": [APPROVAL_EXAMPLE]})

    id: str
    programme: str
    period: str
    unit_id: str
    province_id: str
    state: ApprovalState
    path: list[ApprovalState] = Field(description="The states this unit goes through")
    allowed: list[ApprovalAction] = Field(description="The actions possible now")
    steps: list[Step]
    locked: bool = Field(description="Whether the lock this record sets is in force")
    revision: int = Field(description="0 for a record no step was taken on yet")


class ApprovalList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [APPROVAL_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Approval]
    next_cursor: str | None = None
