"""Request and response bodies of the registry's HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ProgrammeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,19}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class StrictBody(BaseModel):
    """Unknown fields are rejected with their names, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


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
