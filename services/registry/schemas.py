"""Request and response bodies of the registry's HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.contracts import MemberUpserted

ProgrammeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,19}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
SourceSystem = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ExternalId = Annotated[str, StringConstraints(pattern=r"^[^\s/\\?#%]{1,200}$")]
MemberCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
VillageCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
UnitId = Annotated[str, StringConstraints(min_length=2, max_length=60)]
# Ids the registry gives (site and club ids are UUIDs); longer ones cannot exist.
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Sex = Literal["female", "male"]
SiteKind = Literal["school", "learning_centre", "community", "agency"]
ClubKind = Literal["school", "community"]


class StrictBody(BaseModel):
    """Unknown fields are rejected with their names, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class NaturalKey(StrictBody):
    """A province's key of a record: its system and its id there."""

    source_system: SourceSystem
    external_id: ExternalId


class CreatedId(BaseModel):
    id: str


# ---------------------------------------------------------------- programmes
class ProgrammeIn(StrictBody):
    name: Name = Field(description="English name")
    name_vi: Name = Field(description="Vietnamese name, stored exactly as sent (NFC)")
    starts_on: date | None = None
    ends_on: date | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class TargetIn(StrictBody):
    indicator: str = Field(
        max_length=60, description="An indicator code of the catalogue, e.g. `club_members`"
    )
    unit_id: UnitId
    period: str = Field(
        max_length=30, description="`2023`, `2023H1`, `2023Q4`, `2023-11`, `SY2017-2018`, …"
    )
    value: float = Field(ge=0, allow_inf_nan=False)


class TargetPlan(BaseModel):
    programme: str
    targets: list[TargetIn]
    revision: int = Field(description="0 while no plan was ever stored")


# --------------------------------------------------------------------- units
class UnitSummary(BaseModel):
    id: str
    edition: str
    code: str
    name: str
    level: str
    parent_id: str | None
    valid_from: date | None = None
    valid_to: date | None = None
    revision: int


class ClassificationPeriodOut(BaseModel):
    value: str | bool
    valid_from: date
    valid_to: date | None = None


class UnitDetail(UnitSummary):
    classifications: dict[str, list[ClassificationPeriodOut]] = Field(
        description="Periods of each classification (`region`, `especially_difficult`)"
    )


class UnitList(BaseModel):
    items: list[UnitSummary]
    next_cursor: str | None = None


class Link(BaseModel):
    unit_id: str
    share: float


class VillageIn(StrictBody):
    parent_id: UnitId = Field(description="The commune, e.g. `vn63:06433`")
    code: VillageCode
    name: Name


class ClassificationIn(StrictBody):
    value: Annotated[str, StringConstraints(max_length=20)] | bool = Field(
        description="`I`, `II` or `III` for `region`; a boolean otherwise"
    )
    valid_from: date
    valid_to: date | None = None


class Classification(BaseModel):
    unit_id: str
    name: str
    periods: list[ClassificationPeriodOut]
    revision: int


class ReferenceStatus(BaseModel):
    state: Literal["storing", "publishing", "complete"]
    units: int
    counts: dict[str, int] = Field(description="Units held per `<edition>/<level>`")
    chunks: int
    chunks_to_write: int
    chunks_written: int
    events_to_publish: int
    events_published: int
    prepared_seconds: float
    published_seconds: float | None
    fingerprint: str = Field(description="SHA-256 of the package's two data files")
    # Pairs as two-item arrays: OpenAPI 3.1 tools disagree on how tuples are described.
    dropped_links: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(
        description="Crosswalk links left out as name-collision artefacts: [old, new code]"
    )


# ----------------------------------------------------------- sites and clubs
class SiteIn(StrictBody):
    kind: SiteKind
    name: Name
    unit_id: UnitId


class Site(BaseModel):
    id: str
    source_system: str
    external_id: str
    kind: str
    name: str
    unit_id: str
    province_id: str
    revision: int


class SiteList(BaseModel):
    items: list[Site]
    next_cursor: str | None = None


class ClubIn(StrictBody):
    name: Name
    kind: ClubKind
    unit_id: UnitId = Field(description="A commune or a village")
    site_id: RecordId | None = None
    programme: ProgrammeCode
    established_on: date
    dissolved_on: date | None = None


class MemberCounts(BaseModel):
    as_of: date
    female: int
    male: int
    total: int
    ethnic_minority: int


class Club(BaseModel):
    id: str
    source_system: str
    external_id: str
    name: str
    kind: str
    unit_id: str
    province_id: str
    site_id: str | None = None
    programme: str
    established_on: date
    dissolved_on: date | None = None
    revision: int
    members: MemberCounts


class ClubList(BaseModel):
    items: list[Club]
    next_cursor: str | None = None


class MemberIn(StrictBody):
    sex: Sex
    birth_year: int | None = None
    ethnicity: str | None = Field(
        default=None,
        max_length=40,
        description="Two-digit code of one of the 54 ethnic groups (01 Kinh … 54), or its name",
    )
    ethnic_minority: bool | None = Field(
        default=None, description="Required unless `ethnicity` is given (Kinh: false)"
    )
    joined_on: date
    left_on: date | None = None


class MemberBulkItem(MemberIn):
    member_code: MemberCode


class Member(MemberUpserted):
    """A member as the API answers it: the state `member.upserted` carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class MemberList(BaseModel):
    items: list[Member]
    next_cursor: str | None = None


class ItemError(BaseModel):
    loc: list[str | int]
    msg: str


class ItemResult(BaseModel):
    """The outcome of one item of a bulk call or one row of an import."""

    index: int | None = None
    row: int | None = None
    status: Literal["created", "revised", "unchanged", "rejected", "valid"]
    id: str | None = None
    type: str | None = Field(default=None, description="Problem type of a rejection")
    errors: list[ItemError] | None = None


class BulkResults(BaseModel):
    results: list[ItemResult]
    counts: dict[str, int]


class Ethnicity(BaseModel):
    code: str
    name: str
    ethnic_minority: bool


class ImportResult(BaseModel):
    kind: str
    written: bool = Field(description="Whether any row was stored")
    counts: dict[str, int]
    results: list[ItemResult]
