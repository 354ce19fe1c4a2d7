"""The reporting service's HTTP routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.reporting import exports
from services.reporting.dashboard import DASHBOARD_HTML
from services.reporting.schemas import (
    CompletenessReport,
    DeadLetter,
    DeadLetterList,
    IndicatorCatalogue,
    IndicatorInfo,
    IndicatorValues,
    RebuildState,
    ReportingStatus,
    Summary,
    TargetRow,
)
from services.reporting.service import ReportingService
from shared.auth.http import Caller, current_principal
from shared.http import Problem
from shared.schemas import ProgrammeList

# Every `/v1` route needs a valid access token (401 otherwise).
router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])
pages = APIRouter()


def reporting(request: Request) -> ReportingService:
    found: ReportingService = request.app.state.service
    return found


ReportingDep = Annotated[ReportingService, Depends(reporting)]
# Every query parameter is bounded; values are only ever compared literally (unit
# ids against the in-memory unit index, periods parsed, codes looked up), and a
# programme must look like a programme code, so nothing a client sends can become
# a MongoDB operator or widen a query.
MAX_ID = 64
PROGRAMME_CODE = r"^[A-Z][A-Z0-9_]{0,19}$"  # as in the activity contract
StructureQuery = Annotated[
    Literal["as_was", "vn34"],
    Query(description="as_was: the units in force then; vn34: restated onto today's units"),
]
PeriodQuery = Annotated[
    str,
    Query(
        max_length=40,
        description="2023, 2023H1, 2023Q4, 2023-11, SY2017-2018 or 2021-01-01..2025-12-31",
    ),
]
ByQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        description="comma list of sex, ethnic_minority, kind, child_unit, month, grade",
    ),
]
UnitQuery = Annotated[
    str, Query(max_length=MAX_ID, description="a unit id (vn63:20, vn34:06440, …) or vn")
]
ProgrammeQuery = Annotated[
    str | None,
    Query(pattern=PROGRAMME_CODE, description="a programme code (P8, SFES, CLC…)"),
]
LevelQuery = Annotated[
    str | None,
    Query(
        max_length=20,
        description="province, district, commune or village (default: the level just "
        "below `parent`)",
    ),
]
ParentQuery = Annotated[str, Query(max_length=MAX_ID, description="a unit id or vn")]
IndicatorCode = Annotated[str, Path(max_length=MAX_ID)]


@router.get("/status", response_model=ReportingStatus, tags=["operations"])
async def status(service: ReportingDep, caller: Caller) -> ReportingStatus:
    """Per stream: last sequence applied, pending messages (from the consumer info),
    `freshness_ms` (event time → applied), `age_ms` (now minus the newest applied event's time),
    dead letters; the active generation and the progress of the last rebuild. Admins only."""
    return await service.status(caller)


@router.get("/programmes", response_model=ProgrammeList, tags=["reference"])
async def programmes(service: ReportingDep) -> ProgrammeList:
    """The programmes as the read model holds them."""
    return ProgrammeList(items=await service.programmes())


@router.get("/indicators", response_model=IndicatorCatalogue, tags=["indicators"])
async def indicators(service: ReportingDep) -> IndicatorCatalogue:
    """The catalogue: code, names, measure, disaggregations and the written definition."""
    items = [IndicatorInfo.model_validate(item) for item in service.catalogue()]
    return IndicatorCatalogue(items=items)


@router.get("/indicators/{code}/values", response_model=IndicatorValues, tags=["indicators"])
async def indicator_values(
    service: ReportingDep,
    caller: Caller,
    code: IndicatorCode,
    unit_id: UnitQuery,
    period: PeriodQuery,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
) -> dict[str, Any]:
    """Values of one indicator for a unit (and everything below it) and a period.
    Needs `viewer` for the unit's province (national scope for `vn`)."""
    return await service.indicator_values(caller, code, unit_id, period, by, programme, structure)


@router.get("/reports/summary", response_model=Summary, tags=["reports"])
async def summary(
    service: ReportingDep,
    caller: Caller,
    unit_id: UnitQuery,
    period: PeriodQuery,
    structure: StructureQuery = "as_was",
    programme: ProgrammeQuery = None,
) -> dict[str, Any]:
    """Every indicator's total for a unit and period, with the sex split where it exists.
    Needs `viewer` for the unit's province (national scope for `vn`)."""
    return await service.summary(caller, unit_id, period, structure, programme)


@router.get("/reports/targets", response_model=list[TargetRow], tags=["reports"])
async def targets(
    service: ReportingDep,
    caller: Caller,
    programme: Annotated[str, Query(pattern=PROGRAMME_CODE)],
    unit_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    period: Annotated[str | None, Query(max_length=40)] = None,
) -> list[dict[str, Any]]:
    """Plan against actual per indicator, unit and period of a programme's targets:
    `[{indicator, unit_id, period, target, actual, achieved_pct}]`.
    With `unit_id`: needs `viewer` for its province; without: only the targets on units
    of the caller's provinces (all of them with national scope)."""
    return await service.targets(caller, programme, unit_id, period)


@router.get("/reports/completeness", response_model=CompletenessReport, tags=["reports"])
async def completeness(
    service: ReportingDep,
    caller: Caller,
    period: PeriodQuery,
    level: LevelQuery = None,
    parent: ParentQuery = "vn",
) -> dict[str, Any]:
    """Which units at `level` below `parent` reported any activity in the period.
    Needs `viewer` for the parent's province (national scope for `vn`, the default)."""
    return await service.completeness(caller, period, level, parent)


def _required(values: dict[str, str | None], *names: str) -> dict[str, str]:
    missing = [name for name in names if not values.get(name)]
    if missing:
        raise Problem(
            422,
            "validation",
            "Invalid request",
            f"This export needs {', '.join(missing)}.",
            errors=[{"loc": ["query", name], "msg": "Field required"} for name in missing],
        )
    return {name: str(values[name]) for name in names}


@router.get(
    "/exports/{report}.{extension}",
    tags=["exports"],
    response_class=Response,
    responses={200: {"content": {exports.CSV_MEDIA_TYPE: {}, exports.XLSX_MEDIA_TYPE: {}}}},
)
async def export(
    service: ReportingDep,
    caller: Caller,
    report: Literal["indicators", "summary", "targets", "completeness"],
    extension: Literal["csv", "xlsx"],
    indicator: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    unit_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    period: Annotated[str | None, Query(max_length=40)] = None,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
    level: Annotated[str | None, Query(max_length=20)] = None,
    parent: ParentQuery = "vn",
) -> Response:
    """The same rows as the JSON report, with Vietnamese headers (CSV in UTF-8 with BOM);
    the same access rules as the JSON report."""
    given = {
        "indicator": indicator,
        "unit_id": unit_id,
        "period": period,
        "level": level,
        "programme": programme,
    }
    if report == "indicators":
        need = _required(given, "indicator", "unit_id", "period")
        body = await service.indicator_values(
            caller, need["indicator"], need["unit_id"], need["period"], by, programme, structure
        )
        table = exports.indicator_table(body)
    elif report == "summary":
        need = _required(given, "unit_id", "period")
        body = await service.summary(caller, need["unit_id"], need["period"], structure, programme)
        table = exports.summary_table(body)
    elif report == "targets":
        need = _required(given, "programme")
        rows = await service.targets(caller, need["programme"], unit_id, period)
        table = exports.targets_table(need["programme"], rows)
    else:
        need = _required(given, "period")
        body = await service.completeness(caller, need["period"], level, parent)
        table = exports.completeness_table(body)
    if extension == "csv":
        content, media_type = exports.to_csv(table), exports.CSV_MEDIA_TYPE
    else:
        content, media_type = exports.to_xlsx(table), exports.XLSX_MEDIA_TYPE
    name = exports.file_name(table, extension)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/dead-letters", response_model=DeadLetterList, tags=["operations"])
async def dead_letters(
    service: ReportingDep,
    caller: Caller,
    status: Literal["failed", "retried"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeadLetterList:
    """Messages that could not be applied, with their error (`id` is `STREAM:sequence`).
    Admins only."""
    items, next_cursor = await service.dead_letters(caller, status, limit, cursor)
    return DeadLetterList(
        items=[DeadLetter.model_validate(item) for item in items], next_cursor=next_cursor
    )


@router.post(
    "/dead-letters/{letter_id}/retry",
    response_model=DeadLetter,
    tags=["operations"],
    responses={404: {"description": "No such dead letter"}, 409: {"description": "Still failing"}},
)
async def retry_dead_letter(
    service: ReportingDep, caller: Caller, letter_id: Annotated[str, Path(max_length=100)]
) -> DeadLetter:
    """Apply a dead-lettered message again: 200 with `status: retried` when it applied,
    409 `retry-failed` with the new error when it still cannot be applied. Admins only;
    takes no body."""
    return DeadLetter.model_validate(await service.retry_dead_letter(caller, letter_id))


@router.post(
    "/admin/rebuild",
    response_model=RebuildState,
    status_code=202,
    tags=["operations"],
    responses={409: {"description": "A rebuild is already running"}},
)
async def rebuild(service: ReportingDep, caller: Caller) -> RebuildState:
    """Replay both streams from sequence 1 into a new generation of read models while
    queries keep answering from the current one, then switch; follow it in /v1/status.
    Admins only; takes no body."""
    return RebuildState.model_validate(await service.start_rebuild(caller))


@pages.get("/dashboard", response_class=HTMLResponse, tags=["dashboard"])
async def dashboard() -> HTMLResponse:
    """A small self-contained page showing headline figures with their sex split."""
    return HTMLResponse(DASHBOARD_HTML)
