"""The registry's HTTP routes for the provinces' registers: sites, clubs, members, imports.

Writes need `submitter` for the province the record belongs to, reads `viewer`; lists
without a unit show the caller's provinces only (see docs/registry.md, *Access*).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.registry.clubs import site_view
from services.registry.deps import (
    CREATED,
    AsOf,
    Caller,
    Cursor,
    Limit,
    RecordPath,
    RegistryDep,
    UpdatedSince,
    answer_status,
)
from services.registry.import_columns import COLUMNS, Kind
from services.registry.members import member_view
from services.registry.repository import RecordQuery, cursor_key
from services.registry.schemas import (
    BulkResults,
    Club,
    ClubIn,
    ClubKind,
    ClubList,
    CreatedId,
    ExternalId,
    MemberCode,
    MemberIn,
    MemberList,
    ProgrammeCode,
    Site,
    SiteIn,
    SiteKind,
    SiteList,
    SourceSystem,
)
from shared.auth.http import current_principal
from shared.edge.cursors import decode_cursor, page_cursor
from shared.edge.dates import today_in_vietnam
from shared.edge.spreadsheets import UPLOAD_CONTENT, XLSX_MEDIA_TYPE, read_upload, template_xlsx
from shared.schemas import UploadResult

router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])


def _after(cursor: str | None) -> str | None:
    key = decode_cursor(cursor, (str,))
    return None if key is None else str(key[0])


# --------------------------------------------------------------------- sites
@router.put(
    "/sites/{source_system}/{external_id}",
    response_model=CreatedId,
    tags=["sites"],
    summary="Register or update a site",
    responses=CREATED,
)
async def put_site(
    source_system: Annotated[SourceSystem, Path()],
    external_id: Annotated[ExternalId, Path()],
    body: SiteIn,
    response: Response,
    reg: RegistryDep,
    caller: Caller,
) -> CreatedId:
    """Needs `submitter` for the province of the site's unit (and of the unit it had)."""
    stored = await reg.registers.put_site(source_system, external_id, body, caller)
    answer_status(response, stored.outcome)
    return CreatedId(id=stored.key)


@router.get("/sites", response_model=SiteList, tags=["sites"], summary="List sites")
async def list_sites(
    reg: RegistryDep,
    caller: Caller,
    unit_id: Annotated[
        str | None, Query(max_length=60, description="Sites in this unit or below")
    ] = None,
    kind: SiteKind | None = None,
    updated_since: UpdatedSince = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SiteList:
    """Without `unit_id` (or with `vn`): the sites of the caller's provinces."""
    query = RecordQuery(kind=kind, updated_since=updated_since, after=_after(cursor))
    found = await reg.registers.sites(query, unit_id, caller, limit + 1)
    return SiteList(
        items=[site_view(d) for d in found[:limit]],
        next_cursor=page_cursor(found, limit, cursor_key),
    )


@router.get("/sites/{site_id}", response_model=Site, tags=["sites"], summary="One site")
async def get_site(site_id: RecordPath, reg: RegistryDep, caller: Caller) -> Site:
    """One site, for a `viewer` of its province."""
    return site_view(await reg.registers.get_site(site_id, caller))


# --------------------------------------------------------------------- clubs
@router.put(
    "/clubs/{source_system}/{external_id}",
    response_model=CreatedId,
    tags=["clubs"],
    summary="Register or update a club",
    responses=CREATED,
)
async def put_club(
    source_system: Annotated[SourceSystem, Path()],
    external_id: Annotated[ExternalId, Path()],
    body: ClubIn,
    response: Response,
    reg: RegistryDep,
    caller: Caller,
) -> CreatedId:
    """Needs `submitter` for the province of the club's unit (and of the unit it had)."""
    stored = await reg.registers.put_club(source_system, external_id, body, caller)
    answer_status(response, stored.outcome)
    return CreatedId(id=stored.key)


@router.get("/clubs", response_model=ClubList, tags=["clubs"], summary="List clubs")
async def list_clubs(
    reg: RegistryDep,
    caller: Caller,
    unit_id: Annotated[
        str | None, Query(max_length=60, description="Clubs in this unit or below")
    ] = None,
    programme: ProgrammeCode | None = None,
    kind: ClubKind | None = None,
    as_of: AsOf = None,
    updated_since: UpdatedSince = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ClubList:
    """Without `unit_id` (or with `vn`): the clubs of the caller's provinces, each with
    its member counts on `as_of`."""
    query = RecordQuery(
        programme=programme, kind=kind, updated_since=updated_since, after=_after(cursor)
    )
    found = await reg.registers.clubs(query, unit_id, caller, limit + 1)
    return ClubList(
        items=await reg.members.club_views(found[:limit], as_of or today_in_vietnam()),
        next_cursor=page_cursor(found, limit, cursor_key),
    )


@router.get("/clubs/{club_id}", response_model=Club, tags=["clubs"], summary="One club")
async def get_club(
    club_id: RecordPath, reg: RegistryDep, caller: Caller, as_of: AsOf = None
) -> Club:
    """One club with its member counts on `as_of`, for a `viewer` of its province."""
    document = await reg.registers.club_for(club_id, caller, "viewer")
    [club] = await reg.members.club_views([document], as_of or today_in_vietnam())
    return club


@router.put(
    "/clubs/{club_id}/members/{member_code}",
    response_model=CreatedId,
    tags=["members"],
    summary="Register or update a club member",
    responses=CREATED,
)
async def put_member(
    club_id: RecordPath,
    member_code: Annotated[MemberCode, Path(description="The province's pseudonymous code")],
    body: MemberIn,
    response: Response,
    reg: RegistryDep,
    caller: Caller,
) -> CreatedId:
    """Needs `submitter` for the club's province."""
    club = await reg.registers.club_for(club_id, caller, "submitter")
    stored = await reg.members.put_member(club, member_code, body)
    answer_status(response, stored.outcome)
    return CreatedId(id=stored.key)


@router.post(
    "/clubs/{club_id}/members:bulk",
    response_model=BulkResults,
    tags=["members"],
    summary="Register many members of a club",
)
async def bulk_members(
    club_id: RecordPath,
    reg: RegistryDep,
    caller: Caller,
    items: Annotated[
        list[dict[str, Any]],
        Body(description="Up to 5,000 members: each `member_code` plus the fields of the PUT"),
    ],
) -> BulkResults:
    """Needs `submitter` for the club's province (the whole call is refused otherwise)."""
    return await reg.bulk.run(club_id, items, caller)


@router.get(
    "/clubs/{club_id}/members",
    response_model=MemberList,
    tags=["members"],
    summary="A club's members",
)
async def list_members(
    club_id: RecordPath,
    reg: RegistryDep,
    caller: Caller,
    updated_since: UpdatedSince = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MemberList:
    """The members of a club (pseudonymous codes only), for a `viewer` of its province."""
    await reg.registers.club_for(club_id, caller, "viewer")
    query = RecordQuery(club_id=club_id, updated_since=updated_since, after=_after(cursor))
    found = await reg.members.members(query, limit + 1)
    return MemberList(
        items=[member_view(d) for d in found[:limit]],
        next_cursor=page_cursor(found, limit, cursor_key),
    )


# ------------------------------------------------------------------- imports
KindPath = Annotated[Kind, Path(description="`sites`, `clubs`, `members` or `classifications`")]


@router.post(
    "/imports/{kind}",
    response_model=UploadResult,
    response_model_exclude_none=True,
    tags=["imports"],
    summary="Upload sites, clubs, members or classifications as CSV or XLSX",
    openapi_extra={"requestBody": {"required": True, "content": UPLOAD_CONTENT}},
    responses={
        413: {"description": "File too large, or too many rows"},
        415: {"description": "Not a file upload"},
        422: {
            "description": "Rows rejected and `partial` not set: nothing written "
            "(`import-rejected`, with `rows` and `summary`); or the file cannot be read"
        },
    },
)
async def run_import(
    kind: KindPath,
    request: Request,
    reg: RegistryDep,
    caller: Caller,
    partial: Annotated[
        bool, Query(description="Write the rows that passed even if others were rejected")
    ] = False,
) -> UploadResult:
    """A CSV (UTF-8) or XLSX file, as the body or the form field `file`. Every row is
    checked first; nothing is written unless every row passed, or `partial=true`. A row
    of a province the client may not submit for is rejected (`forbidden`) like a faulty
    one."""
    upload = await read_upload(request, reg.settings.import_max_bytes)
    return await reg.imports.run(kind, upload, partial, caller)


@router.get(
    "/imports/{kind}/template.xlsx",
    tags=["imports"],
    summary="The upload template of a kind",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The XLSX template"}},
)
async def import_template(kind: KindPath) -> Response:
    """The XLSX template of a kind, with Vietnamese headers, drop-down lists for fixed
    values (Nữ/Nam, …) and a guide sheet."""
    return Response(
        template_xlsx("Dữ liệu", COLUMNS[kind]),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.xlsx"'},
    )
