"""The registry's HTTP routes: units, reference, programmes and targets.

Sites, clubs, members and imports are in `register_api.py`; clients and tokens in
`access_api.py`. Who may call what is decided by the use cases (see `permissions.py`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.registry.access_api import Access
from services.registry.catalogue import ETHNIC_GROUPS, is_ethnic_minority
from services.registry.clubs import RegisterService
from services.registry.config import RegistrySettings
from services.registry.directory import UnitQuery
from services.registry.imports import ImportService
from services.registry.loader import ReferenceLoader
from services.registry.members import BulkMembers, MemberService
from services.registry.problems import invalid
from services.registry.programmes import ProgrammeService
from services.registry.schemas import (
    Classification,
    ClassificationIn,
    CreatedId,
    Ethnicity,
    Link,
    ProgrammeCode,
    ProgrammeIn,
    ReferenceStatus,
    TargetIn,
    TargetPlan,
    UnitDetail,
    UnitList,
    VillageIn,
)
from services.registry.service import UnitService
from shared.auth.http import Caller, current_principal, require_admin
from shared.runtime import ServiceRuntime
from shared.schemas import Programme, ProgrammeList
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
    str,
    Path(
        max_length=60,
        description="A unit id: `vn`, `vn63:06433`, `vn34:20`, `vn63:06433.T05`",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page")]
Cursor = Annotated[
    str | None, Query(max_length=400, description="`next_cursor` of the previous page")
]
AsOf = Annotated[date | None, Query(description="Count members on this day (default: today)")]
ClassificationName = Annotated[
    str, Path(max_length=40, description="`region` or `especially_difficult`")
]
CREATED: dict[int | str, dict[str, Any]] = {201: {"model": CreatedId, "description": "Created"}}


def answer_status(response: Response, outcome: Outcome | bool) -> None:
    """201 for a creation, 200 otherwise."""
    created = outcome if isinstance(outcome, bool) else outcome == Outcome.CREATED
    response.status_code = 201 if created else 200


def after_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error):
        raise invalid(
            "invalid-cursor", "Invalid cursor", "Unknown cursor.", ["query", "cursor"]
        ) from None


def next_cursor(items: list[Any], limit: int) -> str | None:
    if len(items) <= limit:
        return None
    return base64.urlsafe_b64encode(str(items[limit - 1]["_id"]).encode()).decode().rstrip("=")


# --------------------------------------------------------------------- units
@router.get("/units", response_model=UnitList, tags=["units"])
async def list_units(
    reg: RegistryDep,
    level: Literal["nation", "province", "district", "commune", "village"] | None = None,
    parent: Annotated[
        str | None, Query(max_length=60, description="Direct children of this unit")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Name, with or without diacritics; or a code"),
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
async def add_village(
    body: VillageIn, response: Response, reg: RegistryDep, caller: Caller
) -> CreatedId:
    """Add a village (thôn) under a commune; repeating it returns the same id.
    Needs `submitter` for the commune's province."""
    village_id, created = await reg.units.add_village(body, caller)
    answer_status(response, created)
    return CreatedId(id=village_id)


@router.put(
    "/units/{unit_id}/classifications/{name}",
    response_model=Classification,
    tags=["units"],
    responses={201: {"model": Classification}, 409: {"description": "Overlapping period"}},
)
async def put_classification(
    unit_id: UnitPath,
    name: ClassificationName,
    body: ClassificationIn,
    response: Response,
    reg: RegistryDep,
    caller: Caller,
) -> Classification:
    """Add a period, or replace the one starting on the same day; overlaps are refused.
    Needs `submitter` for the unit's province."""
    classification, outcome = await reg.units.put_classification(unit_id, name, body, caller)
    answer_status(response, outcome)
    return classification


@router.delete(
    "/units/{unit_id}/classifications/{name}/{valid_from}",
    response_model=Classification,
    tags=["units"],
)
async def delete_classification(
    unit_id: UnitPath, name: ClassificationName, valid_from: date, reg: RegistryDep, caller: Caller
) -> Classification:
    """Remove the period starting on `valid_from`. Needs `submitter` for the unit's province."""
    return await reg.units.delete_classification(unit_id, name, valid_from, caller)


@router.get("/reference", response_model=ReferenceStatus, tags=["units"])
async def reference_status(reg: RegistryDep, caller: Caller) -> ReferenceStatus:
    """The national reference: units held, and how far storing and publishing got
    (administrators only)."""
    require_admin(caller)
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
        dropped_links=[list(link) for link in status.dropped_links],
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
    code: CodePath, body: ProgrammeIn, response: Response, reg: RegistryDep, caller: Caller
) -> Programme:
    """Programmes are national: administrators only."""
    require_admin(caller)
    programme, created = await reg.programmes.put(code, body)
    answer_status(response, created)
    return programme


@router.get("/programmes", response_model=ProgrammeList, tags=["programmes"])
async def list_programmes(reg: RegistryDep) -> ProgrammeList:
    return ProgrammeList(items=await reg.programmes.all())


@router.get("/programmes/{code}", response_model=Programme, tags=["programmes"])
async def get_programme(code: CodePath, reg: RegistryDep) -> Programme:
    return await reg.programmes.get(code)


@router.put("/programmes/{code}/targets", response_model=TargetPlan, tags=["programmes"])
async def put_targets(
    code: CodePath, body: list[TargetIn], reg: RegistryDep, caller: Caller
) -> TargetPlan:
    """Replace the programme's plan: `[{"indicator", "unit_id", "period", "value"}]`.

    A client replaces the targets on units of its provinces (every target sent must be
    on one, else 403) and the others stay; with national scope, the whole plan. The
    answer is the plan as the client may read it."""
    return await reg.programmes.put_targets(code, body, caller)


@router.get("/programmes/{code}/targets", response_model=TargetPlan, tags=["programmes"])
async def get_targets(code: CodePath, reg: RegistryDep, caller: Caller) -> TargetPlan:
    """The plan's targets on units of the caller's provinces (national scope: all)."""
    return await reg.programmes.targets(code, caller)
