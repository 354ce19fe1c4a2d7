"""Uploads of sites, clubs, members and classifications (CSV or XLSX).

The file is read by the shared pipeline (`shared.edge.spreadsheets`). Every row is
then checked, exactly as the matching PUT would check it, against what is stored,
against the rows above it and against the caller's provinces (a row of a province
the client may not submit for is rejected as `forbidden`), and every mistake of a
row is reported, each naming its column as the template does. Nothing is written
unless every row passed; with `partial`, the rows that passed are written and the
others reported (`shared.edge.spreadsheets.upload_answer`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from services.registry.clubs import (
    Prepared,
    RegisterService,
    Stored,
    club_id_of,
    site_id_of,
)
from services.registry.import_columns import COLUMNS, Kind
from services.registry.members import MemberService
from services.registry.permissions import require_for
from services.registry.schemas import (
    ClassificationIn,
    ClubIn,
    MemberCode,
    MemberIn,
    NaturalKey,
    SiteIn,
)
from services.registry.service import UnitService, classification_period, with_period
from shared.auth import Principal
from shared.edge import problems
from shared.edge.i18n import say
from shared.edge.spreadsheets import (
    CellError,
    Column,
    Upload,
    column_errors,
    read_bool,
    read_rows,
    read_table,
    upload_answer,
    validation_errors,
)
from shared.edge.spreadsheets import Row as SheetRow
from shared.http import PROBLEM_BASE, Problem
from shared.schemas import ItemProblem, RowResult, UploadResult

_MEMBER_CODE: TypeAdapter[str] = TypeAdapter(MemberCode)


@dataclass
class Row:
    """A row being checked: its values, every mistake found, what it will write."""

    number: int
    values: dict[str, Any]
    columns: Sequence[Column]
    errors: list[dict[str, Any]] = field(default_factory=list)
    problem: ItemProblem | None = None
    prepared: Prepared | None = None
    club: dict[str, Any] | None = None  # members: the club the row belongs to
    body: ClassificationIn | None = None  # classifications: the checked period
    result: RowResult | None = None

    @property
    def rejected(self) -> bool:
        return bool(self.errors)

    def reject(self, problem: Problem) -> None:
        found = problem.errors or [{"loc": [], "msg": problem.detail}]
        self.errors.extend(column_errors(found, self.columns))
        if self.problem is None:
            self.problem = ItemProblem(
                type=PROBLEM_BASE + problem.kind,
                title=problem.title,
                status=problem.status,
                required_role=problem.extensions.get("required_role"),
                required_province=problem.extensions.get("required_province"),
            )

    def parse(self, model: type[BaseModel], *fields: str) -> Any:
        """The row's values for `fields` as `model`, or `None` (with its errors noted).

        A cell that could not be read is already reported: the model's "field
        required" about it would only repeat that."""
        unread = {".".join(str(part) for part in error["loc"]) for error in self.errors}
        values = {k: v for k, v in self.values.items() if k in fields and v is not None}
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            found = [
                error
                for error in validation_errors(exc, self.columns)
                if ".".join(str(part) for part in error["loc"]) not in unread
            ]
            self.errors.extend(found)
            if self.problem is None:
                self.problem = _validation_problem()
            return None


def _validation_problem() -> ItemProblem:
    return ItemProblem(
        type=PROBLEM_BASE + "validation",
        title=say("Invalid row", "Dòng không hợp lệ"),
        status=422,
    )


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
        self, kind: Kind, upload: Upload, partial: bool, caller: Principal
    ) -> UploadResult:
        table = read_table(upload)
        columns = COLUMNS[kind]
        read = read_rows(
            table,
            columns,
            required=[column for column in columns if column.required],
            max_rows=self._max_rows,
            template=f"GET /v1/imports/{kind}/template.xlsx",
        )
        rows = [_row(sheet_row, columns) for sheet_row in read]
        if kind == "sites":
            await self._check_sites(rows, caller)
        elif kind == "clubs":
            await self._check_clubs(rows, caller)
        elif kind == "members":
            await self._check_members(rows, caller)
        else:
            await self._check_classifications(rows, caller)
        _reject_repeats(rows)
        passed = [row for row in rows if not row.rejected]
        if len(passed) == len(rows) or partial:
            await self._write(kind, passed, caller)
        results = [row.result or _checked(row) for row in rows]
        return upload_answer(kind, table, results, partial=partial)

    async def _check_sites(self, rows: list[Row], caller: Principal) -> None:
        for row in rows:
            key = row.parse(NaturalKey, "source_system", "external_id")
            body = row.parse(SiteIn, *_SITE_FIELDS)
            if key is not None and body is not None:
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
        checked = [row for row in rows if row.prepared is not None and not row.rejected]
        prepared = [row.prepared for row in checked if row.prepared is not None]
        refused = await self._registers.held_elsewhere(register, prepared, caller, [])
        for row in checked:
            if row.prepared is not None and row.prepared.key in refused:
                row.reject(refused[row.prepared.key])

    async def _check_clubs(self, rows: list[Row], caller: Principal) -> None:
        for row in rows:
            key = row.parse(NaturalKey, "source_system", "external_id")
            site_external = row.values.get("site_external_id")
            if key is not None and site_external is not None and not row.values.get("site_id"):
                row.values["site_id"] = site_id_of(key.source_system, str(site_external))
            body = row.parse(ClubIn, *_CLUB_FIELDS)
            if key is not None and body is not None:
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
            body = row.parse(MemberIn, *_MEMBER_FIELDS)
            code: str | None = None
            try:
                code = _MEMBER_CODE.validate_python(row.values.get("member_code"))
            except ValidationError as exc:
                row.errors.extend(_member_code_errors(exc, row.columns))
            if club_id is None:
                continue
            if club_id not in clubs:
                try:
                    clubs[club_id] = await self._registers.club(club_id)
                except Problem:
                    clubs[club_id] = None
            row.club = clubs[club_id]
            if row.club is None:
                row.reject(problems.unknown_reference("club", club_id, ["club_id"]))
                continue
            try:
                require_for(
                    caller,
                    "submitter",
                    row.club.get("province_id"),
                    f"Club {club_id}",
                    f"Câu lạc bộ {club_id}",
                    ["club_id"],
                )
                if body is not None and code is not None:
                    row.prepared = self._members.prepare_member(row.club, code, body, [])
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
            problems.invalid(
                "import-member-club",
                say("Which club?", "Câu lạc bộ nào?"),
                say(
                    "Give the club: its id, or the source system and the club's external id.",
                    "Hãy ghi câu lạc bộ: Mã CLB (id), hoặc Mã hệ thống nguồn và Mã định danh CLB.",
                ),
                ["club_id"],
            )
        )
        return None

    async def _check_classifications(self, rows: list[Row], caller: Principal) -> None:
        periods: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            name = str(row.values.get("name"))
            if name == "especially_difficult" and row.values.get("value") is not None:
                try:
                    row.values["value"] = read_bool(row.values["value"])
                except CellError as exc:
                    value_column = next(c for c in row.columns if c.field == "value")
                    row.errors.append(
                        {
                            "loc": ["value"],
                            "column": value_column.header,
                            "msg": f"{value_column.header}: {say(exc.en, exc.vi)}",
                        }
                    )
            body = row.parse(ClassificationIn, "value", "valid_from", "valid_to")
            if body is None or row.rejected:
                continue
            unit_id = str(row.values.get("unit_id"))
            try:
                unit = await self._units.unit_for(unit_id, caller, "submitter", ["unit_id"])
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
            prepared = row.prepared
            if prepared is None:
                continue
            try:
                if kind == "sites":
                    stored = await self._registers.write_site(prepared)
                    key, outcome = stored.key, stored.outcome
                elif kind == "clubs":
                    stored = await self._registers.write_club(prepared)
                    key, outcome = stored.key, stored.outcome
                elif row.body is not None:
                    state = prepared.state
                    _, outcome = await self._units.put_classification(
                        state["unit_id"], state["name"], row.body, caller
                    )
                    key = prepared.key
                else:
                    continue
            except Problem as problem:  # changed by someone else since it was checked
                row.reject(problem)
                continue
            row.result = RowResult(row=row.number, status=outcome.value, id=key)

    async def _write_members(self, rows: list[Row]) -> None:
        by_club: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            if row.club is not None and row.prepared is not None:
                by_club[row.club["_id"]].append(row)
        for group in by_club.values():
            prepared = [row.prepared for row in group if row.prepared is not None]
            club = group[0].club or {}
            stored: dict[str, Stored] = await self._members.write_members(
                prepared, club["province_id"]
            )
            for row in group:
                if row.prepared is not None:
                    key = row.prepared.key
                    status = stored[key].outcome.value
                    row.result = RowResult(row=row.number, status=status, id=key)


def _row(sheet_row: SheetRow, columns: Sequence[Column]) -> Row:
    row = Row(sheet_row.number, dict(sheet_row.values), columns, list(sheet_row.errors))
    if row.errors:
        row.problem = _validation_problem()
    return row


def _checked(row: Row) -> RowResult:
    """The result of a row that was checked but not written."""
    if not row.rejected:
        return RowResult(row=row.number, status="valid")
    return RowResult.model_validate(
        {"row": row.number, "status": "rejected", "errors": row.errors, "problem": row.problem}
    )


def _member_code_errors(exc: ValidationError, columns: Sequence[Column]) -> list[dict[str, Any]]:
    column = next(c for c in columns if c.field == "member_code")
    errors = []
    for error in exc.errors(include_url=False):
        message = (
            say("required; fill it in", "bắt buộc; hãy điền")
            if error["type"] in ("missing", "string_type")
            else say(
                "letters, digits and . _ - only (at most 64)",
                "chỉ gồm chữ, số và . _ - (tối đa 64 ký tự)",
            )
        )
        errors.append(
            {"loc": ["member_code"], "column": column.header, "msg": f"{column.header}: {message}"}
        )
    return errors


def _reject_repeats(rows: list[Row]) -> None:
    """A record given twice in one file: the later rows are rejected."""
    first: dict[str, int] = {}
    for row in rows:
        if row.prepared is None or row.rejected:
            continue
        key = row.prepared.key
        if row.body is not None:  # classifications: several periods per unit are fine
            key = f"{key}@{row.body.valid_from}"
        if key in first:
            row.reject(
                problems.invalid(
                    "duplicate-row",
                    say("Repeated record", "Bản ghi bị lặp"),
                    say(
                        f"Row {row.number} repeats the record of row {first[key]}.",
                        f"Dòng {row.number} lặp lại bản ghi của dòng {first[key]}.",
                    ),
                    [],
                )
            )
        else:
            first[key] = row.number
