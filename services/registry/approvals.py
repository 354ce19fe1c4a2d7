"""Use cases for approval steps: a unit's data for a programme and period, step by step.

A commune's data is submitted, approved one level up (its district) and accepted by
the province: `open → submitted → approved → accepted` for a commune under a district
(vn63), `open → submitted → accepted` for a unit directly under its province (every
vn34 commune, and vn63 districts). Reopening goes back one step, with a reason. The
period must lie within the unit's edition: a vn63 unit for periods ending by
2025-06-30, a vn34 unit for periods from 2025-07-01.

Approving locks what it approves: a record at `approved` or `accepted` holds a lock
in force (origin `approval`), published as `lock.set` in the same document write as
the step's `approval.set`; a reopen that takes it below `approved` lifts that lock.

Who: `submit` needs `submitter` or `approver` of the unit's province; `approve`,
`accept` and `reopen` need `approver` (admins may do everything).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.registry import messages
from services.registry.lock_schemas import Approval, ApprovalList
from services.registry.locks import Scope, Scopes, moment, period_of, reason_required
from services.registry.repository import ApprovalRepository, Repositories
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.principal import Role
from shared.contracts import approval_key, lock_key
from shared.contracts.approvals import ApprovalAction, ApprovalState
from shared.edge import problems
from shared.edge.authorization import viewable_provinces
from shared.edge.cursors import decode_cursor, page_cursor
from shared.edge.i18n import say
from shared.http import Problem
from shared.mongo import Document
from shared.units import LAST_DAY_VN63, REFORM_DATE

_ATTEMPTS = 20
LONG_PATH: list[ApprovalState] = ["open", "submitted", "approved", "accepted"]
SHORT_PATH: list[ApprovalState] = ["open", "submitted", "accepted"]
# The action that leads into each state along a path.
_ACTION_INTO: dict[str, ApprovalAction] = {
    "submitted": "submit",
    "approved": "approve",
    "accepted": "accept",
}
LOCKING_STATES = frozenset({"approved", "accepted"})
_ROLES: dict[str, list[Role]] = {
    "submit": ["submitter", "approver"],
    "approve": ["approver"],
    "accept": ["approver"],
    "reopen": ["approver"],
}
APPROVED_LEVELS = ("commune", "district")


def allowed_actions(state: str, path: Sequence[str]) -> list[ApprovalAction]:
    """What may be done from `state`: the next step forward, and reopen unless open."""
    position = path.index(state)
    found: list[ApprovalAction] = []
    if position + 1 < len(path):
        found.append(_ACTION_INTO[path[position + 1]])
    if position > 0:
        found.append("reopen")
    return found


def next_state(state: str, path: Sequence[str], action: ApprovalAction) -> str | None:
    """The state `action` leads to from `state`, or `None` when it is out of order."""
    if action not in allowed_actions(state, path):
        return None
    position = path.index(state)
    return path[position - 1] if action == "reopen" else path[position + 1]


def approval_view(record: Document) -> Approval:
    lock = record.get("lock") or {}
    return Approval.model_validate(
        {
            **{name: record[name] for name in Approval.model_fields if name in record},
            "allowed": allowed_actions(record["state"], record["path"]),
            "locked": bool(lock.get("locked")),
        }
    )


class ApprovalService:
    def __init__(self, repositories: Repositories, scopes: Scopes) -> None:
        self._approvals: ApprovalRepository = repositories.approvals
        self._scopes = scopes

    def _path(self, scope: Scope) -> list[ApprovalState]:
        parent = self._scopes.units.directory.get(scope.unit.get("parent_id") or "")
        return SHORT_PATH if parent is not None and parent["level"] == "province" else LONG_PATH

    async def _scope(
        self,
        programme: str,
        period: str,
        unit_id: str,
        caller: Principal,
        roles: Sequence[Role],
        unit_loc: Sequence[str | int],
    ) -> Scope:
        scope = await self._scopes.scope(programme, period, unit_id, caller, roles, unit_loc)
        _check_unit(scope, unit_loc)
        successors = self._scopes.units.directory.index.successors(scope.unit_id)
        _check_edition(scope, successors, unit_loc)
        return scope

    def _fresh(self, scope: Scope) -> Document:
        """The record of a unit no step was taken on yet."""
        return {
            "id": approval_key(scope.programme, scope.period.key, scope.unit_id),
            "programme": scope.programme,
            "period": scope.period.key,
            "unit_id": scope.unit_id,
            "province_id": scope.province,
            "lineage": self._scopes.units.directory.index.lineage(scope.unit_id),
            "state": "open",
            "path": self._path(scope),
            "steps": [],
            "lock": None,
            "revision": 0,
        }

    async def step(
        self,
        programme: str,
        period: str,
        unit_id: str,
        action: ApprovalAction,
        reason: str | None,
        caller: Principal,
    ) -> Approval:
        scope = await self._scope(
            programme, period, unit_id, caller, _ROLES[action], ["body", "unit_id"]
        )
        text = reason_required(reason, ["body", "reason"]) if action == "reopen" else reason
        key = approval_key(programme, scope.period.key, scope.unit_id)
        for _ in range(_ATTEMPTS):
            held = await self._approvals.get(key)
            record = held if held is not None else self._fresh(scope)
            state = next_state(record["state"], record["path"], action)
            if state is None:
                raise _out_of_order(record, action)
            changed, events = self._advance(record, action, state, text, caller, scope)
            revision = None if held is None else int(held["revision"])
            stored = {name: value for name, value in changed.items() if name != "revision"}
            if await self._approvals.put_if_at(key, revision, stored, events):
                note_write(f"approval.{action}", key, changed["revision"], state=state, reason=text)
                lock = changed["lock"]
                if lock is not None and lock is not record["lock"]:
                    action_name = "lock.set" if lock["locked"] else "lock.reopened"
                    note_write(action_name, lock["id"], lock["revision"], reason=lock["reason"])
                return approval_view(changed)
        raise problems.concurrent_write(key)

    @staticmethod
    def _advance(
        record: Document,
        action: ApprovalAction,
        state: str,
        reason: str | None,
        caller: Principal,
        scope: Scope,
    ) -> tuple[Document, list[Any]]:
        """The record after the step, and its events: `approval.set`, and `lock.set`
        when the step puts the record's lock in force or lifts it."""
        at = moment()
        step = {
            "action": action,
            "state": state,
            "by": caller.client_id,
            "at": at,
            "reason": reason,
        }
        changed = {
            **record,
            "state": state,
            "steps": [*record["steps"], step],
            "revision": int(record["revision"]) + 1,
        }
        events = [messages.approval_set(changed, changed["revision"])]
        held_lock = record.get("lock")
        was_locked = bool(held_lock and held_lock["locked"])
        locked = state in LOCKING_STATES
        if locked != was_locked:
            lock_revision = (int(held_lock["revision"]) if held_lock else 0) + 1
            lock = {
                "id": lock_key(scope.programme, scope.period.key, scope.unit_id, "approval"),
                "programme": scope.programme,
                "period": scope.period.key,
                "unit_id": scope.unit_id,
                "province_id": scope.province,
                "locked": locked,
                "origin": "approval",
                # A lock's reason holds at most 1,000 characters (LockSet).
                "reason": (f"approval {state}" if locked else f"approval reopened: {reason}")[
                    :1000
                ],
                "since": at,
                "by": caller.client_id,
                "revision": lock_revision,
            }
            changed["lock"] = lock
            events.append(messages.lock_set(lock, lock_revision, scope.province))
        return changed, events

    async def get(self, programme: str, period: str, unit_id: str, caller: Principal) -> Approval:
        """The record, or (no step taken yet) the open record with revision 0."""
        scope = await self._scope(
            programme, period, unit_id, caller, ["viewer"], ["path", "unit_id"]
        )
        key = approval_key(programme, scope.period.key, scope.unit_id)
        held = await self._approvals.get(key)
        return approval_view(held if held is not None else self._fresh(scope))

    async def find(
        self,
        caller: Principal,
        *,
        programme: str | None,
        period: str | None,
        unit_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> ApprovalList:
        """Records by id; `unit_id`: records on that unit or any unit under it."""
        if programme is not None:
            await self._scopes.programme(programme, ["query", "programme"])
        period_key = None if period is None else period_of(period, ["query", "period"]).key
        provinces: list[str] | None = None
        within: str | None = None
        if unit_id is not None:
            unit = await self._scopes.units.unit_for(
                unit_id, caller, "viewer", ["query", "unit_id"]
            )
            within = str(unit["id"])
        else:
            provinces = viewable_provinces(caller)
        key = decode_cursor(cursor, (str,))
        found = await self._approvals.records(
            programme=programme,
            period=period_key,
            within=within,
            provinces=provinces,
            after=None if key is None else str(key[0]),
            limit=limit + 1,
        )
        return ApprovalList(
            items=[approval_view(d) for d in found[:limit]],
            next_cursor=page_cursor(found, limit, lambda d: [str(d["_id"])]),
        )


def _check_unit(scope: Scope, loc: Sequence[str | int]) -> None:
    level = scope.unit["level"]
    if level not in APPROVED_LEVELS:
        raise problems.invalid(
            "approval-unit-level",
            say("Not a unit that reports", "Không phải đơn vị báo cáo"),
            say(
                f"{scope.unit_id} is a {level}; approvals are about the data of a commune, or "
                "of a district directly under its province (vn63).",
                f"{scope.unit_id} là cấp {level}; phê duyệt áp dụng cho số liệu của một xã, "
                "hoặc của một huyện trực thuộc tỉnh (vn63).",
            ),
            loc,
        )


def _check_edition(
    scope: Scope, successors: Sequence[tuple[str, float]], loc: Sequence[str | int]
) -> None:
    period, edition = scope.period, scope.unit["edition"]
    key = period.key
    if edition == "vn63" and period.end < REFORM_DATE:
        return
    if edition == "vn34" and period.start >= REFORM_DATE:
        return
    if period.start < REFORM_DATE <= period.end:
        en = (
            f"{key} spans the reorganisation of {REFORM_DATE}: approve a period ending by "
            f"{LAST_DAY_VN63} on vn63 units (e.g. 2025H1) and one from {REFORM_DATE} on vn34 "
            "units (e.g. 2025H2)."
        )
        vi = (
            f"Kỳ {key} vắt qua ngày sắp xếp {REFORM_DATE}: phê duyệt kỳ kết thúc trước "
            f"{LAST_DAY_VN63} trên đơn vị vn63 (vd. 2025H1) và kỳ từ {REFORM_DATE} trên đơn vị "
            "vn34 (vd. 2025H2)."
        )
    elif edition == "vn63":
        listed = ", ".join(unit for unit, _ in successors) or "-"
        en = (
            f"{key} is after the reorganisation of {REFORM_DATE}: approve it on the vn34 "
            f"unit(s) {scope.unit_id} went to ({listed})."
        )
        vi = (
            f"Kỳ {key} sau ngày sắp xếp {REFORM_DATE}: hãy phê duyệt trên đơn vị vn34 mà "
            f"{scope.unit_id} đã chuyển thành ({listed})."
        )
    else:
        en = (
            f"{key} is before the reorganisation of {REFORM_DATE}: approve it on the vn63 "
            f"units {scope.unit_id} was formed from (GET /v1/units/{scope.unit_id}/predecessors)."
        )
        vi = (
            f"Kỳ {key} trước ngày sắp xếp {REFORM_DATE}: hãy phê duyệt trên các đơn vị vn63 "
            f"đã hợp thành {scope.unit_id} (GET /v1/units/{scope.unit_id}/predecessors)."
        )
    raise problems.invalid(
        "wrong-edition-period",
        say("Period outside the unit's edition", "Kỳ không thuộc cơ cấu của đơn vị"),
        say(en, vi),
        loc,
        edition=edition,
    )


def _out_of_order(record: Document, action: ApprovalAction) -> Problem:
    allowed = allowed_actions(record["state"], record["path"])
    listed = ", ".join(allowed) or "-"
    return problems.conflict(
        "approval-out-of-order",
        say("Step out of order", "Bước không đúng thứ tự"),
        say(
            f"{record['id']} is {record['state']}; {action!r} is not possible now. "
            f"Allowed: {listed}.",
            f"{record['id']} đang ở trạng thái {record['state']}; không thể {action!r} lúc "
            f"này. Được phép: {listed}.",
        ),
        state=record["state"],
        allowed=allowed,
        path=record["path"],
    )
