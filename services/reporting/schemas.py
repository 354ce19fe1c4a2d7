"""Response bodies of the reporting service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, Field

from shared.status import ServiceStatus

Number = int | float


class IndicatorInfo(BaseModel):
    code: str
    name: str
    name_vi: str
    measure: str
    disaggregations: list[str]
    definition: str


class IndicatorCatalogue(BaseModel):
    items: list[IndicatorInfo]
    next_cursor: str | None = None


class IndicatorValues(BaseModel):
    """`rows` hold one entry per combination of the `by` dimensions (zeros included):
    `unit_id` and `unit_name` for `child_unit`, then `sex`, `ethnic_minority`, `kind`,
    `month`, `grade` as asked, and `value`. `total` is the sum of the rows."""

    indicator: str
    unit_id: str
    unit_name: str | None
    period: str
    structure: str
    programme: str | None
    by: list[str]
    rows: list[dict[str, Any]]
    total: Number
    as_of: datetime


class SummaryItem(BaseModel):
    indicator: str
    name: str
    name_vi: str
    measure: str
    value: Number
    female: Number | None = None
    male: Number | None = None


class Summary(BaseModel):
    unit_id: str
    unit_name: str | None
    period: str
    structure: str
    programme: str | None
    items: list[SummaryItem]
    as_of: datetime


class TargetRow(BaseModel):
    indicator: str
    unit_id: str
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
