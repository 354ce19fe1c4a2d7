"""Imports of sites, clubs, members and classifications from CSV or XLSX files.

Every row is checked first, exactly as the matching PUT would check it, against
what is stored and against the rows above it, and against the caller's provinces: a
row of a province the client may not submit for is rejected as `forbidden`. Nothing
is written unless every row passed; with `partial`, the rows that passed are written
and the others reported.
Each row's result names its row number in the file (the header is row 1).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from services.registry.clubs import (
    Prepared,
    RegisterService,
    Stored,
    club_id_of,
    site_id_of,
)
from services.registry.import_columns import Kind, convert, read_bool
from services.registry.import_formats import read_sheet
from services.registry.members import MemberService
from services.registry.permissions import forbidden, where
from services.registry.problems import invalid, unknown_unit
from services.registry.schemas import (
    ClassificationIn,
    ClubIn,
    ImportResult,
    ItemError,
    ItemResult,
    MemberCode,
    MemberIn,
    NaturalKey,
    SiteIn,
)
from services.registry.service import UnitService, classification_period, with_period
from shared.auth import Principal
from shared.http import PROBLEM_BASE, Problem

_MEMBER_CODE: TypeAdapter[str] = TypeAdapter(MemberCode)


@dataclass
class Row:
    number: int
    values: dict[str, Any]
    prepared: Prepared | None = None
    result: ItemResult | None = None
    club: dict[str, Any] | None = None  # members: the club the row belongs to
    body: ClassificationIn | None = None  # classifications: the checked period

    def reject(self, problem: Problem) -> None:
        errors = problem.errors or [{"loc": [], "msg": problem.detail}]
        self.result = ItemResult(
            row=self.number,
            status="rejected",
            type=PROBLEM_BASE + problem.kind,
            errors=[ItemError(loc=error["loc"], msg=error["msg"]) for error in errors],
        )

    def reject_invalid(self, exc: ValidationError) -> None:
        self.result = ItemResult(
            row=self.number,
            status="rejected",
            type=PROBLEM_BASE + "validation",
            errors=[
                ItemError(loc=[str(part) for part in error["loc"]], msg=error["msg"])
                for error in exc.errors()
            ],
        )

    def parse(self, model: type[BaseModel], *fields: str) -> Any:
        """The row's values for `fields` as `model`, or `None` (row rejected)."""
        values = {k: v for k, v in self.values.items() if k in fields and v is not None}
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            self.reject_invalid(exc)
            return None


_SITE_FIELDS = ("kind", "name", "unit_id")
_CLUB_FIELDS = ("name", "kind", "unit_id", "site_id", "programme", "established_on", "dissolved_on")
_MEMBER_FIELDS = ("sex", "birth_year", "ethnicity", "ethnic_minority", "joined_on", "left_on")


class ImportService:
    def __init__(
        self,
        registers: RegisterService,
        members: MemberService,
        units: UnitService,
        max_rows: int,
    ) -> None:
        self._registers = registers
        self._members = members
        self._units = units
        self._max_rows = max_rows

    async def run(
        self, kind: Kind, content: bytes, partial: bool, caller: Principal
    ) -> ImportResult:
        sheet = read_sheet(kind, content, self._max_rows)
        rows = [
            Row(
                number,
                {c.field: convert(c, v) for c, v in zip(sheet.columns, cells, strict=False) if c},
            )
            for number, cells in sheet.rows
        ]
        if kind == "sites":
            await self._check_sites(rows, caller)
        elif kind == "clubs":
            await self._check_clubs(rows, caller)
        elif kind == "members":
            await self._check_members(rows, caller)
        else:
            await self._check_classifications(rows, caller)
        _reject_repeats(rows)
        passed = [row for row in rows if row.result is None]
        write = len(passed) == len(rows) or partial
        if write:
            await self._write(kind, passed, caller)
        results = [row.result or ItemResult(row=row.number, status="valid") for row in rows]
        counts: dict[str, int] = defaultdict(int)
        for result in results:
            counts[result.status] += 1
        written = any(r.status in ("created", "revised", "unchanged") for r in results)
        return ImportResult(kind=kind, written=written, counts=dict(counts), results=results)

    async def _check_sites(self, rows: list[Row], caller: Principal) -> None:
        for row in rows:
            key = row.parse(NaturalKey, "source_system", "external_id")
            body = row.parse(SiteIn, *_SITE_FIELDS) if key else None
            if body is not None:
                try:
                    row.prepared = await self._registers.prepare_site(
                        key.source_system, key.external_id, body, [], caller
                    )
                except Problem as problem:
                    row.reject(problem)
        await self._reject_held_elsewhere("site", rows, caller)

    async def _reject_held_elsewhere(
        self, register: Literal["site", "club"], rows: list[Row], caller: Principal
    ) -> None:
        checked = [row for row in rows if row.prepared is not None and row.result is None]
        prepared = [row.prepared for row in checked if row.prepared is not None]
        refused = await self._registers.held_elsewhere(register, prepared, caller, [])
        for row in checked:
            if row.prepared is not None and row.prepared.key in refused:
                row.reject(refused[row.prepared.key])

    async def _check_clubs(self, rows: list[Row], caller: Principal) -> None:
        for row in rows:
            key = row.parse(NaturalKey, "source_system", "external_id")
            if key is None:
                continue
            site_external = row.values.get("site_external_id")
            if site_external is not None and row.values.get("site_id") is None:
                row.values["site_id"] = site_id_of(key.source_system, str(site_external))
            body = row.parse(ClubIn, *_CLUB_FIELDS)
            if body is not None:
                try:
                    row.prepared = await self._registers.prepare_club(
                        key.source_system, key.external_id, body, [], caller
                    )
                except Problem as problem:
                    row.reject(problem)
        await self._reject_held_elsewhere("club", rows, caller)

    async def _check_members(self, rows: list[Row], caller: Principal) -> None:
        clubs: dict[str, dict[str, Any] | None] = {}
        for row in rows:
            club_id = self._club_of(row)
            body = row.parse(MemberIn, *_MEMBER_FIELDS) if club_id else None
            if body is None or club_id is None:
                continue
            if club_id not in clubs:
                try:
                    clubs[club_id] = await self._registers.club(club_id)
                except Problem:
                    clubs[club_id] = None
            row.club = clubs[club_id]
            if row.club is None:
                row.reject(
                    invalid("unknown-club", "Unknown club", f"No club {club_id!r}.", ["club_id"])
                )
                continue
            province = row.club.get("province_id")
            if not caller.may("submitter", province):
                reason = f"Club {club_id} is in {where(province)}."
                row.reject(forbidden(caller, "submitter", province, reason, ["club_id"]))
                continue
            try:
                code = _MEMBER_CODE.validate_python(row.values.get("member_code"))
                row.prepared = self._members.prepare_member(row.club, code, body, [])
            except ValidationError as exc:
                row.reject_invalid(exc)
            except Problem as problem:
                row.reject(problem)

    def _club_of(self, row: Row) -> str | None:
        club_id = row.values.get("club_id")
        if club_id is not None:
            return str(club_id)
        source, external = row.values.get("source_system"), row.values.get("club_external_id")
        if source is not None and external is not None:
            return club_id_of(str(source), str(external))
        row.reject(
            invalid(
                "import-member-club",
                "Which club?",
                "Give the club: its id, or the source system and the club's external id.",
                ["club_id"],
            )
        )
        return None

    async def _check_classifications(self, rows: list[Row], caller: Principal) -> None:
        periods: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            name = str(row.values.get("name"))
            if name == "especially_difficult":
                row.values["value"] = read_bool(row.values.get("value"))
            body = row.parse(ClassificationIn, "value", "valid_from", "valid_to")
            if body is None:
                continue
            unit_id = str(row.values.get("unit_id"))
            try:
                unit = await self._units.unit_for(unit_id, caller, "submitter", ["unit_id"])
                if unit is None:
                    raise unknown_unit(unit_id, ["unit_id"])
                period = classification_period(name, body)
                key = f"{unit['id']}/{name}"
                if key not in periods:
                    periods[key] = await self._units.held_periods(unit["id"], name)
                # Checked against the stored periods and the rows above.
                periods[key] = with_period(periods[key], period)
            except Problem as problem:
                row.reject(problem)
                continue
            row.prepared = Prepared(key, {"unit_id": unit["id"], "name": name})
            row.body = body

    async def _write(self, kind: Kind, rows: list[Row], caller: Principal) -> None:
        if kind == "members":
            await self._write_members(rows)
            return
        for row in rows:
            assert row.prepared is not None
            try:
                if kind == "sites":
                    stored = await self._registers.write_site(row.prepared)
                    key, outcome = stored.key, stored.outcome
                elif kind == "clubs":
                    stored = await self._registers.write_club(row.prepared)
                    key, outcome = stored.key, stored.outcome
                else:
                    assert row.body is not None
                    state = row.prepared.state
                    _, outcome = await self._units.put_classification(
                        state["unit_id"], state["name"], row.body, caller
                    )
                    key = row.prepared.key
            except Problem as problem:  # changed by someone else since it was checked
                row.reject(problem)
                continue
            row.result = ItemResult(row=row.number, status=outcome.value, id=key)

    async def _write_members(self, rows: list[Row]) -> None:
        by_club: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            assert row.club is not None
            by_club[row.club["_id"]].append(row)
        for group in by_club.values():
            prepared = [row.prepared for row in group if row.prepared is not None]
            club = group[0].club
            assert club is not None
            stored: dict[str, Stored] = await self._members.write_members(
                prepared, club["province_id"]
            )
            for row in group:
                assert row.prepared is not None
                key = row.prepared.key
                status = stored[key].outcome.value
                row.result = ItemResult(row=row.number, status=status, id=key)


def _reject_repeats(rows: list[Row]) -> None:
    """A record given twice in one file: the later rows are rejected."""
    first: dict[str, int] = {}
    for row in rows:
        if row.prepared is None or row.result is not None:
            continue
        key = row.prepared.key
        if row.body is not None:  # classifications: several periods per unit are fine
            key = f"{key}@{row.body.valid_from}"
        if key in first:
            row.reject(
                invalid(
                    "duplicate-row",
                    "Repeated record",
                    f"Row {row.number} repeats the record of row {first[key]}.",
                    [],
                )
            )
        else:
            first[key] = row.number
