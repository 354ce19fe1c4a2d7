"""Writing activities, one or a thousand at a time, with the same rules.

Items are checked against the caller's rights (`access.py`: submitter for the
province of the activity's unit, and of the stored activity when the key exists),
validated against the in-memory registry replica, then grouped by key
(several items with the same key in one batch apply in order, as the same `PUT`s
sent one after another would). Every key is first assumed new and the whole batch
is inserted with one `insert_many`; the keys that turn out to exist are read with
one `$in` query and revised with one bulk write of guarded updates. A key written
concurrently by someone else is decided again on fresh state.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from prometheus_client import Counter

from services.events.access import FORBIDDEN, activity_province, authorizable
from services.events.items import Incoming, body_of
from services.events.locks import PERIOD_LOCKED, LockRef
from services.events.replica import RegistryReplica
from services.events.repository import ActivityRepository
from services.events.transitions import (
    Change,
    Outcome,
    VoidedActivityError,
    decide_put,
    storage_key,
)
from services.events.validation import FieldError, Verdict, field_error, refuse_missing, validate
from shared.auth import Principal
from shared.contracts.activities import ActivityBase
from shared.edge.authorization import refusal
from shared.edge.i18n import say
from shared.http import Problem
from shared.mongo import Document

_MAX_ATTEMPTS = 20
ITEMS = Counter(
    "bdg_events_activity_items_total",
    "Activities received (PUT, batch items, upload rows) by outcome",
    ["outcome"],
)
VOIDED = "activity-voided"
CONCURRENT = "concurrent-write"
# Which lock in force covers an activity body (`None`: none does).
LockLookup = Callable[[Document], LockRef | None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ItemOutcome:
    index: int
    status: str
    # The natural key as stored, `<source_system>/<external_id>`, of a written item.
    key: str | None = None
    id: str | None = None
    version: int | None = None
    activity_status: str | None = None
    pending_on: list[str] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    # For a rejected item: the problem type, and extension members for a problem body.
    kind: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"


@dataclass
class _Valid:
    index: int
    key: tuple[str, str]
    activity: ActivityBase
    verdict: Verdict


@dataclass
class _Fold:
    change: Change | None
    outcomes: list[ItemOutcome]


def _written(index: int, outcome: Outcome, document: Document) -> ItemOutcome:
    return ItemOutcome(
        index=index,
        status=outcome.value,
        key=storage_key(document["source_system"], document["external_id"]),
        id=document["id"],
        version=document["version"],
        activity_status=document["status"],
        pending_on=list(document.get("pending_on") or []),
    )


def _forbidden(index: int, loc: list[str | int], problem: Problem, about: str = "") -> ItemOutcome:
    return ItemOutcome(
        index,
        "rejected",
        errors=[field_error(loc, about + problem.detail)],
        kind=FORBIDDEN,
        extensions=dict(problem.extensions),
    )


def locked_error(lock: LockRef, activity_id: str | None = None) -> FieldError:
    """Why a write into a locked period is refused, naming the lock."""
    about = f"activity {activity_id}: " if activity_id else ""
    about_vi = f"hoạt động {activity_id}: " if activity_id else ""
    return field_error(
        [],
        say(
            f"{about}{lock.programme} {lock.period} is locked for {lock.unit_id} since "
            f"{lock.since.isoformat(timespec='seconds')} by {lock.by} ({lock.reason}); "
            "it takes no new, revised or voided activities until it is reopened.",
            f"{about_vi}{lock.programme} kỳ {lock.period} đã bị khóa cho {lock.unit_id} từ "
            f"{lock.since.isoformat(timespec='seconds')} bởi {lock.by} ({lock.reason}); "
            "không thể thêm, sửa hoặc hủy hoạt động cho đến khi được mở lại.",
        ),
    )


def _locked(index: int, lock: LockRef, activity_id: str | None = None) -> ItemOutcome:
    return ItemOutcome(
        index,
        "rejected",
        errors=[locked_error(lock, activity_id)],
        kind=PERIOD_LOCKED,
        extensions={"lock": lock.member()},
    )


def _lock_on(change: Change, state: Document | None, locks: LockLookup) -> LockRef | None:
    """The lock refusing a change: on the new version, or on the version it replaces."""
    if change.outcome is Outcome.UNCHANGED:
        return None
    found = locks(change.document["activity"])
    if found is None and state is not None:
        found = locks(state["activity"])
    return found


def _fold(
    current: Document | None, items: Sequence[_Valid], now: datetime, locks: LockLookup
) -> _Fold:
    """Apply one key's items in order to its current state; an item whose new or
    replaced version lies in a locked period is rejected and changes nothing."""
    state = current
    history: list[Document] = []
    events = []
    outcomes: list[ItemOutcome] = []
    first_outcome: Outcome | None = None
    for item in items:
        body = body_of(item.activity)
        try:
            change = decide_put(state, item.key, body, item.verdict, now)
        except VoidedActivityError as exc:
            outcomes.append(
                ItemOutcome(item.index, "rejected", errors=[field_error([], str(exc))], kind=VOIDED)
            )
            continue
        lock = _lock_on(change, state, locks)
        if lock is not None:
            outcomes.append(_locked(item.index, lock))
            continue
        if change.outcome is not Outcome.UNCHANGED:
            first_outcome = first_outcome or change.outcome
            history.extend(change.history)
            events.extend(change.events)
        state = change.document
        outcomes.append(_written(item.index, change.outcome, state))
    if state is None or state is current or first_outcome is None:
        return _Fold(None, outcomes)
    return _Fold(Change(first_outcome, state, current, history, events), outcomes)


class Ingestion:
    def __init__(
        self,
        activities: ActivityRepository,
        replica: RegistryReplica,
        *,
        wake: Callable[[], None],
        today: Callable[[], date],
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._activities = activities
        self._replica = replica
        self._wake = wake
        self._today = today
        self._now = now

    def check(self, activity: ActivityBase) -> Verdict:
        return validate(activity, self._replica.cache, self._today())

    def lock_on(self, body: Document) -> LockRef | None:
        """The lock in force covering an activity body, if any."""
        cache = self._replica.cache
        return cache.locks.covering(body, cache.units)

    async def ingest(
        self,
        items: Sequence[Incoming],
        caller: Principal,
        *,
        allow_pending: bool = False,
        write: bool = True,
    ) -> list[ItemOutcome]:
        """Check rights, validate and write items; one outcome per item, in order.

        An item the caller may not submit is rejected (`forbidden`) before anything
        of it is written; the others go on. A reference the replica does not know
        rejects the item, naming the field and the value, unless `allow_pending`:
        then the item is stored as `pending_reference` until the reference arrives.
        With `write=False` nothing is written: items that would be accepted come back
        `valid` (an upload checks every row before it writes any).
        """
        outcomes: dict[int, ItemOutcome] = {}
        checked: list[_Valid] = []
        for incoming in items:
            if incoming.errors or incoming.key is None or incoming.activity is None:
                outcomes[incoming.index] = ItemOutcome(
                    incoming.index, "rejected", errors=incoming.errors, kind="validation"
                )
                continue
            verdict = self.check(incoming.activity)
            checked.append(_Valid(incoming.index, incoming.key, incoming.activity, verdict))
        missing = {key for item in checked for key in item.verdict.missing}
        if missing:
            # Another instance may know them already: look in the database once.
            await self._replica.read_through(missing)
            for item in checked:
                if item.verdict.missing:
                    item.verdict = self.check(item.activity)
        valid: list[_Valid] = []
        for item in checked:
            if not allow_pending:
                refuse_missing(item.activity, item.verdict)
            unit_id = item.activity.unit_id
            province = self._replica.cache.province_of(unit_id)
            # An unknown unit is reported as such (422), not as a missing right on the
            # province it cannot be placed in; pending, it needs national scope.
            if authorizable(unit_id) and (province is not None or allow_pending):
                problem = refusal(caller, "submitter", province)
                if problem is not None:
                    outcomes[item.index] = _forbidden(item.index, ["unit_id"], problem)
                    continue
            verdict = item.verdict
            if not verdict.errors:
                valid.append(item)
                continue
            extensions = {
                name: value
                for name, value in (
                    ("successors", verdict.successors),
                    ("predecessors", verdict.predecessors),
                )
                if value is not None
            }
            extensions.update(verdict.unknown or {})
            outcomes[item.index] = ItemOutcome(
                item.index,
                "rejected",
                errors=verdict.errors,
                kind=verdict.kind,
                extensions=extensions,
            )
        written = await self._write(valid, caller) if write else await self._check(valid, caller)
        for outcome in written:
            outcomes[outcome.index] = outcome
        if write:
            for outcome in outcomes.values():
                ITEMS.labels(outcome.status).inc()
        return [outcomes[incoming.index] for incoming in items]

    def _stored_refusal(
        self, current: Document | None, items: Sequence[_Valid], caller: Principal
    ) -> list[ItemOutcome]:
        """Rejections for a key stored in a province the caller may not submit for."""
        if current is None:
            return []
        province = activity_province(self._replica.cache, current)
        problem = refusal(caller, "submitter", province)
        if problem is None:
            return []
        about = say(
            f"activity {current['id']} ({current['_id']}) is stored in "
            f"{'province ' + province if province else 'no known province'}: ",
            f"hoạt động {current['id']} ({current['_id']}) được lưu ở "
            f"{'tỉnh ' + province if province else 'tỉnh chưa xác định'}: ",
        )
        return [_forbidden(item.index, [], problem, about) for item in items]

    def _touches_lock(self, items: Sequence[_Valid]) -> bool:
        if not len(self._replica.cache.locks):
            return False
        return any(self.lock_on(body_of(item.activity)) is not None for item in items)

    async def _check(self, items: Sequence[_Valid], caller: Principal) -> list[ItemOutcome]:
        """What `_write` would answer, without writing: against the stored activities."""
        groups: dict[str, list[_Valid]] = {}
        for item in items:
            groups.setdefault(storage_key(*item.key), []).append(item)
        found = await self._activities.current_many(sorted(groups))
        results: list[ItemOutcome] = []
        now = self._now()
        for key, group in groups.items():
            refused = self._stored_refusal(found.get(key), group, caller)
            if refused:
                results.extend(refused)
                continue
            for outcome in _fold(found.get(key), group, now, self.lock_on).outcomes:
                results.append(outcome if outcome.rejected else ItemOutcome(outcome.index, "valid"))
        return results

    async def _write(self, items: Sequence[_Valid], caller: Principal) -> list[ItemOutcome]:
        groups: dict[str, list[_Valid]] = {}
        for item in items:
            groups.setdefault(storage_key(*item.key), []).append(item)
        currents: dict[str, Document | None] = dict.fromkeys(groups)
        todo = set(groups)
        results: list[ItemOutcome] = []
        # A key whose items fall in a locked period is read first: assumed new, an
        # identical resend would be refused instead of answered `unchanged`.
        locked = [key for key, group in groups.items() if self._touches_lock(group)]
        for key, document in (await self._activities.current_many(locked)).items():
            refused = self._stored_refusal(document, groups[key], caller)
            if refused:
                results.extend(refused)
                todo.discard(key)
            currents[key] = document
        published = False
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                # Writers of one key meet on its compare-and-set: spread their retries.
                await asyncio.sleep(random.uniform(0, 0.001 * 2 ** min(attempt, 6)))
            now = self._now()
            folds = {
                key: _fold(currents[key], groups[key], now, self.lock_on) for key in sorted(todo)
            }
            inserts = [f.change for f in folds.values() if f.change and f.change.previous is None]
            updates = [f.change for f in folds.values() if f.change and f.change.previous]
            retry = await self._activities.insert_many(inserts)
            retry |= await self._activities.update_many(updates)
            for key, fold in folds.items():
                if key not in retry:
                    results.extend(fold.outcomes)
                    published = published or bool(fold.change and fold.change.events)
            if not retry:
                break
            found = await self._activities.current_many(sorted(retry))
            todo = set()
            for key in retry:
                # The key exists: it may only be changed with rights on where it is stored.
                refused = self._stored_refusal(found.get(key), groups[key], caller)
                if refused:
                    results.extend(refused)
                    continue
                currents[key] = found.get(key)
                todo.add(key)
            if not todo:
                break
        else:
            for key in todo:
                results.extend(
                    ItemOutcome(
                        item.index,
                        "rejected",
                        errors=[
                            field_error(
                                [],
                                say(
                                    "the activity kept changing; send it again",
                                    "hoạt động liên tục thay đổi; hãy gửi lại",
                                ),
                            )
                        ],
                        kind=CONCURRENT,
                    )
                    for item in groups[key]
                )
        if published:
            self._wake()
        return results
