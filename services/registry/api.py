"""The registry's HTTP routes: units, reference, programmes and targets.

Sites, clubs, members and imports are in `register_api.py`; clients and tokens in
`access_api.py`; what routes depend on in `deps.py`. Who may call what is decided by
the use cases (see `permissions.py`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from services.registry.deps import (
    CREATED,
    Caller,
    CodePath,
    Cursor,
    Limit,
    RegistryDep,
    UnitPath,
    answer_status,
)
from services.registry.directory import UnitQuery
from services.registry.schemas import (
    Classification,
    ClassificationIn,
    CreatedId,
    Ethnicity,
    Link,
    ProgrammeIn,
    ReferenceStatus,
    TargetIn,
    TargetPlan,
    UnitDetail,
    UnitList,
    VillageIn,
)
from services.registry.vocabularies import ETHNIC_GROUPS, is_ethnic_minority
from shared.auth.http import current_principal
from shared.edge.authorization import require_admin
from shared.schemas import Programme, ProgrammeList

# Every `/v1` route needs a valid access token (401 otherwise).
router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])

ClassificationName = Annotated[
    str, Path(max_length=40, description="`region` or `especially_difficult`")
]


# --------------------------------------------------------------------- units
@router.get("/units", response_model=UnitList, tags=["units"], summary="List units")
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
    """Units of both editions: filtered by level, parent, name (`q`, with or without
    diacritics: `van nham` finds `Vân Nham`), the day they were in force and the
    edition; ordered by edition, level and id."""
    query = UnitQuery(level=level, parent=parent, q=q, as_of=as_of, edition=edition)
    return reg.units.find(query, cursor, limit)


@router.get(
    "/units/{unit_id}",
    response_model=UnitDetail,
    tags=["units"],
    summary="One unit",
    responses={404: {"description": "No such unit (`unknown-unit`)"}},
)
async def get_unit(unit_id: UnitPath, reg: RegistryDep) -> UnitDetail:
    """One unit with its classification periods."""
    return await reg.units.get(unit_id)


@router.get(
    "/units/{unit_id}/successors",
    response_model=list[Link],
    tags=["units"],
    summary="Where an old unit went",
)
async def successors(unit_id: UnitPath, reg: RegistryDep) -> list[Link]:
    """Where a vn63 unit went on 2025-07-01, with the share each vn34 unit received."""
    return [Link(unit_id=u, share=s) for u, s in reg.units.successors(unit_id)]


@router.get(
    "/units/{unit_id}/predecessors",
    response_model=list[Link],
    tags=["units"],
    summary="Which old units a unit was formed from",
)
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


@router.post(
    "/units", response_model=CreatedId, tags=["units"], responses=CREATED, summary="Add a village"
)
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
    summary="Set a classification period of a unit",
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
    summary="Remove a classification period",
)
async def delete_classification(
    unit_id: UnitPath, name: ClassificationName, valid_from: date, reg: RegistryDep, caller: Caller
) -> Classification:
    """Remove the period starting on `valid_from`. Needs `submitter` for the unit's province."""
    return await reg.units.delete_classification(unit_id, name, valid_from, caller)


@router.get(
    "/reference", response_model=ReferenceStatus, tags=["units"], summary="The national reference"
)
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


@router.get(
    "/ethnicities", response_model=list[Ethnicity], tags=["members"], summary="Ethnic groups"
)
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


@router.get(
    "/programmes", response_model=ProgrammeList, tags=["programmes"], summary="List programmes"
)
async def list_programmes(reg: RegistryDep) -> ProgrammeList:
    """Every programme (`P8`, `SFES`, `CLC` are seeded) with its Vietnamese name."""
    return ProgrammeList(items=await reg.programmes.all())


@router.get(
    "/programmes/{code}",
    response_model=Programme,
    tags=["programmes"],
    summary="One programme",
    responses={404: {"description": "No such programme (`unknown-programme`)"}},
)
async def get_programme(code: CodePath, reg: RegistryDep) -> Programme:
    """One programme by its code."""
    return await reg.programmes.get(code)


@router.put(
    "/programmes/{code}/targets",
    response_model=TargetPlan,
    tags=["programmes"],
    summary="Replace a programme's targets",
)
async def put_targets(
    code: CodePath, body: list[TargetIn], reg: RegistryDep, caller: Caller
) -> TargetPlan:
    """Replace the programme's plan: `[{"indicator", "unit_id", "period", "value"}]`.

    A client replaces the targets on units of its provinces (every target sent must be
    on one, else 403) and the others stay; with national scope, the whole plan. The
    answer is the plan as the client may read it."""
    return await reg.programmes.put_targets(code, body, caller)


@router.get(
    "/programmes/{code}/targets",
    response_model=TargetPlan,
    tags=["programmes"],
    summary="A programme's targets",
)
async def get_targets(code: CodePath, reg: RegistryDep, caller: Caller) -> TargetPlan:
    """The plan's targets on units of the caller's provinces (national scope: all)."""
    return await reg.programmes.targets(code, caller)
