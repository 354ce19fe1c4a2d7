"""Response bodies of the reporting service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, Field

from shared.status import ServiceStatus

Number = int | float


class IndicatorInfo(BaseModel):
    code: str
    name: str
    name_vi: str
    measure: str
    measure_vi: str = Field(description="The unit of measure in Vietnamese (Đơn vị tính)")
    kind: str = Field(description="flow (summed over the period) or stock (at its end)")
    disaggregations: list[str]
    definition: str


class IndicatorCatalogue(BaseModel):
    items: list[IndicatorInfo]
    next_cursor: str | None = None


class AskedPeriod(BaseModel):
    period: str = Field(description="The period's key (2023Q4, 2023-11, SY2023-2024, …)")
    kind: str
    start: date
    end: date
    asked: str = Field(description="What the request said: the period, or a relative period")


class PeriodsEcho(BaseModel):
    periods: list[AskedPeriod]
    relative_periods: dict[str, list[str]] = Field(
        description="Each relative period asked and the periods it resolved to"
    )
    resolved_on: date = Field(description="Today's date in Vietnam, on which they resolved")
    time_zone: str


class Total(BaseModel):
    indicator: str
    unit_id: str
    period: str
    value: Number


class IndicatorValues(PeriodsEcho):
    """`rows` hold one entry per combination of the `by` dimensions (zeros included):
    `unit_id` and `unit_name` for `child_unit` or `level:…`, then `sex`,
    `ethnic_minority`, `kind`, `grade`, `month`, `quarter`, `year`, `school_year` as
    asked, and `value`. With one unit and one period, `total` is the sum of the rows;
    with several (comma lists, relative periods standing for several), each row also
    carries its `period` and its unit (`unit_id`/`unit_name`, or `within_unit_id` when
    the rows are split by unit), `total` is null and `totals` has one per unit and
    period."""

    indicator: str
    unit_id: str = Field(description="The unit asked, or the comma list of units asked")
    unit_name: str | None
    period: str = Field(description="The period's key, or the comma list of period keys")
    structure: str
    programme: str | None
    approval: str = Field(
        default="all", description="all: every submitted activity; approved: approved data only"
    )
    by: list[str]
    rows: list[dict[str, Any]]
    total: Number | None
    totals: list[Total]
    as_of: datetime


class AnalyticsUnit(BaseModel):
    unit_id: str
    unit_name: str | None


class Analytics(PeriodsEcho):
    """One row per indicator, unit, period and combination of the `by` dimensions
    (zeros included): `indicator`, `unit_id`, `unit_name`, `period`, the dimensions
    named as in `by`, and `value`. Split by `child_unit` or `level:…`, `unit_id` and
    `unit_name` are the split unit's and `within_unit_id` is the unit asked. `totals`
    has each indicator's total per unit and period (the sum of its rows)."""

    indicators: list[str]
    units: list[AnalyticsUnit]
    structure: str
    programme: str | None
    approval: str = Field(
        default="all", description="all: every submitted activity; approved: approved data only"
    )
    by: list[str]
    rows: list[dict[str, Any]]
    totals: list[Total]
    as_of: datetime


class SummaryItem(BaseModel):
    indicator: str
    name: str
    name_vi: str
    measure: str
    measure_vi: str
    value: Number
    female: Number | None = None
    male: Number | None = None
    sex_unknown: Number | None = Field(
        default=None, description="People counted without their sex (children supported)"
    )


class Summary(BaseModel):
    unit_id: str
    unit_name: str | None
    period: str
    structure: str
    programme: str | None
    approval: str = Field(
        default="all", description="all: every submitted activity; approved: approved data only"
    )
    items: list[SummaryItem]
    as_of: datetime


class TargetRow(BaseModel):
    programme: str
    indicator: str
    unit_id: str
    unit_name: str | None
    period: str
    target: Number
    actual: Number | None
    achieved_pct: float | None


class CompletenessItem(BaseModel):
    unit_id: str
    name: str | None
    reported: bool
    activities: int
    approved: bool = Field(
        description="Its data for the whole period is approved: records in state approved "
        "or accepted on it or above it cover every day"
    )


class CompletenessReport(BaseModel):
    parent: str
    level: str
    period: str
    programme: str | None = None
    items: list[CompletenessItem]
    units: int
    reported: int
    rate: float | None = Field(description="reported / units, from 0 to 1")
    rate_pct: float | None
    approved: int = Field(description="Units whose data for the period is approved")
    approved_rate: float | None = Field(description="approved / units, from 0 to 1")
    approved_rate_pct: float | None
    as_of: datetime


class ApprovalStepInfo(BaseModel):
    action: str = Field(description="submit, approve, accept or reopen")
    state: str = Field(description="The state it led to")
    by: str
    at: datetime
    reason: str | None = None


class ApprovalItem(BaseModel):
    unit_id: str
    name: str | None
    level: str
    state: str = Field(
        description="open, submitted, approved or accepted (open: no record, or reopened)"
    )
    path: list[str] | None = Field(description="The states this unit's record goes through")
    last_step: ApprovalStepInfo | None
    data_approved: bool = Field(
        description="Its data for the period is approved (its record or one above it)"
    )
    locked: bool = Field(description="A lock on it or above it holds the whole period")
    has_data: bool = Field(description="Activities of the programme dated in the period")
    activities: int
    deadline: date | None = Field(description="The day by which the unit reports")
    overdue: bool = Field(
        description="Past the deadline (today in Vietnam) and not submitted: flagged only"
    )


class ApprovalsReport(BaseModel):
    """The approval state of a programme's period for each unit at `level` below
    `unit_id`."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "programme": "P8",
                    "period": "2023H1",
                    "unit_id": "vn63:186",
                    "unit_name": "Huyện Hữu Lũng",
                    "level": "commune",
                    "deadline": "2023-09-15",
                    "today": "2023-09-20",
                    "time_zone": "Asia/Ho_Chi_Minh",
                    "items": [
                        {
                            "unit_id": "vn63:06433",
                            "name": "Xã Vân Nham",
                            "level": "commune",
                            "state": "approved",
                            "path": ["open", "submitted", "approved", "accepted"],
                            "last_step": {
                                "action": "approve",
                                "state": "approved",
                                "by": "huuluong-district",
                                "at": "2023-09-02T09:30:00+07:00",
                                "reason": None,
                            },
                            "data_approved": True,
                            "locked": True,
                            "has_data": True,
                            "activities": 12,
                            "deadline": "2023-09-15",
                            "overdue": False,
                        }
                    ],
                    "units": 1,
                    "states": {"open": 0, "submitted": 0, "approved": 1, "accepted": 0},
                    "data_approved": 1,
                    "overdue": 0,
                    "as_of": "2023-09-20T03:00:00Z",
                }
            ]
        }
    }

    programme: str
    period: str
    unit_id: str
    unit_name: str | None
    level: str
    deadline: date | None
    today: date = Field(description="Today's date in Vietnam, against which `overdue` is judged")
    time_zone: str
    items: list[ApprovalItem]
    units: int
    states: dict[str, int] = Field(description="How many units are in each state")
    data_approved: int
    overdue: int
    as_of: datetime


class Centroid(BaseModel):
    unit_id: str
    unit_name: str | None
    level: str | None
    lat: float | None
    lon: float | None


class CentroidList(BaseModel):
    items: list[Centroid]
    source: str


class StreamFreshness(BaseModel):
    stream: str
    last_event_time: datetime | None = Field(description="Time of the newest event applied")
    applied_at: datetime | None
    age_ms: int | None = Field(description="Now minus the newest applied event's time")
    pending: int | None = Field(description="Messages not applied yet (null: NATS away)")


class Freshness(BaseModel):
    checked_at: datetime
    streams: list[StreamFreshness]


class DeadLetter(BaseModel):
    id: str = Field(validation_alias=AliasChoices("_id", "id"), description="STREAM:sequence")
    stream: str
    sequence: int
    subject: str
    body: str
    error: str
    deliveries: int
    status: str
    failed_at: datetime | None = None
    retried_at: datetime | None = None


class DeadLetterList(BaseModel):
    items: list[DeadLetter]
    next_cursor: str | None = None


class RebuildStream(BaseModel):
    goal_sequence: int
    applied_sequence: int


class RebuildState(BaseModel):
    status: str
    generation: str
    previous_generation: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    streams: dict[str, RebuildStream] = Field(default_factory=dict)


class ReportingStatus(ServiceStatus):
    generation: str
    rebuild: RebuildState | None = None
