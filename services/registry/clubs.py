"""Use cases for the provinces' registers: sites, clubs and their members.

Each write is split in two: `prepare_*` checks a body and builds the state to store
(raising a `Problem` when it cannot be accepted) without writing anything, and
`write_*` stores prepared states. A PUT does both; an import prepares every row
first and writes only when all rows (or, with `partial`, the good ones) passed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from services.registry import events
from services.registry.catalogue import (
    earliest_birth_year,
    ethnicity_code,
    is_ethnic_minority,
    latest_birth_year,
)
from services.registry.folding import nfc
from services.registry.problems import (
    club_not_found,
    combined,
    invalid,
    site_not_found,
    unknown_programme,
)
from services.registry.repository import Repositories, new_document
from services.registry.schemas import (
    BulkResults,
    Club,
    ClubIn,
    ItemError,
    ItemResult,
    Member,
    MemberBulkItem,
    MemberCounts,
    MemberIn,
    Site,
    SiteIn,
)
from services.registry.service import ProgrammeService, UnitService
from shared.contracts import CloudEvent
from shared.http import PROBLEM_BASE, Problem
from shared.mongo import Document
from shared.units import REFORM_DATE
from shared.versioned import Outcome

State = dict[str, Any]
Loc = list[str | int]
_SITES = uuid.UUID("6f0c3a52-58d4-4c1e-9a54-0a1b7f5d2e01")
_CLUBS = uuid.UUID("0e7d9b0c-2f8e-4a7b-b1d4-5c3e9f6a8b02")
VIETNAM = timezone(timedelta(hours=7))


def site_id_of(source_system: str, external_id: str) -> str:
    """Stable: the same natural key always gives the same id (UUID 5)."""
    return str(uuid.uuid5(_SITES, f"{source_system}:{external_id}"))


def club_id_of(source_system: str, external_id: str) -> str:
    return str(uuid.uuid5(_CLUBS, f"{source_system}:{external_id}"))


def member_id_of(club_id: str, member_code: str) -> str:
    return f"{club_id}/{member_code}"


def today() -> date:
    """Today in Viet Nam (UTC+7 all year)."""
    return datetime.now(UTC).astimezone(VIETNAM).date()


@dataclass(frozen=True)
class Prepared:
    key: str
    state: State


class RegisterService:
    """Sites, clubs and members."""

    def __init__(
        self, repositories: Repositories, units: UnitService, programmes: ProgrammeService
    ) -> None:
        self._sites = repositories.sites
        self._clubs = repositories.clubs
        self._members = repositories.members
        self._units = units
        self._programmes = programmes

    # ------------------------------------------------------------------ sites
    async def prepare_site(
        self, source_system: str, external_id: str, body: SiteIn, loc: Loc
    ) -> Prepared:
        unit = await self._units.resolve(body.unit_id, [*loc, "unit_id"])
        if unit["level"] == "nation":
            raise invalid(
                "site-unit-level",
                "A site lies in a province, district, commune or village",
                "A site cannot be placed at national level.",
                [*loc, "unit_id"],
            )
        key = site_id_of(source_system, external_id)
        state = {
            "id": key,
            "source_system": source_system,
            "external_id": external_id,
            "kind": body.kind,
            "name": nfc(body.name),
            "unit_id": unit["id"],
            "province_id": self._units.directory.province_of(unit["id"]),
        }
        return Prepared(key, state)

    async def write_site(self, prepared: Prepared) -> tuple[str, Outcome]:
        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [events.site_upserted(prepared.state, revision)]

        written = await self._sites.put(prepared.key, prepared.state, events_for)
        return prepared.key, written.outcome

    async def get_site(self, site_id: str) -> Document:
        document = await self._sites.get(site_id)
        if document is None:
            raise site_not_found(site_id)
        return document

    async def sites(
        self, unit_id: str | None, kind: str | None, after: str | None, limit: int
    ) -> list[Document]:
        query: dict[str, Any] = self._unit_filter(unit_id)
        if kind is not None:
            query["kind"] = kind
        return await self._sites.page(query, after, limit)

    def _unit_filter(self, unit_id: str | None) -> dict[str, Any]:
        if unit_id is None or unit_id == "vn":
            return {}
        if unit_id not in self._units.directory:
            raise invalid(
                "unknown-unit", "Unknown unit", f"No unit {unit_id!r}.", ["query", "unit_id"]
            )
        return {"unit_id": {"$in": sorted(self._units.directory.subtree(unit_id))}}

    # ------------------------------------------------------------------ clubs
    async def prepare_club(
        self, source_system: str, external_id: str, body: ClubIn, loc: Loc
    ) -> Prepared:
        problems: list[Problem] = []
        unit: State | None = None
        try:
            unit = await self._units.resolve(body.unit_id, [*loc, "unit_id"])
        except Problem as problem:
            problems.append(problem)
        if unit is not None and unit["level"] not in ("commune", "village"):
            problems.append(
                invalid(
                    "club-unit-level",
                    "A club belongs to a commune or a village",
                    f"{body.unit_id} is a {unit['level']}; give the club's commune or village.",
                    [*loc, "unit_id"],
                )
            )
            unit = None
        if unit is not None and unit["edition"] == "vn63" and body.established_on >= REFORM_DATE:
            problems.append(
                invalid(
                    "unit-not-in-force",
                    "Unit no longer in force",
                    f"{body.unit_id} ceased on {unit['valid_to']}; a club established on "
                    f"{body.established_on} belongs to a vn34 unit.",
                    [*loc, "unit_id"],
                )
            )
        if not await self._programmes.exists(body.programme):
            problems.append(unknown_programme(body.programme, [*loc, "programme"]))
        if body.dissolved_on is not None and body.dissolved_on < body.established_on:
            problems.append(
                invalid(
                    "dissolved-before-established",
                    "Dissolved before established",
                    f"dissolved_on {body.dissolved_on} is before established_on "
                    f"{body.established_on}.",
                    [*loc, "dissolved_on"],
                )
            )
        if body.site_id is not None:
            site_problem = await self._site_problem(body.site_id, unit, [*loc, "site_id"])
            if site_problem is not None:
                problems.append(site_problem)
        if problems or unit is None:
            raise combined(problems)
        key = club_id_of(source_system, external_id)
        state = {
            "id": key,
            "source_system": source_system,
            "external_id": external_id,
            "name": nfc(body.name),
            "kind": body.kind,
            "unit_id": unit["id"],
            "province_id": self._units.directory.province_of(unit["id"]),
            "site_id": body.site_id,
            "programme": body.programme,
            "established_on": body.established_on.isoformat(),
            "dissolved_on": None if body.dissolved_on is None else body.dissolved_on.isoformat(),
        }
        return Prepared(key, state)

    async def _site_problem(self, site_id: str, unit: State | None, loc: Loc) -> Problem | None:
        site = await self._sites.get(site_id)
        if site is None:
            return invalid("unknown-site", "Unknown site", f"No site {site_id!r}.", loc)
        if unit is None:
            return None
        directory = self._units.directory
        # A school's club lies in the school's commune; a district or provincial
        # agency's club anywhere within the agency's unit.
        area = directory.commune_of(site["unit_id"]) or site["unit_id"]
        if not directory.within(unit["id"], area):
            return invalid(
                "club-outside-site",
                "Club outside its site's commune",
                f"The club's unit {unit['id']} is not within {area}, where site "
                f"{site_id} ({site['name']}) lies.",
                loc,
            )
        return None

    async def write_club(self, prepared: Prepared) -> tuple[str, Outcome]:
        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [events.club_upserted(prepared.state, revision)]

        written = await self._clubs.put(prepared.key, prepared.state, events_for)
        return prepared.key, written.outcome

    async def club(self, club_id: str) -> Document:
        document = await self._clubs.get(club_id)
        if document is None:
            raise club_not_found(club_id)
        return document

    async def clubs(
        self,
        unit_id: str | None,
        programme: str | None,
        kind: str | None,
        after: str | None,
        limit: int,
    ) -> list[Document]:
        query = self._unit_filter(unit_id)
        if programme is not None:
            query["programme"] = programme
        if kind is not None:
            query["kind"] = kind
        return await self._clubs.page(query, after, limit)

    async def member_counts(self, club_ids: list[str], day: date) -> dict[str, MemberCounts]:
        counts = {
            club_id: {"female": 0, "male": 0, "total": 0, "ethnic_minority": 0}
            for club_id in club_ids
        }
        when = day.isoformat()
        for member in await self._members.of_clubs(club_ids):
            if member["joined_on"] > when or (member.get("left_on") or "9999") <= when:
                continue
            tally = counts[member["club_id"]]
            tally[member["sex"]] += 1
            tally["total"] += 1
            tally["ethnic_minority"] += int(bool(member["ethnic_minority"]))
        return {key: MemberCounts(as_of=day, **value) for key, value in counts.items()}

    # ---------------------------------------------------------------- members
    def prepare_member(
        self, club: Document, member_code: str, body: MemberIn, loc: Loc
    ) -> Prepared:
        problems: list[Problem] = []
        low, high = earliest_birth_year(), latest_birth_year()
        if body.birth_year is not None and not low <= body.birth_year <= high:
            problems.append(
                invalid(
                    "birth-year-out-of-range",
                    "Birth year out of range",
                    f"birth_year {body.birth_year} is not between {low} and {high}.",
                    [*loc, "birth_year"],
                )
            )
        minority = body.ethnic_minority
        code: str | None = None
        if body.ethnicity is not None:
            code = ethnicity_code(body.ethnicity)
            if code is None:
                problems.append(
                    invalid(
                        "unknown-ethnicity",
                        "Unknown ethnic group",
                        f"{body.ethnicity!r} is not the code of one of the 54 ethnic groups "
                        "(01 Kinh … 54 Rơ-măm; GET /v1/ethnicities).",
                        [*loc, "ethnicity"],
                    )
                )
            elif minority is not None and minority != is_ethnic_minority(code):
                problems.append(
                    invalid(
                        "ethnicity-mismatch",
                        "Ethnicity and ethnic_minority disagree",
                        f"ethnicity {code} is {'not ' * (not is_ethnic_minority(code))}an ethnic "
                        f"minority, but ethnic_minority is {str(minority).lower()}.",
                        [*loc, "ethnic_minority"],
                    )
                )
            else:
                minority = is_ethnic_minority(code)
        elif minority is None:
            problems.append(
                invalid(
                    "ethnic-minority-required",
                    "ethnic_minority required",
                    "Give ethnic_minority (true or false), or the ethnicity it follows from.",
                    [*loc, "ethnic_minority"],
                )
            )
        if body.left_on is not None and body.left_on < body.joined_on:
            problems.append(
                invalid(
                    "left-before-joined",
                    "Leaving before joining",
                    f"left_on {body.left_on} is before joined_on {body.joined_on}.",
                    [*loc, "left_on"],
                )
            )
        if problems:
            raise combined(problems)
        key = member_id_of(club["_id"], member_code)
        state = {
            "id": key,
            "club_id": club["_id"],
            "member_code": member_code,
            "sex": body.sex,
            "birth_year": body.birth_year,
            "ethnicity": code,
            "ethnic_minority": minority,
            "joined_on": body.joined_on.isoformat(),
            "left_on": None if body.left_on is None else body.left_on.isoformat(),
        }
        return Prepared(key, state)

    async def write_member(self, prepared: Prepared, province: str) -> tuple[str, Outcome]:
        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [events.member_upserted(prepared.state, revision, province)]

        written = await self._members.put(prepared.key, prepared.state, events_for)
        return prepared.key, written.outcome

    async def write_members(self, prepared: list[Prepared], province: str) -> dict[str, Outcome]:
        """Store many members: one `$in` read, one `insert_many`, a guarded update each
        for those that changed."""
        held = await self._members.get_many([item.key for item in prepared])
        outcomes: dict[str, Outcome] = {}
        inserts: list[Document] = []
        for item in prepared:
            before = held.get(item.key)
            if before is None:
                event = events.member_upserted(item.state, 1, province)
                inserts.append(new_document(item.key, item.state, [event]))
                outcomes[item.key] = Outcome.CREATED
            elif {name: before.get(name) for name in item.state} == item.state:
                outcomes[item.key] = Outcome.UNCHANGED
            else:
                revision = int(before["revision"])
                event = events.member_upserted(item.state, revision + 1, province)
                if await self._members.put_if_at(item.key, revision, item.state, [event]):
                    outcomes[item.key] = Outcome.CHANGED
                else:  # changed under us: decide again on fresh state
                    outcomes[item.key] = (await self.write_member(item, province))[1]
        taken = await self._members.insert_new(inserts)
        for item in prepared:
            if item.key in taken:  # created by a concurrent call meanwhile
                outcomes[item.key] = (await self.write_member(item, province))[1]
        return outcomes

    async def members(self, club_id: str, after: str | None, limit: int) -> list[Document]:
        return await self._members.page({"club_id": club_id}, after, limit)


def site_view(document: Document) -> Site:
    return Site.model_validate({**document, "id": document["_id"]})


def club_view(document: Document, counts: MemberCounts) -> Club:
    return Club.model_validate({**document, "id": document["_id"], "members": counts})


def member_view(document: Document) -> Member:
    return Member.model_validate({**document, "id": document["_id"]})


class BulkMembers:
    """`POST /v1/clubs/{club_id}/members:bulk`: each item checked on its own; the good
    ones stored together, a rejected item never blocking the others."""

    def __init__(self, registers: RegisterService, max_items: int) -> None:
        self._registers = registers
        self._max_items = max_items

    async def run(self, club_id: str, items: list[Any]) -> BulkResults:
        club = await self._registers.club(club_id)
        if len(items) > self._max_items:
            raise Problem(
                413,
                "too-many-members",
                "Too many members in one call",
                f"A bulk call holds at most {self._max_items} members; {len(items)} were sent.",
                limit_items=self._max_items,
            )
        results: list[ItemResult] = []
        prepared: dict[int, Prepared] = {}
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            try:
                body = MemberBulkItem.model_validate(item)
                if body.member_code in first:
                    raise invalid(
                        "duplicate-member",
                        "Member repeated",
                        f"Item {index} repeats member {body.member_code} of item "
                        f"{first[body.member_code]}.",
                        [index, "member_code"],
                    )
                first[body.member_code] = index
                prepared[index] = self._registers.prepare_member(
                    club, body.member_code, body, [index]
                )
                results.append(ItemResult(index=index, status="valid"))
            except ValidationError as exc:
                results.append(_invalid_item(index, exc))
            except Problem as problem:
                results.append(_rejected_item(index, problem))
        outcomes = await self._registers.write_members(list(prepared.values()), club["province_id"])
        for index, item_prepared in prepared.items():
            results[index] = ItemResult(
                index=index, status=outcomes[item_prepared.key].value, id=item_prepared.key
            )
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return BulkResults(results=results, counts=counts)


def _invalid_item(index: int, exc: ValidationError) -> ItemResult:
    return ItemResult(
        index=index,
        status="rejected",
        type=PROBLEM_BASE + "validation",
        errors=[
            ItemError(loc=[index, *(str(p) for p in error["loc"])], msg=error["msg"])
            for error in exc.errors()
        ],
    )


def _rejected_item(index: int, problem: Problem) -> ItemResult:
    return ItemResult(
        index=index,
        status="rejected",
        type=PROBLEM_BASE + problem.kind,
        errors=[ItemError(loc=e["loc"], msg=e["msg"]) for e in problem.errors or []],
    )
