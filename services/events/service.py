"""The events service's use cases: record, revise, void, read back, import."""

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
from services.events.ingestion import CONCURRENT, VOIDED, Ingestion, ItemOutcome
from services.events.items import Incoming, nfc, normalised, parse_batch
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
from services.events.transitions import Outcome, Status, decide_void
from services.events.validation import WRONG_EDITION
from shared.contracts import ACTIVITY_MODELS, ACTIVITY_TYPES
from shared.contracts.activities import ActivityBase
from shared.http import Problem
from shared.mongo import Document

# Listed unless asked for: a voided activity no longer counts anywhere.
DEFAULT_STATUSES = (Status.ACTIVE.value, Status.PENDING.value, Status.REJECTED.value)
_TITLES = {
    "validation": (422, "Invalid activity"),
    "invalid-activity": (422, "Activity breaks a rule"),
    WRONG_EDITION: (422, "Unit of the wrong edition for the activity's date"),
    VOIDED: (409, "Activity is voided"),
    CONCURRENT: (409, "Activity changed concurrently"),
}
_MAX_VOID_ATTEMPTS = 20


@cache
def activity_types() -> list[ActivityType]:
    return [
        ActivityType.model_validate(
            {"type": name, "schema": ACTIVITY_MODELS[name].model_json_schema()}
        )
        for name in ACTIVITY_TYPES
    ]


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
        }
    )


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
        started_on, last_id = json.loads(base64.urlsafe_b64decode(padded))
        return str(started_on), str(last_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Problem(
            400, "invalid-cursor", "Invalid cursor", "Pass `next_cursor` back exactly as received."
        ) from exc


class ActivityService:
    def __init__(
        self,
        ingestion: Ingestion,
        activities: ActivityRepository,
        *,
        wake: Callable[[], None],
        now: Callable[[], datetime],
        import_max_rows: int,
    ) -> None:
        self._ingestion = ingestion
        self._activities = activities
        self._wake = wake
        self._now = now
        self._import_max_rows = import_max_rows

    async def put(
        self, source_system: str, external_id: str, activity: ActivityBase
    ) -> tuple[ActivityWritten, bool]:
        """Record or revise one activity; returns it and whether it was created."""
        key = (nfc(source_system), nfc(external_id))
        incoming = Incoming(0, key=key, activity=normalised(activity))
        [outcome] = await self._ingestion.ingest([incoming])
        if outcome.rejected:
            raise self._problem(outcome)
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

    async def batch(self, raw: bytes, content_type: str) -> BatchResult:
        outcomes = await self._ingestion.ingest(parse_batch(raw, content_type))
        return BatchResult(
            results=[_item_result(outcome) for outcome in outcomes],
            summary=_summary([outcome.status for outcome in outcomes]),
        )

    async def void(self, activity_id: str, reason: str) -> ActivityWritten:
        for _ in range(_MAX_VOID_ATTEMPTS):
            current = await self._activities.current(activity_id)
            if current is None:
                raise Problem(
                    404, "unknown-activity", "Unknown activity", f"No activity {activity_id!r}."
                )
            change = decide_void(current, nfc(reason), self._now())
            if change.outcome is Outcome.UNCHANGED or await self._activities.update(change):
                if change.events:
                    self._wake()
                document = change.document
                return ActivityWritten.model_validate(
                    {
                        "id": activity_id,
                        "version": document["version"],
                        "status": document["status"],
                    }
                )
        raise Problem(409, CONCURRENT, _TITLES[CONCURRENT][1], "Try the void again.")

    async def get(self, activity_id: str) -> ActivityDetail:
        document = await self._activities.get(activity_id)
        if document is None:
            raise Problem(
                404, "unknown-activity", "Unknown activity", f"No activity {activity_id!r}."
            )
        current = {
            "version": document["version"],
            "status": document["status"],
            "activity": document["activity"],
            "recorded_at": document["updated_at"],
        }
        versions = [*document.get("history", []), current]
        return ActivityDetail.model_validate({**activity_out(document), "versions": versions})

    async def list_activities(
        self,
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
            lineage=unit_id,
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
        data: bytes,
        *,
        filename: str | None,
        content_type: str | None,
        activity_type: str | None,
    ) -> ImportResult:
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
            for row, outcome in zip(chunk, await self._ingestion.ingest(items), strict=True):
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
