"""Events of period locks and approval steps (`bdg.registry.v1.lock.*`, `…approval.*`).

Both are registry events: one approval record per (programme, period, unit), its id
`"{programme}|{period}|{unit_id}"`; one lock per (programme, period, unit, origin), its
id the same key for a lock set by hand and the key followed by `|approval` for the lock
an approval sets. Each event carries the entity's full new state and a `revision` that
grows with every change, like every registry event.

A lock on a period covers every day of it, for the unit and every unit under it (and,
across the 2025 reorganisation, its successors or predecessors for the days on their
side of it). A lock is `locked` until reopened; reopening keeps the entity with
`locked` false, so a later lock of the same key is a higher revision.

An approval record holds the step a unit's data for a programme and period has reached
and every step taken, in order. Approving (or accepting) locks what it approves: the
registry publishes the matching lock with `origin` `"approval"`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.catalogue import EventKind, register_kind
from shared.contracts.registry import RegistryData
from shared.contracts.streams import REGISTRY

ApprovalState = Literal["open", "submitted", "approved", "accepted"]
ApprovalAction = Literal["submit", "approve", "accept", "reopen"]
LockOrigin = Literal["lock", "approval"]


def approval_key(programme: str, period: str, unit_id: str) -> str:
    """The id of the approval record of one programme, period and unit."""
    return f"{programme}|{period}|{unit_id}"


def lock_key(programme: str, period: str, unit_id: str, origin: LockOrigin = "lock") -> str:
    """The id of a lock: set by hand, or set by an approval (the two never overwrite)."""
    key = approval_key(programme, period, unit_id)
    return key if origin == "lock" else f"{key}|{origin}"


class LockSet(RegistryData):
    """The lock of one programme's period for a unit and everything under it."""

    id: str
    programme: str
    period: str
    unit_id: str
    locked: bool
    origin: LockOrigin = "lock"
    reason: str = Field(max_length=1000)
    since: datetime
    by: str


class ApprovalStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ApprovalAction
    state: ApprovalState
    by: str
    at: datetime
    reason: str | None = None


class ApprovalSet(RegistryData):
    """Where one unit's data for a programme and period stands, with every step taken.

    `path` is the chain of states this unit goes through, which follows the edition in
    force for the period: commune → district → province for vn63 periods
    (`["open", "submitted", "approved", "accepted"]`), commune → province for vn34
    periods and for units directly under the province (`["open", "submitted",
    "accepted"]`).
    """

    id: str
    programme: str
    period: str
    unit_id: str
    province_id: str
    state: ApprovalState
    path: list[ApprovalState]
    steps: list[ApprovalStep]


LOCK_SET = register_kind(
    EventKind(entity="lock", action="set", stream=REGISTRY, data_model=LockSet)
)
APPROVAL_SET = register_kind(
    EventKind(entity="approval", action="set", stream=REGISTRY, data_model=ApprovalSet)
)
