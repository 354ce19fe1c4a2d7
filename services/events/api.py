"""The events service's HTTP routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from starlette.datastructures import UploadFile

from services.events.config import EventsSettings
from services.events.items import MAX_BATCH_ITEMS, NDJSON
from services.events.schemas import (
    ActivityDetail,
    ActivityList,
    ActivityType,
    ActivityWritten,
    BatchResult,
    ExternalId,
    ImportResult,
    SourceSystem,
    VoidIn,
)
from services.events.service import ActivityService, activity_types
from services.events.templates import template_xlsx
from shared.auth.http import Caller, current_principal, require_admin
from shared.contracts import Activity
from shared.contracts.activities import ActivityType as ActivityTypeName
from shared.http import Problem
from shared.runtime import ServiceRuntime
from shared.status import ServiceStatus, service_status

# Every `/v1` route needs a valid access token (401 otherwise); what each client may
# write and read is decided per province by the use cases (403 otherwise).
router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])

STATUSES = ("active", "pending_reference", "rejected", "voided")
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "The client lacks the role for this province", **_PROBLEM}
}
ActivityId = Annotated[str, Path(max_length=100, description="The activity's id")]
_ITEM_SCHEMA = {
    "type": "object",
    "description": "An activity body (see GET /v1/activity-types) plus source_system and "
    "external_id",
    "required": ["source_system", "external_id", "type"],
}


class EventsApp:
    """What the routes reach."""

    def __init__(
        self, runtime: ServiceRuntime, activities: ActivityService, settings: EventsSettings
    ) -> None:
        self.runtime = runtime
        self.activities = activities
        self.settings = settings


def events_app(request: Request) -> EventsApp:
    found: EventsApp = request.app.state.service
    return found


EventsDep = Annotated[EventsApp, Depends(events_app)]


async def _read_limited(request: Request, limit: int, what: str) -> bytes:
    """The request body, or 413 as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(what, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, limit: int) -> Problem:
    return Problem(
        413,
        "body-too-large",
        "Request too large",
        f"{what} may be at most {limit} bytes.",
        limit_bytes=limit,
    )


@router.put(
    "/activities/{source_system}/{external_id}",
    response_model=ActivityWritten,
    tags=["activities"],
    summary="Record or revise one activity",
    responses={
        201: {"model": ActivityWritten, "description": "Created (version 1)"},
        **_FORBIDDEN,
        409: {"description": "The activity is voided", **_PROBLEM},
        422: {"description": "Invalid activity", **_PROBLEM},
    },
)
async def put_activity(
    source_system: Annotated[SourceSystem, Path(description="The province's system")],
    external_id: Annotated[ExternalId, Path(description="The record's id in that system")],
    activity: Annotated[Activity, Body()],
    response: Response,
    app: EventsDep,
    caller: Caller,
) -> ActivityWritten:
    """New → 201 with version 1; the same body again → 200, same version, no event;
    a changed body → 200 with version + 1 and a `revised` event. Needs `submitter`
    for the province of the activity's unit (and of the stored activity)."""
    written, created = await app.activities.put(caller, source_system, external_id, activity)
    response.status_code = 201 if created else 200
    return written


@router.post(
    "/activities:batch",
    response_model=BatchResult,
    response_model_exclude_none=True,
    tags=["activities"],
    summary=f"Record or revise up to {MAX_BATCH_ITEMS} activities",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "maxItems": MAX_BATCH_ITEMS, "items": _ITEM_SCHEMA}
                },
                NDJSON: {"schema": {"type": "string", "description": "One item per line"}},
            },
        }
    },
    responses={
        400: {"description": "The body is not a JSON array or NDJSON", **_PROBLEM},
        403: {"description": "The client has no submitter role at all", **_PROBLEM},
        413: {"description": f"More than {MAX_BATCH_ITEMS} items", **_PROBLEM},
    },
)
async def batch(request: Request, app: EventsDep, caller: Caller) -> BatchResult:
    """Each item is checked and written on its own terms: a rejected item (with
    field-level `errors` and its `problem`) never blocks the others; an item in a
    province the client may not submit for is rejected as `forbidden`. Items with the
    same key apply in order, as the same `PUT`s one after another would."""
    raw = await _read_limited(request, app.settings.batch_max_bytes, "A batch")
    return await app.activities.batch(caller, raw, request.headers.get("content-type", ""))


@router.delete(
    "/activities/{activity_id}",
    response_model=ActivityWritten,
    tags=["activities"],
    summary="Void an activity",
    responses={**_FORBIDDEN, 404: {"description": "Unknown activity", **_PROBLEM}},
)
async def void_activity(
    activity_id: ActivityId, body: VoidIn, app: EventsDep, caller: Caller
) -> ActivityWritten:
    """The activity stops counting everywhere (`voided` event, version + 1). Voiding
    it again answers 200 with the same version and publishes nothing. Needs
    `submitter` for the activity's province."""
    return await app.activities.void(caller, activity_id, body.reason)


@router.get(
    "/activities/{activity_id}",
    response_model=ActivityDetail,
    tags=["activities"],
    responses={**_FORBIDDEN, 404: {"description": "Unknown activity", **_PROBLEM}},
)
async def get_activity(activity_id: ActivityId, app: EventsDep, caller: Caller) -> ActivityDetail:
    """One activity with every version it went through (`viewer` of its province)."""
    return await app.activities.get(caller, activity_id)


@router.get(
    "/activities",
    response_model=ActivityList,
    tags=["activities"],
    responses={**_FORBIDDEN, 422: {"description": "Invalid filter", **_PROBLEM}},
)
async def list_activities(
    app: EventsDep,
    caller: Caller,
    unit_id: Annotated[
        str | None,
        Query(max_length=200, description="This unit and every unit below it; `vn` for all"),
    ] = None,
    type: ActivityTypeName | None = None,
    programme: Annotated[str | None, Query(max_length=20)] = None,
    source_system: Annotated[str | None, Query(max_length=64)] = None,
    started_from: Annotated[
        date | None, Query(alias="from", description="Started on or after")
    ] = None,
    started_to: Annotated[
        date | None, Query(alias="to", description="Started on or before")
    ] = None,
    status: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Comma list of active, pending_reference, rejected, voided, or `all`; "
            "default: all but voided",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> ActivityList:
    """Ordered by `started_on`, then id. With a unit: `viewer` of its province; without
    one (or `vn`): the activities of the client's provinces, all with national scope."""
    statuses = _statuses(status)
    return await app.activities.list_activities(
        caller,
        unit_id=unit_id,
        type=type,
        programme=programme,
        source_system=source_system,
        started_from=started_from,
        started_to=started_to,
        statuses=statuses,
        limit=limit,
        cursor=cursor,
    )


def _statuses(text: str | None) -> list[str]:
    if text is None:
        return []
    if text.strip() == "all":
        return list(STATUSES)
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in wanted if part not in STATUSES]
    if unknown:
        raise Problem(
            422,
            "validation",
            "Invalid request",
            f"Unknown status {', '.join(unknown)}; use {', '.join(STATUSES)} or all.",
            errors=[{"loc": ["query", "status"], "msg": f"unknown status {unknown[0]!r}"}],
        )
    return wanted


@router.get(
    "/activity-types",
    response_model=list[ActivityType],
    response_model_by_alias=True,
    tags=["activities"],
)
async def list_activity_types() -> list[ActivityType]:
    """Every activity type with the JSON Schema of its body."""
    return activity_types()


@router.post(
    "/imports/activities",
    response_model=ImportResult,
    response_model_exclude_none=True,
    tags=["imports"],
    summary="Upload activities as CSV or XLSX",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            }
        }
    },
    responses={
        403: {"description": "The client has no submitter role at all", **_PROBLEM},
        413: {"description": "File too large", **_PROBLEM},
    },
)
async def import_activities(
    request: Request,
    app: EventsDep,
    caller: Caller,
    type: Annotated[
        ActivityTypeName | None,
        Query(description="Type of rows without a “Loại hoạt động” column"),
    ] = None,
) -> ImportResult:
    """One result per row; idempotent by the `source_system` and `external_id` columns.
    A row in a province the client may not submit for is rejected as `forbidden`."""
    limit = app.settings.import_max_bytes
    content_type = request.headers.get("content-type", "")
    filename: str | None = None
    if content_type.startswith("multipart/form-data"):
        data, filename, content_type = await _uploaded(request, limit)
    else:
        data = await _read_limited(request, limit, "An upload")
    return await app.activities.import_file(
        caller, data, filename=filename, content_type=content_type, activity_type=type
    )


async def _uploaded(request: Request, limit: int) -> tuple[bytes, str | None, str]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise _too_large("An upload", limit)
    async with request.form(max_files=1, max_fields=10) as form:
        upload: Any = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Problem(
                422,
                "validation",
                "Invalid request",
                "Send the file in the multipart field `file`.",
                errors=[{"loc": ["body", "file"], "msg": "Field required"}],
            )
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise _too_large("An upload", limit)
        return data, upload.filename, upload.content_type or ""


@router.get(
    "/imports/activities/{activity_type}/template.xlsx",
    tags=["imports"],
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}
    },
)
async def import_template(activity_type: ActivityTypeName) -> Response:
    """The upload template of one type, with Vietnamese headers and a guide sheet."""
    return Response(
        template_xlsx(activity_type),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{activity_type}.xlsx"'},
    )


@router.get(
    "/status",
    response_model=ServiceStatus,
    tags=["operations"],
    responses={403: {"description": "Not an admin", **_PROBLEM}},
)
async def status(app: EventsDep, caller: Caller) -> ServiceStatus:
    """How far the registry replica has applied `REGISTRY` (admins only)."""
    require_admin(caller)
    return await service_status(app.runtime)
