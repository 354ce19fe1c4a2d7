"""The events service's use cases: record, revise, void, read back, import.

Every use case takes the calling client and checks its rights (see `access.py`)
before anything is written or returned; every accepted write is noted in the audit
trail by its natural key and the version it left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import PurePath
from typing import Any

from services.events import imports
from services.events.access import FORBIDDEN, activity_province
from services.events.columns import ALL_COLUMNS, REQUIRED_COLUMNS
from services.events.ingestion import CONCURRENT, VOIDED, Ingestion, ItemOutcome, locked_error
from services.events.items import Incoming, nfc, normalised, parse_batch
from services.events.locks import PERIOD_LOCKED, LockRef
from services.events.reference_cache import ReferenceCache
from services.events.repository import ActivityQuery, ActivityRepository
from services.events.schemas import (
    ActivityDetail,
    ActivityList,
    ActivityOut,
    ActivityType,
    ActivityWritten,
    BatchResult,
    ItemResult,
    Summary,
)
from services.events.transitions import Outcome, Status, decide_void, storage_key
from services.events.transitions import activity_id as natural_id
from services.events.validation import WRONG_EDITION
from shared.audit import note_write
from shared.auth import Principal
from shared.contracts import ACTIVITY_MODELS, ACTIVITY_TYPES
from shared.contracts.activities import ActivityBase
from shared.edge import problems
from shared.edge.authorization import require, require_role
from shared.edge.cursors import decode_cursor, encode_cursor
from shared.edge.i18n import say
from shared.edge.spreadsheets import (
    Row,
    Upload,
    column_errors,
    read_rows,
    read_table,
    upload_answer,
)
from shared.http import PROBLEM_BASE, Problem
from shared.mongo import Document
from shared.schemas import RowResult, UploadResult
from shared.units import NATION_ID, parse_unit_id

# Listed unless asked for: a voided activity no longer counts anywhere.
DEFAULT_STATUSES = (Status.ACTIVE.value, Status.PENDING.value, Status.REJECTED.value)
_TITLES = {
    "validation": (422, ("Invalid activity", "Hoạt động không hợp lệ")),
    "invalid-activity": (422, ("Activity breaks a rule", "Hoạt động vi phạm quy tắc")),
    WRONG_EDITION: (
        422,
        ("Unit of the wrong edition for the activity's date", "Đơn vị sai cơ cấu so với ngày"),
    ),
    "unknown-unit": (422, ("Unknown unit", "Không có đơn vị hành chính này")),
    "unknown-programme": (422, ("Unknown programme", "Không có chương trình này")),
    "unknown-club": (422, ("Unknown club", "Không có câu lạc bộ này")),
    "unknown-site": (422, ("Unknown site", "Không có điểm này")),
    VOIDED: (409, ("Activity is voided", "Hoạt động đã bị hủy")),
    CONCURRENT: (409, ("Activity changed concurrently", "Hoạt động bị thay đổi đồng thời")),
    PERIOD_LOCKED: (409, ("Period locked", "Kỳ báo cáo đã bị khóa")),
    FORBIDDEN: (403, ("Not allowed for this client", "Ứng dụng không được phép")),
}


def _status_and_title(kind: str) -> tuple[int, str]:
    status, (en, vi) = _TITLES.get(kind, _TITLES["invalid-activity"])
    return status, say(en, vi)


# Problem members a rejected batch item or upload row repeats from its problem.
_ITEM_PROBLEM_MEMBERS = ("required_role", "required_province", "lock")
_MAX_VOID_ATTEMPTS = 20


@cache
def activity_types() -> list[ActivityType]:
    return [
        ActivityType.model_validate(
            {"type": name, "schema": ACTIVITY_MODELS[name].model_json_schema()}
        )
        for name in ACTIVITY_TYPES
    ]


def _item_problem(outcome: ItemOutcome) -> dict[str, Any] | None:
    """What a single `PUT` of a rejected item would have answered: type, title, status."""
    if not outcome.rejected:
        return None
    kind = outcome.kind or "invalid-activity"
    status, title = _status_and_title(kind)
    members = {
        name: outcome.extensions[name]
        for name in _ITEM_PROBLEM_MEMBERS
        if name in outcome.extensions
    }
    return {"type": PROBLEM_BASE + kind, "title": title, "status": status, **members}


def _item_fields(outcome: ItemOutcome) -> dict[str, Any]:
    """What a batch item's or an upload row's result says about its outcome."""
    return {
        "status": outcome.status,
        "id": outcome.id,
        "version": outcome.version,
        "activity_status": outcome.activity_status,
        "pending_on": outcome.pending_on or None,
        "errors": outcome.errors or None,
        "problem": _item_problem(outcome),
    }


def _item_result(outcome: ItemOutcome) -> ItemResult:
    return ItemResult.model_validate({"index": outcome.index, **_item_fields(outcome)})


def _note_written(outcomes: Sequence[ItemOutcome]) -> None:
    """One audit entry per accepted item, rejected ones left out."""
    for outcome in outcomes:
        if not outcome.rejected and outcome.key is not None:
            note_write(f"activity.{outcome.status}", key=outcome.key, version=outcome.version)


def _summary(statuses: Sequence[str]) -> Summary:
    return Summary(
        created=statuses.count("created"),
        revised=statuses.count("revised"),
        unchanged=statuses.count("unchanged"),
        rejected=statuses.count("rejected"),
    )


def activity_out(document: Document) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != "_id"}


def _after(key: tuple[object, ...] | None) -> tuple[str, str] | None:
    return None if key is None else (str(key[0]), str(key[1]))


def _cursor_key(document: Document) -> list[str | int]:
    return [document["activity"]["started_on"], document["_id"]]


class ActivityService:
    def __init__(
        self,
        ingestion: Ingestion,
        activities: ActivityRepository,
        references: ReferenceCache,
        *,
        wake: Callable[[], None],
        now: Callable[[], datetime],
        import_max_rows: int,
    ) -> None:
        self._ingestion = ingestion
        self._activities = activities
        self._references = references
        self._wake = wake
        self._now = now
        self._import_max_rows = import_max_rows

    async def put(
        self,
        caller: Principal,
        source_system: str,
        external_id: str,
        activity: ActivityBase,
        *,
        allow_pending: bool = False,
    ) -> tuple[ActivityWritten, bool]:
        """Record or revise one activity; returns it and whether it was created."""
        key = (nfc(source_system), nfc(external_id))
        incoming = Incoming(0, key=key, activity=normalised(activity))
        [outcome] = await self._ingestion.ingest([incoming], caller, allow_pending=allow_pending)
        if outcome.rejected:
            raise self._problem(outcome)
        _note_written([outcome])
        written = ActivityWritten.model_validate(
            {
                "id": outcome.id,
                "version": outcome.version,
                "status": outcome.activity_status,
                "pending_on": outcome.pending_on,
            }
        )
        return written, outcome.status == Outcome.CREATED

    @staticmethod
    def _problem(outcome: ItemOutcome) -> Problem:
        kind = outcome.kind or "invalid-activity"
        status, title = _status_and_title(kind)
        errors = [{"loc": ["body", *error["loc"]], "msg": error["msg"]} for error in outcome.errors]
        return problems.rejected(status, kind, title, errors, **outcome.extensions)

    async def batch(
        self, caller: Principal, raw: bytes, content_type: str, *, allow_pending: bool = False
    ) -> BatchResult:
        require_role(caller, "submitter")
        items = parse_batch(raw, content_type)
        outcomes = await self._ingestion.ingest(items, caller, allow_pending=allow_pending)
        _note_written(outcomes)
        return BatchResult(
            results=[_item_result(outcome) for outcome in outcomes],
            summary=_summary([outcome.status for outcome in outcomes]),
        )

    async def void(self, caller: Principal, activity_id: str, reason: str) -> ActivityWritten:
        for _ in range(_MAX_VOID_ATTEMPTS):
            current = await self._activities.current(activity_id)
            if current is None:
                raise problems.missing("activity", activity_id)
            require(caller, "submitter", activity_province(self._references, current))
            change = decide_void(current, nfc(reason), self._now())
            if change.outcome is not Outcome.UNCHANGED:
                lock = self._ingestion.lock_on(current["activity"])
                if lock is not None:
                    raise _locked_problem(lock, activity_id)
            if change.outcome is Outcome.UNCHANGED or await self._activities.update(change):
                if change.events:
                    self._wake()
                document = change.document
                note_write(
                    "activity.unchanged"
                    if change.outcome is Outcome.UNCHANGED
                    else "activity.voided",
                    key=storage_key(document["source_system"], document["external_id"]),
                    version=document["version"],
                )
                return ActivityWritten.model_validate(
                    {
                        "id": activity_id,
                        "version": document["version"],
                        "status": document["status"],
                    }
                )
        raise problems.concurrent_write(activity_id)

    async def get_by_key(
        self, caller: Principal, source_system: str, external_id: str
    ) -> ActivityDetail:
        """The activity a province's system knows by its natural key."""
        return await self.get(caller, natural_id(nfc(source_system), nfc(external_id)))

    async def void_by_key(
        self, caller: Principal, source_system: str, external_id: str, reason: str
    ) -> ActivityWritten:
        return await self.void(caller, natural_id(nfc(source_system), nfc(external_id)), reason)

    async def get(self, caller: Principal, activity_id: str) -> ActivityDetail:
        document = await self._activities.get(activity_id)
        if document is None:
            raise problems.missing("activity", activity_id)
        require(caller, "viewer", activity_province(self._references, document))
        current = {
            "version": document["version"],
            "status": document["status"],
            "activity": document["activity"],
            "recorded_at": document["updated_at"],
        }
        versions = [*document.get("history", []), current]
        return ActivityDetail.model_validate({**activity_out(document), "versions": versions})

    def _visible_provinces(self, caller: Principal, unit_id: str | None) -> tuple[str, ...] | None:
        """The provinces whose activities the caller may list (`None`: all of them).

        A unit names its province, which the caller must be a viewer of (national
        scope for a unit the replica cannot place); without a unit, or with `vn`,
        the list holds the caller's provinces only, or everything with national scope.
        """
        if unit_id is not None and unit_id != NATION_ID:
            if parse_unit_id(unit_id) is None:
                detail = say(
                    f"{unit_id!r} is not a unit id: expected vn, vn63:<code> or vn34:<code>, "
                    "optionally followed by .<village code>.",
                    f"{unit_id!r} không phải mã đơn vị: cần vn, vn63:<mã> hoặc vn34:<mã>, có "
                    "thể kèm .<mã thôn>.",
                )
                raise problems.validation([problems.field_error(["query", "unit_id"], detail)])
            province = self._references.province_of(unit_id)
            # A village not seen yet lies in its commune's province; anything else
            # that cannot be placed is unknown.
            if province is None and unit_id not in self._references.units:
                raise problems.unknown_reference("unit", unit_id, ["query", "unit_id"])
            require(caller, "viewer", province)
        else:
            require_role(caller, "viewer")
        return None if caller.national else tuple(sorted(caller.provinces))

    async def list_activities(
        self,
        caller: Principal,
        *,
        unit_id: str | None,
        type: str | None,
        programme: str | None,
        source_system: str | None,
        started_from: date | None,
        started_to: date | None,
        statuses: Sequence[str],
        updated_since: datetime | None = None,
        limit: int,
        cursor: str | None,
    ) -> ActivityList:
        query = ActivityQuery(
            # `vn` is everything, including activities whose unit is not placed yet.
            lineage=None if unit_id == NATION_ID else unit_id,
            provinces=self._visible_provinces(caller, unit_id),
            type=type,
            programme=programme,
            source_system=source_system,
            started_from=started_from.isoformat() if started_from else None,
            started_to=started_to.isoformat() if started_to else None,
            statuses=tuple(statuses) or DEFAULT_STATUSES,
            updated_since=updated_since,
            after=_after(decode_cursor(cursor, (str, str))),
        )
        documents = await self._activities.page(query, limit + 1)
        more = len(documents) > limit
        documents = documents[:limit]
        return ActivityList(
            items=[ActivityOut.model_validate(activity_out(d)) for d in documents],
            next_cursor=encode_cursor(_cursor_key(documents[-1])) if more else None,
        )

    async def import_file(
        self,
        caller: Principal,
        upload: Upload,
        *,
        activity_type: str | None,
        partial: bool,
        allow_pending: bool,
    ) -> UploadResult:
        """Check every row, then write them all, or (with `partial`) the good ones."""
        require_role(caller, "submitter")
        table = read_table(upload)
        default_type = activity_type or next(
            (
                name
                for name in (table.title, PurePath(upload.filename or "").stem)
                if name in ACTIVITY_TYPES
            ),
            None,
        )
        rows = read_rows(
            table,
            ALL_COLUMNS,
            required=REQUIRED_COLUMNS,
            max_rows=self._import_max_rows,
            template=imports.TEMPLATE,
        )
        items = [imports.to_item(row, index, default_type) for index, row in enumerate(rows)]
        checked = await self._ingest(items, caller, allow_pending, write=False)
        rejected = any(outcome.rejected for outcome in checked)
        outcomes = checked
        if partial or not rejected:
            passed = {outcome.index for outcome in checked if not outcome.rejected}
            written = await self._ingest(
                [item for item in items if item.index in passed], caller, allow_pending
            )
            by_index = {outcome.index: outcome for outcome in [*checked, *written]}
            outcomes = [by_index[item.index] for item in items]
            _note_written(written)
        results = [_row_result(row, outcome) for row, outcome in zip(rows, outcomes, strict=True)]
        return upload_answer("activities", table, results, partial=partial)

    async def _ingest(
        self, items: list[Incoming], caller: Principal, allow_pending: bool, *, write: bool = True
    ) -> list[ItemOutcome]:
        """`Ingestion.ingest` a thousand items at a time, as a batch would."""
        outcomes: list[ItemOutcome] = []
        for start in range(0, len(items), 1000):
            outcomes.extend(
                await self._ingestion.ingest(
                    items[start : start + 1000], caller, allow_pending=allow_pending, write=write
                )
            )
        return outcomes


def _locked_problem(lock: LockRef, activity_id: str) -> Problem:
    """409 `period-locked`: a void of an activity in a locked period, naming the lock."""
    status, title = _status_and_title(PERIOD_LOCKED)
    error = locked_error(lock, activity_id)
    return problems.rejected(status, PERIOD_LOCKED, title, [error], lock=lock.member())


def _row_result(row: Row, outcome: ItemOutcome) -> RowResult:
    result = {name: value for name, value in _item_fields(outcome).items() if name != "errors"}
    errors = column_errors(outcome.errors, ALL_COLUMNS) if outcome.errors else None
    return RowResult.model_validate(
        {
            **result,
            "row": row.number,
            "errors": errors,
            "source_system": row.values.get("source_system"),
            "external_id": row.values.get("external_id"),
        }
    )
