"""HTTP bodies more than one service answers with."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


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
