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


class CompletenessReport(BaseModel):
    parent: str
    level: str
    period: str
    items: list[CompletenessItem]
    units: int
    reported: int
    rate: float | None = Field(description="reported / units, from 0 to 1")
    rate_pct: float | None
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
