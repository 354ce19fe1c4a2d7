"""The registry's HTTP routes for the provinces' registers: sites, clubs, members, imports.

Writes need `submitter` for the province the record belongs to, reads `viewer`; lists
without a unit show the caller's provinces only (see docs/registry.md, *Access*).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.registry.api import (
    CREATED,
    Cursor,
    Limit,
    RegistryDep,
    after_cursor,
    answer_status,
    next_cursor,
)
from services.registry.clubs import club_view, site_view
from services.registry.import_columns import XLSX_MEDIA_TYPE, Kind
from services.registry.import_formats import template
from services.registry.members import member_view, today
from services.registry.schemas import (
    BulkResults,
    Club,
    ClubIn,
    ClubKind,
    ClubList,
    CreatedId,
    ExternalId,
    ImportResult,
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
from services.registry.uploads import read_upload
from shared.auth.http import Caller, current_principal
from shared.http import Problem

router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])

RecordPath = Annotated[str, Path(max_length=100, description="The id the registry gave")]
AsOf = Annotated[date | None, Query(description="Count members on this day (default: today)")]


# --------------------------------------------------------------------- sites
@router.put(
    "/sites/{source_system}/{external_id}",
    response_model=CreatedId,
    tags=["sites"],
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


@router.get("/sites", response_model=SiteList, tags=["sites"])
async def list_sites(
    reg: RegistryDep,
    caller: Caller,
    unit_id: Annotated[
        str | None, Query(max_length=60, description="Sites in this unit or below")
    ] = None,
    kind: SiteKind | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SiteList:
    """Without `unit_id` (or with `vn`): the sites of the caller's provinces."""
    found = await reg.registers.sites(unit_id, kind, after_cursor(cursor), limit + 1, caller)
    return SiteList(
        items=[site_view(d) for d in found[:limit]], next_cursor=next_cursor(found, limit)
    )


@router.get("/sites/{site_id}", response_model=Site, tags=["sites"])
async def get_site(site_id: RecordPath, reg: RegistryDep, caller: Caller) -> Site:
    return site_view(await reg.registers.get_site(site_id, caller))


# --------------------------------------------------------------------- clubs
@router.put(
    "/clubs/{source_system}/{external_id}",
    response_model=CreatedId,
    tags=["clubs"],
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


@router.get("/clubs", response_model=ClubList, tags=["clubs"])
async def list_clubs(
    reg: RegistryDep,
    caller: Caller,
    unit_id: Annotated[
        str | None, Query(max_length=60, description="Clubs in this unit or below")
    ] = None,
    programme: ProgrammeCode | None = None,
    kind: ClubKind | None = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ClubList:
    """Without `unit_id` (or with `vn`): the clubs of the caller's provinces."""
    found = await reg.registers.clubs(
        unit_id, programme, kind, after_cursor(cursor), limit + 1, caller
    )
    page = found[:limit]
    counts = await reg.members.member_counts([d["_id"] for d in page], as_of or today())
    return ClubList(
        items=[club_view(d, counts[d["_id"]]) for d in page],
        next_cursor=next_cursor(found, limit),
    )


@router.get("/clubs/{club_id}", response_model=Club, tags=["clubs"])
async def get_club(
    club_id: RecordPath, reg: RegistryDep, caller: Caller, as_of: AsOf = None
) -> Club:
    document = await reg.registers.club_for(club_id, caller, "viewer")
    counts = await reg.members.member_counts([club_id], as_of or today())
    return club_view(document, counts[club_id])


@router.put(
    "/clubs/{club_id}/members/{member_code}",
    response_model=CreatedId,
    tags=["members"],
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


@router.post("/clubs/{club_id}/members:bulk", response_model=BulkResults, tags=["members"])
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


@router.get("/clubs/{club_id}/members", response_model=MemberList, tags=["members"])
async def list_members(
    club_id: RecordPath, reg: RegistryDep, caller: Caller, limit: Limit = 100, cursor: Cursor = None
) -> MemberList:
    await reg.registers.club_for(club_id, caller, "viewer")
    found = await reg.members.members(club_id, after_cursor(cursor), limit + 1)
    return MemberList(
        items=[member_view(d) for d in found[:limit]], next_cursor=next_cursor(found, limit)
    )


# ------------------------------------------------------------------- imports
KindPath = Annotated[Kind, Path(description="`sites`, `clubs`, `members` or `classifications`")]


@router.post(
    "/imports/{kind}",
    response_model=ImportResult,
    tags=["imports"],
    responses={
        413: {"description": "File too large"},
        422: {"description": "Rows rejected; nothing written (problem with `results`)"},
    },
)
async def run_import(
    kind: KindPath,
    request: Request,
    reg: RegistryDep,
    caller: Caller,
    partial: Annotated[bool, Query(description="Write the good rows even if others fail")] = False,
) -> Any:
    """A CSV (UTF-8) or XLSX file, as the body or the form field `file`. A row of a
    province the client may not submit for is rejected (`forbidden`) like a faulty one."""
    content = await read_upload(request, reg.settings.import_max_bytes)
    result = await reg.imports.run(kind, content, partial, caller)
    if result.counts.get("rejected") and not partial:
        raise Problem(
            422,
            "import-rejected",
            "Rows rejected; nothing was written",
            f"{result.counts['rejected']} of {len(result.results)} rows were rejected; see "
            "`results`. Correct them, or send ?partial=true to write the others.",
            **result.model_dump(mode="json", exclude={"kind"}),
        )
    return result


@router.get(
    "/imports/{kind}/template.xlsx",
    tags=["imports"],
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
async def import_template(kind: KindPath) -> Response:
    """The XLSX template of a kind, with Vietnamese headers and a guide sheet."""
    return Response(
        template(kind),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.xlsx"'},
    )
