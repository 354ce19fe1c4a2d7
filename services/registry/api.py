"""The registry's HTTP routes."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from services.registry.access_api import Access
from services.registry.catalogue import ETHNIC_GROUPS, is_ethnic_minority
from services.registry.clubs import RegisterService, club_view, site_view
from services.registry.config import RegistrySettings
from services.registry.directory import UnitQuery
from services.registry.import_columns import XLSX_MEDIA_TYPE, Kind
from services.registry.import_formats import template
from services.registry.imports import ImportService
from services.registry.loader import ReferenceLoader
from services.registry.members import BulkMembers, MemberService, member_view, today
from services.registry.problems import invalid
from services.registry.schemas import (
    BulkResults,
    Classification,
    ClassificationIn,
    Club,
    ClubIn,
    ClubList,
    CreatedId,
    Ethnicity,
    ExternalId,
    ImportResult,
    Link,
    MemberCode,
    MemberIn,
    MemberList,
    Programme,
    ProgrammeCode,
    ProgrammeIn,
    ProgrammeList,
    ReferenceStatus,
    Site,
    SiteIn,
    SiteList,
    SourceSystem,
    TargetIn,
    TargetPlan,
    UnitDetail,
    UnitList,
    VillageIn,
)
from services.registry.service import ProgrammeService, UnitService
from services.registry.uploads import read_upload
from shared.auth.http import current_principal
from shared.http import Problem
from shared.runtime import ServiceRuntime
from shared.versioned import Outcome

# Every `/v1` route needs a valid access token (401 otherwise).
router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])


class Registry:
    """What the routes reach: the use cases, and the runtime to wake the outbox relay."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: RegistrySettings,
        units: UnitService,
        programmes: ProgrammeService,
        registers: RegisterService,
        members: MemberService,
        loader: ReferenceLoader,
        access: Access,
    ) -> None:
        self.runtime = runtime
        self.access = access
        self.settings = settings
        self.units = units
        self.programmes = programmes
        self.registers = registers
        self.members = members
        self.bulk = BulkMembers(registers, members, settings.bulk_max_members)
        self.imports = ImportService(registers, members, units, settings.import_max_rows)
        self.loader = loader


def registry(request: Request) -> Registry:
    found: Registry = request.app.state.service
    return found


RegistryDep = Annotated[Registry, Depends(registry)]
CodePath = Annotated[ProgrammeCode, Path(description="Programme code, e.g. `P8`")]
UnitPath = Annotated[
    str, Path(description="A unit id: `vn`, `vn63:06433`, `vn34:20`, `vn63:06433.T05`")
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
AsOf = Annotated[date | None, Query(description="Count members on this day (default: today)")]
CREATED: dict[int | str, dict[str, Any]] = {201: {"model": CreatedId, "description": "Created"}}


def _status(response: Response, outcome: Outcome | bool) -> None:
    created = outcome if isinstance(outcome, bool) else outcome == Outcome.CREATED
    response.status_code = 201 if created else 200


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error):
        raise invalid(
            "invalid-cursor", "Invalid cursor", "Unknown cursor.", ["query", "cursor"]
        ) from None


def _next(items: list[Any], limit: int) -> str | None:
    if len(items) <= limit:
        return None
    return base64.urlsafe_b64encode(str(items[limit - 1]["_id"]).encode()).decode().rstrip("=")


# --------------------------------------------------------------------- units
@router.get("/units", response_model=UnitList, tags=["units"])
async def list_units(
    reg: RegistryDep,
    level: Literal["nation", "province", "district", "commune", "village"] | None = None,
    parent: Annotated[str | None, Query(description="Direct children of this unit")] = None,
    q: Annotated[
        str | None, Query(description="Name, with or without diacritics; or a code")
    ] = None,
    as_of: Annotated[date | None, Query(description="Units in force on this day")] = None,
    edition: Literal["vn", "vn63", "vn34"] | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> UnitList:
    query = UnitQuery(level=level, parent=parent, q=q, as_of=as_of, edition=edition)
    return reg.units.find(query, cursor, limit)


@router.get("/units/{unit_id}", response_model=UnitDetail, tags=["units"])
async def get_unit(unit_id: UnitPath, reg: RegistryDep) -> UnitDetail:
    return await reg.units.get(unit_id)


@router.get("/units/{unit_id}/successors", response_model=list[Link], tags=["units"])
async def successors(unit_id: UnitPath, reg: RegistryDep) -> list[Link]:
    """Where a vn63 unit went on 2025-07-01, with the share each vn34 unit received."""
    return [Link(unit_id=u, share=s) for u, s in reg.units.successors(unit_id)]


@router.get("/units/{unit_id}/predecessors", response_model=list[Link], tags=["units"])
async def predecessors(
    unit_id: UnitPath,
    reg: RegistryDep,
    level: Annotated[
        Literal["province", "district", "commune", "village"] | None,
        Query(description="Old units of this level (default: the level the crosswalk links)"),
    ] = None,
) -> list[Link]:
    """The vn63 units whose successors include this one, with their shares into it."""
    return [Link(unit_id=u, share=s) for u, s in reg.units.predecessors(unit_id, level)]


@router.post("/units", response_model=CreatedId, tags=["units"], responses=CREATED)
async def add_village(body: VillageIn, response: Response, reg: RegistryDep) -> CreatedId:
    """Add a village (thôn) under a commune; repeating it returns the same id."""
    village_id, created = await reg.units.add_village(body)
    reg.runtime.wake_relay()
    _status(response, created)
    return CreatedId(id=village_id)


@router.put(
    "/units/{unit_id}/classifications/{name}",
    response_model=Classification,
    tags=["units"],
    responses={201: {"model": Classification}, 409: {"description": "Overlapping period"}},
)
async def put_classification(
    unit_id: UnitPath,
    name: Annotated[str, Path(description="`region` or `especially_difficult`")],
    body: ClassificationIn,
    response: Response,
    reg: RegistryDep,
) -> Classification:
    """Add a period, or replace the one starting on the same day; overlaps are refused."""
    classification, outcome = await reg.units.put_classification(unit_id, name, body)
    reg.runtime.wake_relay()
    _status(response, outcome)
    return classification


@router.delete(
    "/units/{unit_id}/classifications/{name}/{valid_from}",
    response_model=Classification,
    tags=["units"],
)
async def delete_classification(
    unit_id: UnitPath, name: str, valid_from: date, reg: RegistryDep
) -> Classification:
    """Remove the period starting on `valid_from`."""
    classification = await reg.units.delete_classification(unit_id, name, valid_from)
    reg.runtime.wake_relay()
    return classification


@router.get("/reference", response_model=ReferenceStatus, tags=["units"])
async def reference_status(reg: RegistryDep) -> ReferenceStatus:
    """The national reference: units held, and how far storing and publishing got."""
    status = reg.loader.status
    return ReferenceStatus(
        state=status.state,
        units=len(reg.units.directory),
        counts=reg.units.directory.counts(),
        chunks=status.chunks,
        chunks_to_write=status.chunks_to_write,
        chunks_written=status.chunks_written,
        events_to_publish=status.events_to_publish,
        events_published=status.events_published,
        prepared_seconds=status.prepared_seconds,
        published_seconds=status.published_seconds,
        fingerprint=status.fingerprint,
        dropped_links=status.dropped_links,
    )


@router.get("/ethnicities", response_model=list[Ethnicity], tags=["members"])
async def ethnicities() -> list[Ethnicity]:
    """The 54 ethnic groups by code (Decision 121-TCTK/PPCĐ); Kinh is not a minority."""
    return [
        Ethnicity(code=code, name=name, ethnic_minority=is_ethnic_minority(code))
        for code, name in ETHNIC_GROUPS.items()
    ]


# ---------------------------------------------------------------- programmes
@router.put(
    "/programmes/{code}",
    response_model=Programme,
    tags=["programmes"],
    summary="Create or update a programme",
    responses={201: {"model": Programme, "description": "Created"}},
)
async def put_programme(
    code: CodePath, body: ProgrammeIn, response: Response, reg: RegistryDep
) -> Programme:
    programme, created = await reg.programmes.put(code, body)
    reg.runtime.wake_relay()
    _status(response, created)
    return programme


@router.get("/programmes", response_model=ProgrammeList, tags=["programmes"])
async def list_programmes(reg: RegistryDep) -> ProgrammeList:
    return ProgrammeList(items=await reg.programmes.all())


@router.get("/programmes/{code}", response_model=Programme, tags=["programmes"])
async def get_programme(code: CodePath, reg: RegistryDep) -> Programme:
    return await reg.programmes.get(code)


@router.put("/programmes/{code}/targets", response_model=TargetPlan, tags=["programmes"])
async def put_targets(code: CodePath, body: list[TargetIn], reg: RegistryDep) -> TargetPlan:
    """Replace the programme's whole plan: `[{"indicator", "unit_id", "period", "value"}]`."""
    plan = await reg.programmes.put_targets(code, body)
    reg.runtime.wake_relay()
    return plan


@router.get("/programmes/{code}/targets", response_model=TargetPlan, tags=["programmes"])
async def get_targets(code: CodePath, reg: RegistryDep) -> TargetPlan:
    return await reg.programmes.targets(code)


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
) -> CreatedId:
    prepared = await reg.registers.prepare_site(source_system, external_id, body, ["body"])
    site_id, outcome = await reg.registers.write_site(prepared)
    reg.runtime.wake_relay()
    _status(response, outcome)
    return CreatedId(id=site_id)


@router.get("/sites", response_model=SiteList, tags=["sites"])
async def list_sites(
    reg: RegistryDep,
    unit_id: Annotated[str | None, Query(description="Sites in this unit or below")] = None,
    kind: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SiteList:
    found = await reg.registers.sites(unit_id, kind, _after(cursor), limit + 1)
    return SiteList(items=[site_view(d) for d in found[:limit]], next_cursor=_next(found, limit))


@router.get("/sites/{site_id}", response_model=Site, tags=["sites"])
async def get_site(site_id: str, reg: RegistryDep) -> Site:
    return site_view(await reg.registers.get_site(site_id))


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
) -> CreatedId:
    prepared = await reg.registers.prepare_club(source_system, external_id, body, ["body"])
    club_id, outcome = await reg.registers.write_club(prepared)
    reg.runtime.wake_relay()
    _status(response, outcome)
    return CreatedId(id=club_id)


@router.get("/clubs", response_model=ClubList, tags=["clubs"])
async def list_clubs(
    reg: RegistryDep,
    unit_id: Annotated[str | None, Query(description="Clubs in this unit or below")] = None,
    programme: str | None = None,
    kind: Literal["school", "community"] | None = None,
    as_of: AsOf = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ClubList:
    found = await reg.registers.clubs(unit_id, programme, kind, _after(cursor), limit + 1)
    page = found[:limit]
    counts = await reg.members.member_counts([d["_id"] for d in page], as_of or today())
    return ClubList(
        items=[club_view(d, counts[d["_id"]]) for d in page], next_cursor=_next(found, limit)
    )


@router.get("/clubs/{club_id}", response_model=Club, tags=["clubs"])
async def get_club(club_id: str, reg: RegistryDep, as_of: AsOf = None) -> Club:
    document = await reg.registers.club(club_id)
    counts = await reg.members.member_counts([club_id], as_of or today())
    return club_view(document, counts[club_id])


@router.put(
    "/clubs/{club_id}/members/{member_code}",
    response_model=CreatedId,
    tags=["members"],
    responses=CREATED,
)
async def put_member(
    club_id: str,
    member_code: Annotated[MemberCode, Path(description="The province's pseudonymous code")],
    body: MemberIn,
    response: Response,
    reg: RegistryDep,
) -> CreatedId:
    club = await reg.registers.club(club_id)
    prepared = reg.members.prepare_member(club, member_code, body, ["body"])
    member_id, outcome = await reg.members.write_member(prepared, club["province_id"])
    reg.runtime.wake_relay()
    _status(response, outcome)
    return CreatedId(id=member_id)


@router.post("/clubs/{club_id}/members:bulk", response_model=BulkResults, tags=["members"])
async def bulk_members(
    club_id: str,
    reg: RegistryDep,
    items: Annotated[
        list[dict[str, Any]],
        Body(description="Up to 5,000 members: each `member_code` plus the fields of the PUT"),
    ],
) -> BulkResults:
    results = await reg.bulk.run(club_id, items)
    reg.runtime.wake_relay()
    return results


@router.get("/clubs/{club_id}/members", response_model=MemberList, tags=["members"])
async def list_members(
    club_id: str, reg: RegistryDep, limit: Limit = 100, cursor: Cursor = None
) -> MemberList:
    await reg.registers.club(club_id)
    found = await reg.members.members(club_id, _after(cursor), limit + 1)
    return MemberList(
        items=[member_view(d) for d in found[:limit]], next_cursor=_next(found, limit)
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
    partial: Annotated[bool, Query(description="Write the good rows even if others fail")] = False,
) -> Any:
    """A CSV (UTF-8) or XLSX file, as the body or the form field `file`."""
    content = await read_upload(request, reg.settings.import_max_bytes)
    result = await reg.imports.run(kind, content, partial)
    reg.runtime.wake_relay()
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
