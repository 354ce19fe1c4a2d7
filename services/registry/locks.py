"""Use cases for period locks: lock, reopen, list the locks in force.

A lock closes one programme's period for a unit and every unit under it: the events
service refuses activity writes into it (docs/events.md, *Locks and approvals*). A
lock set by hand is one document under `lock_key(programme, period, unit_id)`; the
lock an approval sets rides in its approval record (`approvals.py`) under its own
id, so the two never overwrite each other. Every change is one revision-guarded
document write carrying its `lock.set` event (full state, revision + 1).

Who: an `approver` of the unit's province (an admin anywhere; a lock on `vn` needs
national scope) locks and reopens; a `viewer` of the province reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.registry import messages
from services.registry.lock_schemas import Lock, LockList
from services.registry.permissions import require_for
from services.registry.programmes import ProgrammeService
from services.registry.repository import (
    ApprovalRepository,
    LockQuery,
    LockRepository,
    Repositories,
    now,
)
from services.registry.service import UnitService, UnitState
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.principal import Role
from shared.contracts import lock_key
from shared.edge import problems
from shared.edge.authorization import viewable_provinces
from shared.edge.cursors import decode_cursor, page_cursor
from shared.edge.i18n import say
from shared.edge.text import nfc
from shared.http import Problem
from shared.mongo import Document
from shared.periods import Period, PeriodError, parse_period

_ATTEMPTS = 20
Loc = Sequence[str | int]
LOCK_FIELDS = ("id", "programme", "period", "unit_id", "locked", "origin", "reason", "since", "by")


@dataclass(frozen=True)
class Scope:
    """What a lock or an approval is about: a programme's period on a unit."""

    programme: str
    period: Period
    unit: UnitState
    province: str | None

    @property
    def unit_id(self) -> str:
        return str(self.unit["id"])


def moment() -> datetime:
    """Now, to the millisecond: what the database keeps, so answers match reads."""
    at = now()
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def lock_view(state: Document) -> Lock:
    return Lock.model_validate({name: state[name] for name in (*LOCK_FIELDS, "revision")})


def approval_lock_view(record: Document) -> Lock:
    """The lock an approval record holds, as a lock."""
    return lock_view(record["lock"])


def period_of(text: str, loc: Loc) -> Period:
    """A named period (ranges are refused: a lock or an approval is about a reporting
    period), or 422 `invalid-period` naming the field."""
    title = say("Invalid period", "Kỳ không hợp lệ")
    try:
        period = parse_period(text)
    except PeriodError as error:
        raise problems.invalid(
            "invalid-period",
            title,
            say(
                f"{error}.",
                f"{text!r} không phải là kỳ; dùng 2023, 2023H1, 2023Q4, 2023-11 hoặc SY2017-2018.",
            ),
            loc,
        ) from None
    if period.kind == "range":
        raise problems.invalid(
            "invalid-period",
            title,
            say(
                f"{text!r} is a range of days; locks and approvals are about a reporting "
                "period: a year (2023), half (2023H1), quarter (2023Q4), month (2023-11) or "
                "school year (SY2017-2018).",
                f"{text!r} là một khoảng ngày; khóa và phê duyệt áp dụng cho một kỳ báo cáo: "
                "năm (2023), nửa năm (2023H1), quý (2023Q4), tháng (2023-11) hoặc năm học "
                "(SY2017-2018).",
            ),
            loc,
        )
    return period


def reason_required(reason: str | None, loc: Loc) -> str:
    """The reason, NFC and trimmed; 422 `reason-required` when there is none."""
    text = nfc(reason or "").strip()
    if not text:
        raise problems.invalid(
            "reason-required",
            say("A reason is required", "Cần nêu lý do"),
            say(
                "Reopening needs a reason: say why the period is opened again.",
                "Mở lại cần có lý do: hãy nêu vì sao kỳ này được mở lại.",
            ),
            loc,
        )
    return text


def unknown_programme(code: str, loc: Loc) -> Problem:
    """`unknown-programme` naming the field: 404 where the programme is part of the path
    (the resource), 422 where it is a filter of a list."""
    detail = say(
        f"There is no programme {code!r}; see GET /v1/programmes.",
        f"Không có chương trình {code!r}; xem GET /v1/programmes.",
    )
    title = say("Unknown programme", "Không có chương trình này")
    if loc and loc[0] == "query":
        return problems.invalid("unknown-programme", title, detail, loc)
    return problems.not_found(
        "unknown-programme", title, detail, errors=[problems.field_error(loc, detail)]
    )


class Scopes:
    """Checks shared by locks and approvals: programme, period, unit, rights."""

    def __init__(self, units: UnitService, programmes: ProgrammeService) -> None:
        self.units = units
        self._programmes = programmes

    async def programme(self, code: str, loc: Loc) -> str:
        if not await self._programmes.exists(code):
            raise unknown_programme(code, loc)
        return code

    async def scope(
        self,
        programme: str,
        period: str,
        unit_id: str,
        caller: Principal,
        roles: Sequence[Role],
        unit_loc: Loc,
        where: str = "path",
    ) -> Scope:
        """The scope once the caller holds one of `roles` for the unit's province:
        bad input first (programme, period, unit), then rights (403)."""
        await self.programme(programme, [where, "programme"])
        parsed = period_of(period, [where, "period"])
        unit = await self.units.resolve(unit_id, unit_loc)
        province = self.units.directory.province_of(unit["id"])
        if not any(caller.may(role, province) for role in roles):
            require_for(
                caller, roles[0], province, f"Unit {unit_id}", f"Đơn vị {unit_id}", unit_loc
            )
        return Scope(programme, parsed, unit, province)


class LockService:
    def __init__(self, repositories: Repositories, scopes: Scopes) -> None:
        self._locks: LockRepository = repositories.locks
        self._approvals: ApprovalRepository = repositories.approvals
        self._scopes = scopes

    async def lock(
        self, programme: str, period: str, unit_id: str, reason: str, caller: Principal
    ) -> tuple[Lock, bool]:
        """Lock the period; returns the lock and whether this call set it (an existing
        lock in force stays as it is)."""
        scope = await self._scopes.scope(
            programme, period, unit_id, caller, ["approver"], ["body", "unit_id"]
        )
        key = lock_key(programme, scope.period.key, scope.unit_id)
        for _ in range(_ATTEMPTS):
            held = await self._locks.get(key)
            if held is not None and held["locked"]:
                note_write("lock.unchanged", key, int(held["revision"]))
                return lock_view(held), False
            state = self._state(scope, key, True, nfc(reason), caller)
            if await self._write(held, key, state, scope):
                note_write("lock.set", key, state["revision"], reason=state["reason"])
                return lock_view(state), True
        raise problems.concurrent_write(key)

    async def reopen(
        self, programme: str, period: str, unit_id: str, reason: str | None, caller: Principal
    ) -> Lock:
        scope = await self._scopes.scope(
            programme, period, unit_id, caller, ["approver"], ["query", "unit_id"]
        )
        text = reason_required(reason, ["query", "reason"])
        key = lock_key(programme, scope.period.key, scope.unit_id)
        for _ in range(_ATTEMPTS):
            held = await self._locks.get(key)
            if held is None or not held["locked"]:
                raise problems.not_found(
                    "not-locked",
                    say("No lock in force", "Không có khóa đang hiệu lực"),
                    say(
                        f"{programme} {scope.period.key} is not locked by hand for "
                        f"{scope.unit_id}; see GET /v1/locks (a lock set by an approval is "
                        "lifted by reopening the approval).",
                        f"{programme} kỳ {scope.period.key} không bị khóa thủ công cho "
                        f"{scope.unit_id}; xem GET /v1/locks (khóa do phê duyệt được gỡ "
                        "bằng cách mở lại phê duyệt).",
                    ),
                    lock_id=key,
                )
            state = self._state(scope, key, False, text, caller)
            if await self._write(held, key, state, scope):
                note_write("lock.reopened", key, state["revision"], reason=text)
                return lock_view(state)
        raise problems.concurrent_write(key)

    @staticmethod
    def _state(
        scope: Scope, key: str, locked: bool, reason: str, caller: Principal
    ) -> dict[str, Any]:
        return {
            "id": key,
            "programme": scope.programme,
            "period": scope.period.key,
            "unit_id": scope.unit_id,
            "province_id": scope.province,
            "locked": locked,
            "origin": "lock",
            "reason": reason,
            "since": moment(),
            "by": caller.client_id,
        }

    async def _write(
        self, held: Document | None, key: str, state: dict[str, Any], scope: Scope
    ) -> bool:
        """Store the next revision with its event; `False` when another writer came first."""
        revision = None if held is None else int(held["revision"])
        state["revision"] = 1 if revision is None else revision + 1
        event = messages.lock_set(state, state["revision"], scope.province)
        stored = {name: value for name, value in state.items() if name != "revision"}
        # The lists find locks under a unit by it (`GET /v1/locks?unit_id=`).
        stored["lineage"] = self._scopes.units.directory.index.lineage(scope.unit_id)
        return await self._locks.put_if_at(key, revision, stored, [event])

    async def in_force(
        self,
        caller: Principal,
        *,
        programme: str | None,
        unit_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> LockList:
        """Locks in force, by id: hand-set and approval locks together.

        With `unit_id`: the locks on that unit, on every unit above it (those that
        cover it) and on every unit under it, for a `viewer` of its province. Without:
        the locks of the caller's provinces (national scope: all)."""
        if programme is not None:
            await self._scopes.programme(programme, ["query", "programme"])
        key = decode_cursor(cursor, (str,))
        after = None if key is None else str(key[0])
        if unit_id is not None:
            unit = await self._scopes.units.unit_for(
                unit_id, caller, "viewer", ["query", "unit_id"]
            )
            lineage = self._scopes.units.directory.index.lineage(unit["id"])
            query = LockQuery(programme=programme, unit_ids=lineage, within=unit["id"], after=after)
        else:
            query = LockQuery(
                programme=programme, provinces=viewable_provinces(caller), after=after
            )
        hand = [lock_view(d) for d in await self._locks.in_force(query, limit + 1)]
        approved = [approval_lock_view(d) for d in await self._approvals.locking(query, limit + 1)]
        found = sorted([*hand, *approved], key=lambda lock: lock.id)[: limit + 1]
        return LockList(
            items=found[:limit], next_cursor=page_cursor(found, limit, lambda lock: [lock.id])
        )
