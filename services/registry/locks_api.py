"""The registry's HTTP routes for period locks and approval steps.

`PUT`/`DELETE /v1/locks/{programme}/{period}` and `GET /v1/locks` (the contract's
paths); approval steps under `/v1/approvals`. Who may do what is decided by the use
cases (`locks.py`, `approvals.py`; docs/registry.md, *Locks and approvals*).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.registry.deps import CodePath, Cursor, Limit, RegistryDep
from services.registry.lock_schemas import (
    APPROVAL_EXAMPLE,
    LOCK_EXAMPLE,
    Approval,
    ApprovalIn,
    ApprovalList,
    Lock,
    LockIn,
    LockList,
)
from shared.auth.http import Caller, current_principal
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])


async def _in_force(request: Request) -> None:
    """Answer once the change is on its way to the services that enforce it: the
    events are published before the answer (on the replica that publishes; elsewhere
    at the publisher's next pass), so a write sent after a 201 meets the lock."""
    runtime: ServiceRuntime = request.app.state.runtime
    await runtime.published()


_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
PeriodPath = Annotated[
    str,
    Path(
        max_length=40,
        description="`2024`, `2024H1`, `2024Q4`, `2024-11` or `SY2024-2025` (no ranges)",
    ),
]
UnitIdPath = Annotated[
    str,
    Path(
        max_length=60,
        description="A commune, or a unit directly under a province: `vn63:06433`, `vn34:06415`",
    ),
]
_LOCK_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not an `approver` (or admin) of the unit's province", **_PROBLEM},
    404: {"description": "Unknown programme (`unknown-programme`, naming the field)", **_PROBLEM},
    422: {
        "description": "Unknown unit (`unknown-unit`), a period that is not one "
        "(`invalid-period`; ranges are refused), no reason (`reason-required`)",
        **_PROBLEM,
    },
}
_REOPENED_EXAMPLE = {
    **LOCK_EXAMPLE,
    "locked": False,
    "reason": "Bổ sung hoạt động tháng 12 bị sót",
    "since": "2025-02-03T01:00:00+00:00",
    "revision": 2,
}


# --------------------------------------------------------------------- locks
@router.put(
    "/locks/{programme}/{period}",
    response_model=Lock,
    tags=["locks"],
    summary="Lock a programme's period for a unit and everything under it",
    responses={
        200: {"description": "Already locked: nothing changed, the lock in force"},
        201: {
            "model": Lock,
            "description": "Locked: the events service refuses writes into the period",
            "content": {"application/json": {"example": LOCK_EXAMPLE}},
        },
        **_LOCK_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {"unit_id": "vn63:186", "reason": "Báo cáo năm 2024 đã chốt"}
                }
            }
        }
    },
)
async def put_lock(
    programme: CodePath,
    period: PeriodPath,
    body: LockIn,
    request: Request,
    response: Response,
    reg: RegistryDep,
    caller: Caller,
) -> Lock:
    """From the moment this returns (plus well under a second of delivery), the events
    service refuses creating, revising or voiding activities of `programme` dated in
    `period` on `unit_id`, any unit under it and (across the 2025-07-01 reorganisation)
    its successors or predecessors: 409 `period-locked`. Needs `approver` for the
    unit's province (a lock on `vn`: national scope). Published as `lock.set`."""
    lock, created = await reg.locks.lock(programme, period, body.unit_id, body.reason, caller)
    response.status_code = 201 if created else 200
    await _in_force(request)
    return lock


@router.delete(
    "/locks/{programme}/{period}",
    response_model=Lock,
    tags=["locks"],
    summary="Reopen a locked period",
    responses={
        200: {
            "description": "Reopened: the lock with `locked` false",
            "content": {"application/json": {"example": _REOPENED_EXAMPLE}},
        },
        **_LOCK_ERRORS,
        404: {
            "description": "Unknown programme (`unknown-programme`), or no lock set by hand "
            "in force (`not-locked`)",
            **_PROBLEM,
        },
    },
)
async def delete_lock(
    programme: CodePath,
    period: PeriodPath,
    request: Request,
    reg: RegistryDep,
    caller: Caller,
    unit_id: Annotated[str, Query(max_length=60, description="The unit the lock is on")],
    reason: Annotated[
        str | None, Query(max_length=1000, description="Why it is reopened (required)")
    ] = None,
) -> Lock:
    """Lifts the lock set by hand (a lock set by an approval is lifted by reopening the
    approval); writes into the period are accepted again. Audited with its reason;
    published as `lock.set` with `locked` false. Needs `approver` for the unit's
    province."""
    lock = await reg.locks.reopen(programme, period, unit_id, reason, caller)
    await _in_force(request)
    return lock


@router.get(
    "/locks",
    response_model=LockList,
    tags=["locks"],
    summary="Locks in force",
    responses={403: {"description": "Not a viewer of the unit's province", **_PROBLEM}},
)
async def list_locks(
    reg: RegistryDep,
    caller: Caller,
    programme: Annotated[str | None, Query(max_length=20, description="Of this programme")] = None,
    unit_id: Annotated[
        str | None,
        Query(
            max_length=60,
            description="Locks on this unit, on a unit above it (covering it) or on a unit "
            "under it (same edition)",
        ),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> LockList:
    """Hand-set and approval locks in force, by id. With `unit_id`, those on the unit
    and on every unit above it (`viewer` of its province); without, those of the
    caller's provinces (national scope: all)."""
    return await reg.locks.in_force(
        caller, programme=programme, unit_id=unit_id, limit=limit, cursor=cursor
    )


# ----------------------------------------------------------------- approvals
@router.post(
    "/approvals/{programme}/{period}",
    response_model=Approval,
    tags=["approvals"],
    summary="Take an approval step: submit, approve, accept or reopen",
    responses={
        200: {
            "description": "The record after the step",
            "content": {"application/json": {"example": APPROVAL_EXAMPLE}},
        },
        403: {
            "description": "`submit` needs `submitter` or `approver`, the other steps "
            "`approver`, of the unit's province",
            **_PROBLEM,
        },
        404: {"description": "Unknown programme (`unknown-programme`)", **_PROBLEM},
        409: {
            "description": "Step out of order (`approval-out-of-order`, with `state` and "
            "`allowed`)",
            **_PROBLEM,
        },
        422: {
            "description": "Unknown unit, a unit that does not report (`approval-unit-level`), "
            "a period outside the unit's edition (`wrong-edition-period`), reopen without "
            "`reason` (`reason-required`)",
            **_PROBLEM,
        },
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "submit": {"value": {"unit_id": "vn63:06433", "action": "submit"}},
                        "approve": {"value": {"unit_id": "vn63:06433", "action": "approve"}},
                        "reopen": {
                            "value": {
                                "unit_id": "vn63:06433",
                                "action": "reopen",
                                "reason": "Thiếu số liệu tháng 12",
                            }
                        },
                    }
                }
            }
        }
    },
)
async def approval_step(
    programme: CodePath,
    period: PeriodPath,
    body: ApprovalIn,
    request: Request,
    reg: RegistryDep,
    caller: Caller,
) -> Approval:
    """`open → submitted → approved → accepted` for a commune under a district (vn63),
    `open → submitted → accepted` for a unit directly under its province (vn34
    communes, vn63 districts); `reopen` (with `reason`) goes back one step. Reaching
    `approved` or `accepted` locks the period for the unit (a lock with origin
    `approval`); reopening below `approved` lifts it. Every step is audited and
    published as `approval.set`."""
    record = await reg.approvals.step(
        programme, period, body.unit_id, body.action, body.reason, caller
    )
    await _in_force(request)
    return record


@router.get(
    "/approvals",
    response_model=ApprovalList,
    tags=["approvals"],
    summary="Approval records",
    responses={403: {"description": "Not a viewer of the unit's province", **_PROBLEM}},
)
async def list_approvals(
    reg: RegistryDep,
    caller: Caller,
    programme: Annotated[str | None, Query(max_length=20)] = None,
    period: Annotated[str | None, Query(max_length=40)] = None,
    unit_id: Annotated[
        str | None, Query(max_length=60, description="Records on this unit or any unit under it")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ApprovalList:
    """Records where at least one step was taken, by id; without `unit_id`, those of the
    caller's provinces (national scope: all)."""
    return await reg.approvals.find(
        caller, programme=programme, period=period, unit_id=unit_id, limit=limit, cursor=cursor
    )


@router.get(
    "/approvals/{programme}/{period}/{unit_id}",
    response_model=Approval,
    tags=["approvals"],
    summary="One unit's approval record",
    responses={
        200: {"content": {"application/json": {"example": APPROVAL_EXAMPLE}}},
        403: {"description": "Not a viewer of the unit's province", **_PROBLEM},
    },
)
async def get_approval(
    programme: CodePath, period: PeriodPath, unit_id: UnitIdPath, reg: RegistryDep, caller: Caller
) -> Approval:
    """The record with every step taken; a unit no step was taken on yet is `open`
    with revision 0."""
    return await reg.approvals.get(programme, period, unit_id, caller)
