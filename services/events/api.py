"""The events service's HTTP routes (what they depend on: `deps.py`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.events.columns import columns_for
from services.events.deps import AllowPending, Caller, EventsDep
from services.events.items import MAX_BATCH_ITEMS, NDJSON_TYPES
from services.events.schemas import (
    ActivityDetail,
    ActivityList,
    ActivityType,
    ActivityWritten,
    BatchResult,
    ExternalId,
    SourceSystem,
    VoidIn,
)
from services.events.service import activity_types
from shared.auth.http import current_principal
from shared.contracts import Activity
from shared.contracts.activities import ActivityType as ActivityTypeName
from shared.edge import problems
from shared.edge.authorization import require_admin
from shared.edge.i18n import say
from shared.edge.spreadsheets import (
    UPLOAD_CONTENT,
    XLSX_MEDIA_TYPE,
    read_upload,
    template_xlsx,
)
from shared.limits import read_limited
from shared.schemas import UploadResult
from shared.status import ServiceStatus, service_status

# Every `/v1` route needs a valid access token (401 otherwise); what each client may
# write and read is decided per province by the use cases (403 otherwise).
router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])

STATUSES = ("active", "pending_reference", "rejected", "voided")
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "The client lacks the role, or the province", **_PROBLEM}
}
_LOCKED: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The activity lies in a locked period (`period-locked`, naming the "
        "`lock`: programme, period, unit_id, since, by)",
        "content": {
            "application/problem+json": {
                "example": {
                    "type": "https://bdg.gov.vn/problems/period-locked",
                    "title": "Period locked",
                    "status": 409,
                    "detail": "P8 2024 is locked for vn63:186 since 2025-01-20T08:30:00+00:00 "
                    "by langson-approver (Báo cáo năm 2024 đã chốt); it takes no new, revised "
                    "or voided activities until it is reopened.",
                    "lock": {
                        "id": "P8|2024|vn63:186",
                        "programme": "P8",
                        "period": "2024",
                        "unit_id": "vn63:186",
                        "origin": "lock",
                        "reason": "Báo cáo năm 2024 đã chốt",
                        "since": "2025-01-20T08:30:00+00:00",
                        "by": "langson-approver",
                    },
                }
            }
        },
    }
}
ActivityId = Annotated[str, Path(max_length=100, description="The activity's id")]
SourcePath = Annotated[SourceSystem, Path(description="The province's system")]
ExternalPath = Annotated[ExternalId, Path(description="The record's id in that system")]
_ITEM_SCHEMA = {
    "type": "object",
    "description": "An activity body (see GET /v1/activity-types) plus source_system and "
    "external_id",
    "required": ["source_system", "external_id", "type"],
}
_EXAMPLE_ITEM = {
    "source_system": "langson-p8",
    "external_id": "HL-2023-0042",
    "type": "communication_session",
    "programme": "P8",
    "unit_id": "vn63:06433",
    "title": "Tuyên truyền phòng, chống bạo lực học đường",
    "started_on": "2023-10-12",
    "ended_on": "2023-10-12",
    "participants": {"female": 31, "male": 24, "ethnic_minority": 40},
}
_PENDING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ActivityWritten,
        "description": "Accepted as `pending_reference` (only with `allow_pending=true`): "
        "`pending_on` lists the references it waits for",
    }
}


@router.put(
    "/activities/{source_system}/{external_id}",
    response_model=ActivityWritten,
    tags=["activities"],
    summary="Record or revise one activity",
    responses={
        201: {"model": ActivityWritten, "description": "Created (version 1)"},
        **_PENDING,
        **_FORBIDDEN,
        409: {
            **_LOCKED[409],
            "description": "The activity is voided (`activity-voided`); or the stored or the "
            "new version lies in a locked period (`period-locked`, naming the `lock`)",
        },
        422: {
            "description": "Invalid activity; an unknown unit, programme, club or site is "
            "`unknown-unit`, `unknown-programme`, … naming the field and the value",
            **_PROBLEM,
        },
    },
)
async def put_activity(
    source_system: SourcePath,
    external_id: ExternalPath,
    activity: Annotated[Activity, Body()],
    response: Response,
    app: EventsDep,
    caller: Caller,
    allow_pending: AllowPending = False,
) -> ActivityWritten:
    """New → 201 with version 1; the same body again → 200, same version, no event;
    a changed body → 200 with version + 1 and a `revised` event; accepted while waiting
    for a reference (`allow_pending=true`) → 202. Needs `submitter` for the province of
    the activity's unit (and of the stored activity)."""
    written, created = await app.activities.put(
        caller, source_system, external_id, activity, allow_pending=allow_pending
    )
    response.status_code = 202 if written.status == "pending_reference" else 201 if created else 200
    return written


@router.get(
    "/activities/{source_system}/{external_id}",
    response_model=ActivityDetail,
    tags=["activities"],
    summary="Read an activity by its natural key",
    responses={**_FORBIDDEN, 404: {"description": "Unknown activity", **_PROBLEM}},
)
async def get_activity_by_key(
    source_system: SourcePath, external_id: ExternalPath, app: EventsDep, caller: Caller
) -> ActivityDetail:
    """The activity a province's system sent under `(source_system, external_id)`, with
    every version it went through (`viewer` of its province)."""
    return await app.activities.get_by_key(caller, source_system, external_id)


@router.delete(
    "/activities/{source_system}/{external_id}",
    response_model=ActivityWritten,
    tags=["activities"],
    summary="Void an activity by its natural key",
    responses={**_FORBIDDEN, **_LOCKED, 404: {"description": "Unknown activity", **_PROBLEM}},
)
async def void_activity_by_key(
    source_system: SourcePath,
    external_id: ExternalPath,
    body: VoidIn,
    app: EventsDep,
    caller: Caller,
) -> ActivityWritten:
    """As `DELETE /v1/activities/{id}`, for a system that knows only its own key."""
    return await app.activities.void_by_key(caller, source_system, external_id, body.reason)


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
                    "schema": {"type": "array", "maxItems": MAX_BATCH_ITEMS, "items": _ITEM_SCHEMA},
                    "example": [_EXAMPLE_ITEM],
                },
                **{
                    media: {"schema": {"type": "string", "description": "One item per line"}}
                    for media in NDJSON_TYPES
                },
            },
        }
    },
    responses={
        400: {
            "description": "Not a JSON array or NDJSON, too deep, a number too large",
            **_PROBLEM,
        },
        403: {"description": "The client has no submitter role at all", **_PROBLEM},
        413: {"description": f"More than {MAX_BATCH_ITEMS} items", **_PROBLEM},
        415: {"description": "Neither JSON nor NDJSON", **_PROBLEM},
    },
)
async def batch(
    request: Request, app: EventsDep, caller: Caller, allow_pending: AllowPending = False
) -> BatchResult:
    """Each item is checked and written on its own terms: a rejected item (with
    field-level `errors` and its `problem`) never blocks the others; an item in a
    province the client may not submit for is rejected as `forbidden`, one in a locked
    period as `period-locked` (its `problem` names the `lock`). Items with the same key
    apply in order, as the same `PUT`s one after another would."""
    raw = await read_limited(request, app.settings.batch_max_bytes)
    content_type = request.headers.get("content-type", "")
    return await app.activities.batch(caller, raw, content_type, allow_pending=allow_pending)


@router.delete(
    "/activities/{activity_id}",
    response_model=ActivityWritten,
    tags=["activities"],
    summary="Void an activity",
    responses={**_FORBIDDEN, **_LOCKED, 404: {"description": "Unknown activity", **_PROBLEM}},
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
    summary="Read an activity",
    responses={**_FORBIDDEN, 404: {"description": "Unknown activity", **_PROBLEM}},
)
async def get_activity(activity_id: ActivityId, app: EventsDep, caller: Caller) -> ActivityDetail:
    """One activity with every version it went through (`viewer` of its province)."""
    return await app.activities.get(caller, activity_id)


@router.get(
    "/activities",
    response_model=ActivityList,
    tags=["activities"],
    summary="List activities",
    responses={
        **_FORBIDDEN,
        400: {"description": "Invalid cursor", **_PROBLEM},
        422: {"description": "Invalid filter", **_PROBLEM},
    },
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
    updated_since: Annotated[
        datetime | None,
        Query(
            description="Only activities written (recorded, revised, voided, resolved) at or "
            "after this moment (RFC 3339): for syncing a copy"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> ActivityList:
    """Ordered by `started_on`, then id. With a unit: `viewer` of its province; without
    one (or `vn`): the activities of the client's provinces, all with national scope."""
    return await app.activities.list_activities(
        caller,
        unit_id=unit_id,
        type=type,
        programme=programme,
        source_system=source_system,
        started_from=started_from,
        started_to=started_to,
        statuses=_statuses(status),
        updated_since=updated_since,
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
        listed = ", ".join(STATUSES)
        detail = say(
            f"Unknown status {', '.join(unknown)}; use {listed} or all.",
            f"Không có trạng thái {', '.join(unknown)}; dùng {listed} hoặc all.",
        )
        raise problems.validation([problems.field_error(["query", "status"], detail)], detail)
    return wanted


@router.get(
    "/activity-types",
    response_model=list[ActivityType],
    response_model_by_alias=True,
    tags=["activities"],
    summary="The activity types",
)
async def list_activity_types() -> list[ActivityType]:
    """Every activity type with the JSON Schema of its body."""
    return activity_types()


@router.post(
    "/imports/activities",
    response_model=UploadResult,
    response_model_exclude_none=True,
    tags=["imports"],
    summary="Upload activities as CSV or XLSX",
    openapi_extra={"requestBody": {"required": True, "content": UPLOAD_CONTENT}},
    responses={
        403: {"description": "The client has no submitter role at all", **_PROBLEM},
        413: {"description": "File too large, or too many rows", **_PROBLEM},
        415: {"description": "Not a file upload", **_PROBLEM},
        422: {
            "description": "Rows rejected and `partial` not set: nothing written "
            "(`import-rejected`, with `rows` and `summary`); or the file cannot be read",
            **_PROBLEM,
        },
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
    partial: Annotated[
        bool, Query(description="Write the rows that passed even if others were rejected")
    ] = False,
    allow_pending: AllowPending = False,
) -> UploadResult:
    """The file as the body (CSV or XLSX) or as the form field `file`. Every row is
    checked first; nothing is written unless every row passed, or `partial=true`.
    Idempotent by the `source_system` and `external_id` columns. A row in a province
    the client may not submit for is rejected as `forbidden`."""
    upload = await read_upload(request, app.settings.import_max_bytes)
    return await app.activities.import_file(
        caller, upload, activity_type=type, partial=partial, allow_pending=allow_pending
    )


@router.get(
    "/imports/activities/{activity_type}/template.xlsx",
    tags=["imports"],
    summary="The upload template of an activity type",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The XLSX template"}},
)
async def import_template(activity_type: ActivityTypeName) -> Response:
    """The upload template of one type, with Vietnamese headers, drop-down lists for
    fixed values and a guide sheet."""
    note = (
        "Mỗi dòng là một hoạt động, xác định bởi (Hệ thống nguồn, Mã bản ghi): "
        "gửi lại cùng dòng không tạo bản ghi mới."
    )
    return Response(
        template_xlsx(activity_type, columns_for(activity_type), [note]),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{activity_type}.xlsx"'},
    )


@router.get(
    "/status",
    response_model=ServiceStatus,
    tags=["operations"],
    summary="How far the registry replica got",
    responses={403: {"description": "Not an admin", **_PROBLEM}},
)
async def status(app: EventsDep, caller: Caller) -> ServiceStatus:
    """How far the registry replica has applied `REGISTRY` (admins only)."""
    require_admin(caller)
    return await service_status(app.runtime)
