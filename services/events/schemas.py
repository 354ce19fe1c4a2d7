"""Request and response bodies of the events service's HTTP API.

The activity body itself is the contract model (`shared.contracts.Activity`, one
model per type), so what provinces send and what `recorded`/`revised` carry cannot
drift apart. A batch item or import row is that body plus `source_system` and
`external_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts import Activity
from shared.schemas import ItemProblem

SourceSystem = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
]
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
ItemStatus = Literal["created", "revised", "unchanged", "rejected"]
ActivityStatus = Literal["active", "pending_reference", "rejected", "voided"]


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where in the item, e.g. `["participants", "male"]`')
    msg: str


class ItemKey(BaseModel):
    """The natural key every batch item and import row carries (validated on its own:
    the rest of the item is the activity body, which refuses unknown fields)."""

    model_config = ConfigDict(extra="forbid")

    source_system: SourceSystem = Field(description="The province's system, e.g. `langson-p8`")
    external_id: ExternalId = Field(description="The record's id in that system")


class ActivityWritten(BaseModel):
    id: str
    version: int
    status: ActivityStatus
    pending_on: list[str] = Field(
        default_factory=list,
        description="References not known yet (`club:<id>`, `unit:<id>`, `site:<id>`, "
        "`programme:<code>`) when the status is `pending_reference`",
    )


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ItemResult(BaseModel):
    index: int = Field(description="Position of the item in the batch, from 0")
    status: ItemStatus
    id: str | None = None
    version: int | None = None
    activity_status: ActivityStatus | None = None
    pending_on: list[str] | None = None
    errors: list[FieldError] | None = None
    problem: ItemProblem | None = None


class Summary(BaseModel):
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: int = 0


class BatchResult(BaseModel):
    results: list[ItemResult]
    summary: Summary


class Rejection(BaseModel):
    detail: str
    errors: list[FieldError]
    at: datetime


class Void(BaseModel):
    reason: str
    at: datetime


class ActivityOut(BaseModel):
    id: str
    source_system: str
    external_id: str
    version: int
    status: ActivityStatus
    province_id: str | None = Field(description="The province of the unit, once it is known")
    activity: Activity
    pending_on: list[str] = Field(default_factory=list)
    pending_since: datetime | None = None
    rejection: Rejection | None = None
    void: Void | None = None
    created_at: datetime
    updated_at: datetime


class VersionOut(BaseModel):
    version: int
    status: ActivityStatus = Field(description="The status this version had when replaced")
    activity: Activity
    recorded_at: datetime


class ActivityDetail(ActivityOut):
    versions: list[VersionOut] = Field(description="Every version, oldest first, this one last")


class ActivityList(BaseModel):
    items: list[ActivityOut]
    next_cursor: str | None = None


class ActivityType(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: str
    json_schema: dict[str, Any] = Field(alias="schema", description="JSON Schema of the body")
