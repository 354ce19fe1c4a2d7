"""The events service's use cases: record, revise, void, read back, import.

Every use case takes the calling client and checks its rights (see `access.py`)
before anything is written or returned; every accepted write is noted in the audit
trail by its natural key and the version it left.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import PurePath
from typing import Any

from services.events import imports
from services.events.access import FORBIDDEN, activity_province, require_role
from services.events.ingestion import CONCURRENT, VOIDED, Ingestion, ItemOutcome
from services.events.items import Incoming, nfc, normalised, parse_batch
from services.events.references import ReferenceCache
from services.events.repository import ActivityQuery, ActivityRepository
from services.events.schemas import (
    ActivityDetail,
    ActivityList,
    ActivityOut,
    ActivityType,
    ActivityWritten,
    BatchResult,
    ImportResult,
    ItemResult,
    RowResult,
    Summary,
)
from services.events.transitions import Outcome, Status, decide_void, storage_key
from services.events.validation import WRONG_EDITION
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.http import authorize
from shared.contracts import ACTIVITY_MODELS, ACTIVITY_TYPES
from shared.contracts.activities import ActivityBase
from shared.http import PROBLEM_BASE, Problem
from shared.mongo import Document
from shared.units import NATION_ID, parse_unit_id

# Listed unless asked for: a voided activity no longer counts anywhere.
DEFAULT_STATUSES = (Status.ACTIVE.value, Status.PENDING.value, Status.REJECTED.value)
_TITLES = {
    "validation": (422, "Invalid activity"),
    "invalid-activity": (422, "Activity breaks a rule"),
    WRONG_EDITION: (422, "Unit of the wrong edition for the activity's date"),
    VOIDED: (409, "Activity is voided"),
    CONCURRENT: (409, "Activity changed concurrently"),
    FORBIDDEN: (403, "Not allowed for this client"),
}
# Problem members a rejected batch item or upload row repeats from its problem.
_ITEM_PROBLEM_MEMBERS = ("required_role", "required_province")
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
    status, title = _TITLES.get(kind, (422, "Invalid activity"))
    members = {
        name: outcome.extensions[name]
        for name in _ITEM_PROBLEM_MEMBERS
        if name in outcome.extensions
    }
    return {"type": PROBLEM_BASE + kind, "title": title, "status": status, **members}


def _item_result(outcome: ItemOutcome) -> ItemResult:
    return ItemResult.model_validate(
        {
            "index": outcome.index,
            "status": outcome.status,
            "id": outcome.id,
            "version": outcome.version,
            "activity_status": outcome.activity_status,
            "pending_on": outcome.pending_on or None,
            "errors": outcome.errors or None,
            "problem": _item_problem(outcome),
        }
    )


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


def encode_cursor(document: Document) -> str:
    raw = json.dumps([document["activity"]["started_on"], document["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
        if not (isinstance(value, list) and len(value) == 2):
            raise TypeError("a cursor holds two strings")
        started_on, last_id = value
        if not isinstance(started_on, str) or not isinstance(last_id, str):
            raise TypeError("a cursor holds two strings")
        return started_on, last_id
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Problem(
            400, "invalid-cursor", "Invalid cursor", "Pass `next_cursor` back exactly as received."
        ) from exc


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
        self, caller: Principal, source_system: str, external_id: str, activity: ActivityBase
    ) -> tuple[ActivityWritten, bool]:
        """Record or revise one activity; returns it and whether it was created."""
        key = (nfc(source_system), nfc(external_id))
        incoming = Incoming(0, key=key, activity=normalised(activity))
        [outcome] = await self._ingestion.ingest([incoming], caller)
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
        status, title = _TITLES.get(kind, (422, "Invalid activity"))
        errors = [{"loc": ["body", *error["loc"]], "msg": error["msg"]} for error in outcome.errors]
        detail = errors[0]["msg"] if len(errors) == 1 else f"{len(errors)} problems; see `errors`."
        return Problem(status, kind, title, detail, errors=errors, **outcome.extensions)

    async def batch(self, caller: Principal, raw: bytes, content_type: str) -> BatchResult:
        require_role(caller, "submitter")
        outcomes = await self._ingestion.ingest(parse_batch(raw, content_type), caller)
        _note_written(outcomes)
        return BatchResult(
            results=[_item_result(outcome) for outcome in outcomes],
            summary=_summary([outcome.status for outcome in outcomes]),
        )

    async def void(self, caller: Principal, activity_id: str, reason: str) -> ActivityWritten:
        for _ in range(_MAX_VOID_ATTEMPTS):
            current = await self._activities.current(activity_id)
            if current is None:
                raise Problem(
                    404, "unknown-activity", "Unknown activity", f"No activity {activity_id!r}."
                )
            authorize(caller, "submitter", activity_province(self._references, current))
            change = decide_void(current, nfc(reason), self._now())
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
        raise Problem(409, CONCURRENT, _TITLES[CONCURRENT][1], "Try the void again.")

    async def get(self, caller: Principal, activity_id: str) -> ActivityDetail:
        document = await self._activities.get(activity_id)
        if document is None:
            raise Problem(
                404, "unknown-activity", "Unknown activity", f"No activity {activity_id!r}."
            )
        authorize(caller, "viewer", activity_province(self._references, document))
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
                raise Problem(
                    422,
                    "validation",
                    "Invalid request",
                    f"{unit_id!r} is not a unit id: expected vn, vn63:<code> or vn34:<code>, "
                    "optionally followed by .<village code>.",
                    errors=[{"loc": ["query", "unit_id"], "msg": "not a unit id"}],
                )
            authorize(caller, "viewer", self._references.province_of(unit_id))
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
            after=decode_cursor(cursor) if cursor else None,
        )
        documents = await self._activities.page(query, limit + 1)
        more = len(documents) > limit
        documents = documents[:limit]
        return ActivityList(
            items=[ActivityOut.model_validate(activity_out(d)) for d in documents],
            next_cursor=encode_cursor(documents[-1]) if more else None,
        )

    async def import_file(
        self,
        caller: Principal,
        data: bytes,
        *,
        filename: str | None,
        content_type: str | None,
        activity_type: str | None,
    ) -> ImportResult:
        require_role(caller, "submitter")
        file_format = imports.detect_format(filename, content_type, data)
        default_type = activity_type
        if file_format == "xlsx":
            sheet, rows = imports.read_xlsx(data)
        else:
            sheet, rows = "", imports.read_csv(data)
        if default_type is None:
            stem = PurePath(filename or "").stem
            default_type = next((t for t in (sheet, stem) if t in ACTIVITY_TYPES), None)
        read = list(rows)
        if len(read) > self._import_max_rows:
            raise Problem(
                413,
                "import-too-large",
                "Too many rows",
                f"A file holds at most {self._import_max_rows} rows; this one has {len(read)}.",
                limit=self._import_max_rows,
            )
        results: list[RowResult] = []
        for start in range(0, len(read), 1000):
            chunk = read[start : start + 1000]
            items = [imports.to_item(row, index, default_type) for index, row in enumerate(chunk)]
            outcomes = await self._ingestion.ingest(items, caller)
            _note_written(outcomes)
            for row, outcome in zip(chunk, outcomes, strict=True):
                result = _item_result(outcome).model_dump(exclude={"index"})
                results.append(
                    RowResult.model_validate(
                        {
                            **result,
                            "row": row.number,
                            "source_system": row.values.get("source_system"),
                            "external_id": row.values.get("external_id"),
                        }
                    )
                )
        return ImportResult(
            format=file_format,
            rows=results,
            summary=_summary([result.status for result in results]),
        )
