"""HTTP bodies more than one service answers with."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field


class Programme(BaseModel):
    code: str
    name: str
    name_vi: str
    starts_on: date | None = None
    ends_on: date | None = None
    revision: int


class ProgrammeList(BaseModel):
    items: list[Programme]
    next_cursor: str | None = None


# ------------------------------------------------------------------- uploads
RowStatus = Literal["created", "revised", "unchanged", "rejected", "valid"]


class RowError(BaseModel):
    loc: list[str | int] = Field(description="The field, as the JSON body names it")
    column: str | None = Field(
        default=None, description="The column, as the template names it (e.g. `Giới tính`)"
    )
    msg: str = Field(description="What is wrong, naming the column and its allowed values")


class ItemProblem(BaseModel):
    """Why an item or row was rejected, as the problem a single request would answer."""

    type: str = Field(description="Problem type URL, e.g. `…/problems/forbidden`")
    title: str
    status: int = Field(description="The HTTP status a single request would have had")
    required_role: str | None = Field(
        default=None, description="For `forbidden`: the role the item needed"
    )
    required_province: str | None = Field(
        default=None, description="For `forbidden`: the province it needed it for (`vn`: national)"
    )
    lock: dict[str, Any] | None = Field(
        default=None,
        description="For `period-locked`: the lock in force (`id`, `programme`, `period`, "
        "`unit_id`, `origin`, `reason`, `since`, `by`)",
    )


class RowResult(BaseModel):
    row: int = Field(description="Row number in the sheet or file (the header is row 1)")
    status: RowStatus = Field(
        description="`valid`: the row passed every check but nothing was written, because "
        "another row was rejected and `partial` was not set"
    )
    id: str | None = None
    version: int | None = None
    activity_status: str | None = None
    pending_on: list[str] | None = None
    source_system: str | None = None
    external_id: str | None = None
    errors: list[RowError] | None = Field(
        default=None, description="Every mistake of the row, not only the first"
    )
    problem: ItemProblem | None = None


class UploadSummary(BaseModel):
    created: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: int = 0
    valid: int = 0


class UploadResult(BaseModel):
    """The answer to an upload, the same in every service.

    Every row is checked first. Without `partial`, nothing is written unless every row
    passed (the answer is then 422 `import-rejected` carrying these same members); with
    `partial=true` the rows that passed are written and the others reported.
    """

    kind: str = Field(description="What the rows are: `activities`, `sites`, `clubs`, …")
    format: Literal["csv", "xlsx"]
    partial: bool
    written: bool = Field(description="Whether any row was stored")
    summary: UploadSummary
    rows: list[RowResult]
