"""The reporting service's HTTP routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from services.reporting import exports
from services.reporting.adx import ADX_MEDIA_TYPE
from services.reporting.dashboard import dashboard_headers, dashboard_page, static_file
from services.reporting.schemas import (
    Analytics,
    ApprovalsReport,
    CentroidList,
    CompletenessReport,
    DeadLetter,
    DeadLetterList,
    Freshness,
    IndicatorCatalogue,
    IndicatorInfo,
    IndicatorValues,
    PeriodsEcho,
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
PERIODS = (
    "2023, 2023H1, 2023Q4, 2023-11, SY2017-2018 or 2021-01-01..2025-12-31, or a relative "
    "period: THIS_YEAR, LAST_YEAR, THIS_SCHOOL_YEAR, LAST_SCHOOL_YEAR, THIS_QUARTER, "
    "LAST_QUARTER, LAST_4_QUARTERS, THIS_MONTH, LAST_MONTH, LAST_12_MONTHS (resolved on "
    "today's date in Vietnam)"
)
PeriodQuery = Annotated[str, Query(max_length=40, description=PERIODS)]
PeriodListQuery = Annotated[
    str, Query(max_length=400, description=f"A comma list of periods: {PERIODS}")
]
ByQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="comma list of sex, ethnic_minority, kind, grade, child_unit, "
        "level:province, level:district, level:commune, month, quarter, year, school_year "
        "(as far as the indicator has them; one split by unit at a time)",
    ),
]
UnitQuery = Annotated[
    str, Query(max_length=MAX_ID, description="a unit id (vn63:20, vn34:06440, …) or vn")
]
UnitListQuery = Annotated[
    str,
    Query(
        max_length=1000,
        description="a unit id (vn63:20, vn34:06440, …, or vn), or a comma list of up to 50",
    ),
]
IndicatorListQuery = Annotated[
    str, Query(max_length=800, description="an indicator code, or a comma list of them")
]
LocaleQuery = Annotated[
    Literal["en", "vi"],
    Query(description="CSV only: vi separates fields with `;` and writes decimal commas"),
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
ApprovalQuery = Annotated[
    str | None,
    Query(
        max_length=20,
        description="all (default): every submitted activity counts; approved: only data "
        "approved for its programme — an activity counts when an approval record in state "
        "approved or accepted covers its date (the record's period) and its unit (the "
        "record's unit or one above it); clubs and members count when their club's unit "
        "is covered on the period's last day. Any other value is a 422 naming these two.",
        openapi_examples={
            "all": {"summary": "all submitted data (default)", "value": "all"},
            "approved": {"summary": "approved data only", "value": "approved"},
        },
    ),
]
RequiredProgrammeQuery = Annotated[
    str,
    Query(
        pattern=PROGRAMME_CODE,
        description="a programme code (P8, SFES, CLC…)",
        openapi_examples={"P8": {"summary": "Dự án 8", "value": "P8"}},
    ),
]
IndicatorCode = Annotated[str, Path(max_length=MAX_ID)]


def only(*names: str) -> Any:
    """Refuses query parameters the route does not take (422 naming them), so that a
    misspelt or unsupported one is never silently ignored."""
    allowed = frozenset(names)

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            hint = " (a split by level is by=level:commune)" if "level" in unknown else ""
            raise Problem(
                422,
                "validation",
                "Unknown parameter",
                f"Unknown parameter {', '.join(unknown)}; this endpoint takes "
                f"{', '.join(sorted(allowed))}.{hint}",
                errors=[{"loc": ["query", name], "msg": "Unknown parameter"} for name in unknown],
            )

    return Depends(check)


QUERY_PARAMETERS = ("unit_id", "period", "by", "programme", "structure", "approval")
ANALYTICS_PARAMETERS = ("indicator", *QUERY_PARAMETERS)


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


@router.get(
    "/indicators/{code}/values",
    response_model=IndicatorValues,
    tags=["indicators"],
    dependencies=[only(*QUERY_PARAMETERS)],
)
async def indicator_values(
    service: ReportingDep,
    caller: Caller,
    code: IndicatorCode,
    unit_id: UnitListQuery,
    period: PeriodListQuery,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
    approval: ApprovalQuery = None,
) -> dict[str, Any]:
    """Values of one indicator for a unit (and everything below it) and a period; with
    comma lists or a relative period standing for several, for each unit and period.
    Needs `viewer` for each unit's province (national scope for `vn`). With
    `approval=approved`, only approved data counts (echoed as `approval`)."""
    return await service.queries.indicator_values(
        caller, code, unit_id, period, by, programme, structure, approval
    )


@router.get(
    "/analytics",
    response_model=Analytics,
    tags=["indicators"],
    dependencies=[only(*ANALYTICS_PARAMETERS)],
)
async def analytics(
    service: ReportingDep,
    caller: Caller,
    indicator: IndicatorListQuery,
    unit_id: UnitListQuery,
    period: PeriodListQuery,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
    approval: ApprovalQuery = None,
) -> dict[str, Any]:
    """Several indicators, units and periods in one answer, as DHIS2's analytics API
    gives them: one row per indicator, unit, period and combination of the `by`
    dimensions. Relative periods are resolved on today's date in Vietnam and echoed.
    Needs `viewer` for each unit's province (national scope for `vn`). With
    `approval=approved`, only approved data counts (echoed as `approval`)."""
    return await service.queries.analytics(
        caller, indicator, unit_id, period, by, programme, structure, approval
    )


@router.get("/periods", response_model=PeriodsEcho, tags=["indicators"])
async def periods(service: ReportingDep, period: PeriodListQuery) -> dict[str, Any]:
    """What a period list stands for today (relative periods resolved on today's date in
    Vietnam), without computing anything: each period with its first and last day."""
    return service.queries.periods_echo(period)


@router.get("/reports/summary", response_model=Summary, tags=["reports"])
async def summary(
    service: ReportingDep,
    caller: Caller,
    unit_id: UnitQuery,
    period: PeriodQuery,
    structure: StructureQuery = "as_was",
    programme: ProgrammeQuery = None,
    approval: ApprovalQuery = None,
) -> dict[str, Any]:
    """Every indicator's total for a unit and period, with the sex split where it exists.
    Needs `viewer` for the unit's province (national scope for `vn`). With
    `approval=approved`, only approved data counts (echoed as `approval`)."""
    return await service.summary(caller, unit_id, period, structure, programme, approval)


@router.get("/reports/targets", response_model=list[TargetRow], tags=["reports"])
async def targets(
    service: ReportingDep,
    caller: Caller,
    programme: ProgrammeQuery = None,
    unit_id: Annotated[str | None, Query(max_length=MAX_ID)] = None,
    period: Annotated[str | None, Query(max_length=40)] = None,
    include_below: Annotated[
        bool, Query(description="with unit_id: also the targets on units below it")
    ] = False,
    approval: ApprovalQuery = None,
) -> list[dict[str, Any]]:
    """Plan against actual per indicator, unit and period of a programme's targets
    (every programme's without `programme`): `[{programme, indicator, unit_id,
    unit_name, period, target, actual, achieved_pct}]`.
    With `unit_id`: needs `viewer` for its province; without: only the targets on units
    of the caller's provinces (all of them with national scope). With
    `approval=approved`, `actual` counts approved data only."""
    return await service.targets(caller, programme, unit_id, period, include_below, approval)


@router.get("/reports/completeness", response_model=CompletenessReport, tags=["reports"])
async def completeness(
    service: ReportingDep,
    caller: Caller,
    period: PeriodQuery,
    level: LevelQuery = None,
    parent: ParentQuery = "vn",
    programme: Annotated[
        str | None,
        Query(
            pattern=PROGRAMME_CODE,
            description="count this programme's activities and approvals only (default: "
            "every programme's; a unit then counts as approved when approved for any one)",
        ),
    ] = None,
) -> dict[str, Any]:
    """Which units at `level` below `parent` reported any activity in the period, and
    which have their data for the whole period approved (`approved` per item: a record
    on the unit or above it in state approved or accepted; `approved`, `approved_rate`
    and `approved_rate_pct` in total). Needs `viewer` for the parent's province
    (national scope for `vn`, the default)."""
    return await service.completeness(caller, period, level, parent, programme)


@router.get(
    "/reports/approvals",
    response_model=ApprovalsReport,
    tags=["reports"],
    dependencies=[only("programme", "period", "unit_id", "level")],
)
async def approvals(
    service: ReportingDep,
    caller: Caller,
    programme: RequiredProgrammeQuery,
    period: Annotated[
        str,
        Query(
            max_length=40,
            description=f"the approval period: {PERIODS}",
            openapi_examples={"H1": {"summary": "first half of 2023", "value": "2023H1"}},
        ),
    ],
    unit_id: Annotated[
        str,
        Query(
            max_length=MAX_ID,
            description="the unit whose units are listed (a unit id or vn)",
            openapi_examples={"district": {"summary": "Huyện Hữu Lũng", "value": "vn63:186"}},
        ),
    ] = "vn",
    level: LevelQuery = None,
) -> dict[str, Any]:
    """Where the approval of a programme's period stands for each unit at `level` below
    `unit_id` (its children by default): `state` (open when nothing was submitted),
    `path`, `last_step` (action, state, by, at), `data_approved`, `locked`, `has_data`
    and `activities` (of the programme, in the period), the `deadline` (from the
    deadlines file) and `overdue` (past the deadline, on today's date in Vietnam,
    without a submission: flagged, never blocked); counts per state in `states`.
    Needs `viewer` for the unit's province (national scope for `vn`)."""
    return await service.approvals(caller, programme, period, unit_id, level)


@router.get(
    "/exports/dataValueSets.json",
    tags=["exports"],
    dependencies=[only(*ANALYTICS_PARAMETERS)],
    responses={200: {"description": "DHIS2 dataValueSets"}},
)
async def data_value_sets(
    service: ReportingDep,
    caller: Caller,
    indicator: IndicatorListQuery,
    unit_id: UnitListQuery,
    period: PeriodListQuery,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
    approval: ApprovalQuery = None,
) -> dict[str, Any]:
    """The analytics answer (same parameters) in DHIS2's `dataValueSets` shape:
    `{"dataSet", "dataValues": [{"dataElement", "period", "orgUnit",
    "categoryOptionCombo", "attributeOptionCombo"?, "value"}]}`, with periods as DHIS2
    ids (`2023`, `2023S1`, `2023Q1`, `202301`, `2023July` for school year 2023-2024) and
    identifiers from the mapping file (docs/reporting.md). 422 `unmapped` for what the
    mapping lacks, 422 for a range (DHIS2 has no period id for it)."""
    return await service.queries.data_value_sets(
        caller, indicator, unit_id, period, by, programme, structure, approval
    )


@router.get(
    "/exports/adx",
    tags=["exports"],
    dependencies=[only(*ANALYTICS_PARAMETERS)],
    response_class=Response,
    responses={200: {"content": {ADX_MEDIA_TYPE: {}}, "description": "An ADX 1.0 message"}},
)
async def adx(
    service: ReportingDep,
    caller: Caller,
    indicator: IndicatorListQuery,
    unit_id: UnitListQuery,
    period: PeriodListQuery,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
    approval: ApprovalQuery = None,
) -> Response:
    """The analytics answer (same parameters) as an ADX 1.0 message (namespace
    `urn:ihe:qrph:adx:2015`): one `group` per org unit and period, `dataValue`s with the
    disaggregations as attributes, codes from the mapping file."""
    body = await service.queries.adx(
        caller, indicator, unit_id, period, by, programme, structure, approval
    )
    return Response(
        body,
        media_type=ADX_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="bdg-adx.xml"'},
    )


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
    dependencies=[only(*ANALYTICS_PARAMETERS, "level", "parent", "include_below", "locale")],
    response_class=Response,
    responses={200: {"content": {exports.CSV_MEDIA_TYPE: {}, exports.XLSX_MEDIA_TYPE: {}}}},
)
async def export(
    service: ReportingDep,
    caller: Caller,
    report: Literal["indicators", "analytics", "summary", "targets", "completeness", "approvals"],
    extension: Literal["csv", "xlsx"],
    indicator: Annotated[str | None, Query(max_length=800)] = None,
    unit_id: Annotated[str | None, Query(max_length=1000)] = None,
    period: Annotated[str | None, Query(max_length=400)] = None,
    by: ByQuery = None,
    programme: ProgrammeQuery = None,
    structure: StructureQuery = "as_was",
    level: Annotated[str | None, Query(max_length=20)] = None,
    parent: ParentQuery = "vn",
    include_below: bool = False,
    locale: LocaleQuery = "en",
    approval: ApprovalQuery = None,
) -> Response:
    """The same rows as the JSON report, with Vietnamese headers, unit and period
    columns, units of measure in Vietnamese (CSV in UTF-8 with BOM; XLSX with a title
    row, a frozen header and number formats); the same access rules as the JSON
    report. `analytics` takes the parameters of GET /v1/analytics, `indicators` those of
    the values endpoint plus `indicator`; `approvals` those of GET /v1/reports/approvals
    (`programme`, `period`, `unit_id`, `level`). `approval=approved` limits the figures
    of indicators, analytics, summary and targets to approved data."""
    given = {
        "indicator": indicator,
        "unit_id": unit_id,
        "period": period,
        "level": level,
        "programme": programme,
    }
    table: exports.Table
    if report in ("indicators", "analytics"):
        need = _required(given, "indicator", "unit_id", "period")
        if report == "indicators":
            chosen = service.queries.indicators(need["indicator"])
            if len(chosen) > 1:
                raise Problem(
                    422,
                    "validation",
                    "One indicator",
                    "The indicators export takes one indicator; analytics.csv or "
                    "analytics.xlsx take several.",
                    errors=[{"loc": ["query", "indicator"], "msg": "One indicator"}],
                )
            body = await service.queries.indicator_values(
                caller,
                chosen[0].code,
                need["unit_id"],
                need["period"],
                by,
                programme,
                structure,
                approval,
            )
            table = exports.indicator_table(body)
        else:
            body = await service.queries.analytics(
                caller,
                need["indicator"],
                need["unit_id"],
                need["period"],
                by,
                programme,
                structure,
                approval,
            )
            table = exports.analytics_table(body)
    elif report == "summary":
        need = _required(given, "unit_id", "period")
        body = await service.summary(
            caller, need["unit_id"], need["period"], structure, programme, approval
        )
        table = exports.summary_table(body)
    elif report == "targets":
        rows = await service.targets(caller, programme, unit_id, period, include_below, approval)
        table = exports.targets_table(programme, rows)
    elif report == "approvals":
        need = _required(given, "programme", "period")
        body = await service.approvals(
            caller, need["programme"], need["period"], unit_id or "vn", level
        )
        table = exports.approvals_table(body)
    else:
        need = _required(given, "period")
        body = await service.completeness(caller, need["period"], level, parent, programme)
        table = exports.completeness_table(body)
    if extension == "csv":
        content, media_type = exports.to_csv(table, locale), exports.CSV_MEDIA_TYPE
    else:
        content, media_type = exports.to_xlsx(table), exports.XLSX_MEDIA_TYPE
    name = exports.file_name(table, extension)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/geo/centroids", response_model=CentroidList, tags=["reference"])
async def centroids(
    service: ReportingDep,
    caller: Caller,
    unit_id: Annotated[
        str,
        Query(
            max_length=8_000,
            pattern=r"^[A-Za-z0-9:.,_-]+$",
            description="a comma list of up to 500 unit ids",
        ),
    ],
) -> dict[str, Any]:
    """Map points (latitude, longitude) of units, from the `vietnamadminunits` package:
    a village has its commune's point; `lat`/`lon` are null where the package has none
    (`vn`, a unit it does not know). Any client with a reading role."""
    return await service.queries.centroids(caller, unit_id)


@router.get("/freshness", response_model=Freshness, tags=["operations"])
async def freshness(service: ReportingDep, caller: Caller) -> dict[str, Any]:
    """How recent the figures are: per stream, the time of the newest event applied,
    its age and what is still pending. Any client with a reading role (the details of
    /v1/status are for admins)."""
    return await service.freshness(caller)


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
async def dashboard(request: Request) -> HTMLResponse:
    """The dashboard: cards, charts, a map and downloads for a unit and a period, in
    Vietnamese or English. It signs in at the registry itself (client id and secret, or
    an access token in the URL fragment `#token=`) and calls this API with the token;
    a view is shared by its URL (`/dashboard?unit_id=…&period=…`)."""
    settings = request.app.state.runtime.settings
    registry = getattr(settings, "registry_public_url", None)
    return HTMLResponse(dashboard_page(registry), headers=dashboard_headers(registry))


@pages.get("/dashboard/static/{name:path}", include_in_schema=False)
async def dashboard_static(name: str) -> FileResponse:
    found = static_file(name)
    if found is None:
        raise Problem(404, "not-found", "Not found", f"No dashboard file {name!r}.")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})
