"""Use cases for the provinces' registers: sites and clubs (members: `members.py`).

Each write is split in two: `prepare_*` checks a body and builds the state to store
(raising a `Problem` when it cannot be accepted) without writing anything, and
`write_*` stores prepared states. A PUT does both; an import prepares every row
first and writes only when all rows (or, with `partial`, the good ones) passed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.registry import messages
from services.registry.permissions import require_for
from services.registry.programmes import ProgrammeService
from services.registry.repository import RecordQuery, Repositories, RevisionedRepository
from services.registry.schemas import (
    Club,
    ClubIn,
    MemberCounts,
    Site,
    SiteIn,
)
from services.registry.service import UnitService
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.principal import Role
from shared.contracts import CloudEvent
from shared.edge import problems
from shared.edge.authorization import forbidden, viewable_provinces
from shared.edge.dates import future_date_error, today_in_vietnam
from shared.edge.i18n import say
from shared.edge.text import nfc
from shared.http import Problem
from shared.mongo import Document
from shared.units import NATION_ID, REFORM_DATE
from shared.versioned import Outcome

State = dict[str, Any]
Loc = list[str | int]
_SITES = uuid.UUID("6f0c3a52-58d4-4c1e-9a54-0a1b7f5d2e01")
_CLUBS = uuid.UUID("0e7d9b0c-2f8e-4a7b-b1d4-5c3e9f6a8b02")


def site_id_of(source_system: str, external_id: str) -> str:
    """Stable: the same natural key always gives the same id (UUID 5)."""
    return str(uuid.uuid5(_SITES, f"{source_system}:{external_id}"))


def club_id_of(source_system: str, external_id: str) -> str:
    return str(uuid.uuid5(_CLUBS, f"{source_system}:{external_id}"))


@dataclass(frozen=True)
class Prepared:
    key: str
    state: State


@dataclass(frozen=True)
class Stored:
    """What a write did: the record's id, the outcome and its revision after it."""

    key: str
    outcome: Outcome
    revision: int


Register = Literal["site", "club"]


class RegisterService:
    """Sites and clubs."""

    def __init__(
        self, repositories: Repositories, units: UnitService, programmes: ProgrammeService
    ) -> None:
        self._sites = repositories.sites
        self._clubs = repositories.clubs
        self._units = units
        self._programmes = programmes

    # ------------------------------------------------------------------ sites
    async def prepare_site(
        self, source_system: str, external_id: str, body: SiteIn, loc: Loc, caller: Principal
    ) -> Prepared:
        unit = await self._units.unit_for(body.unit_id, caller, "submitter", [*loc, "unit_id"])
        if unit["level"] == "nation":
            raise problems.invalid(
                "site-unit-level",
                say(
                    "A site lies in a province, district, commune or village",
                    "Điểm phải thuộc một tỉnh, huyện, xã hoặc thôn",
                ),
                say(
                    "A site cannot be placed at national level.",
                    "Không thể đặt điểm ở cấp toàn quốc.",
                ),
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

    async def put_site(
        self, source_system: str, external_id: str, body: SiteIn, caller: Principal
    ) -> Stored:
        prepared = await self.prepare_site(source_system, external_id, body, ["body"], caller)
        for problem in (await self.held_elsewhere("site", [prepared], caller, ["body"])).values():
            raise problem
        return await self.write_site(prepared)

    async def write_site(self, prepared: Prepared) -> Stored:
        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [messages.site_upserted(prepared.state, revision)]

        written = await self._sites.put(prepared.key, prepared.state, events_for)
        return _noted("site.upserted", prepared, written.outcome, written.revision)

    async def held_elsewhere(
        self, register: Register, prepared: Sequence[Prepared], caller: Principal, loc: Loc
    ) -> dict[str, Problem]:
        """403s for records stored under a province the caller may not write for: a
        natural key is not the province's own, so moving a record out of a province
        needs that province too. One `$in` read for all of them."""
        repository: RevisionedRepository = self._sites if register == "site" else self._clubs
        held = await repository.get_many([item.key for item in prepared])
        refused: dict[str, Problem] = {}
        for item in prepared:
            before = held.get(item.key)
            if before is None or before.get("province_id") == item.state["province_id"]:
                continue
            province = before.get("province_id")
            if not caller.may("submitter", province):
                natural = f"{item.state['source_system']}/{item.state['external_id']}"
                label = {"site": "điểm", "club": "câu lạc bộ"}[register]
                refused[item.key] = forbidden(
                    caller,
                    "submitter",
                    province,
                    f"The {register} {natural} is registered in province {province}.",
                    f"{label.capitalize()} {natural} đã đăng ký ở tỉnh {province}.",
                    [*loc, "unit_id"],
                )
        return refused

    async def get_site(self, site_id: str, caller: Principal) -> Document:
        document = await self._sites.get(site_id)
        if document is None:
            raise problems.missing("site", site_id)
        _require_view(caller, "Site", "Điểm", site_id, document)
        return document

    async def sites(
        self, query: RecordQuery, unit_id: str | None, caller: Principal, limit: int
    ) -> list[Document]:
        """A page of the sites `query` selects, within `unit_id` (see `where`)."""
        return await self._sites.page(await self.within(query, unit_id, caller), limit)

    async def within(
        self, query: RecordQuery, unit_id: str | None, caller: Principal
    ) -> RecordQuery:
        """`query` narrowed to records in the unit or below, which the caller must be
        allowed to read; without a unit (or `vn`), to those of the caller's provinces
        (all for national scope)."""
        if unit_id is None or unit_id == NATION_ID:
            return replace(query, provinces=viewable_provinces(caller))
        await self._units.unit_for(unit_id, caller, "viewer", ["query", "unit_id"])
        return replace(query, unit_ids=sorted(self._units.directory.subtree(unit_id)))

    # ------------------------------------------------------------------ clubs
    async def prepare_club(
        self, source_system: str, external_id: str, body: ClubIn, loc: Loc, caller: Principal
    ) -> Prepared:
        found: list[Problem] = []
        unit: State | None = None
        try:
            unit = await self._units.unit_for(body.unit_id, caller, "submitter", [*loc, "unit_id"])
        except Problem as problem:
            if problem.status == 403:
                raise
            found.append(problem)
        if unit is not None and unit["level"] not in ("commune", "village"):
            found.append(
                problems.invalid(
                    "club-unit-level",
                    say("A club belongs to a commune or a village", "CLB phải thuộc xã hoặc thôn"),
                    say(
                        f"{body.unit_id} is a {unit['level']}; give the club's commune or village.",
                        f"{body.unit_id} là cấp {unit['level']}; hãy ghi xã hoặc thôn của CLB.",
                    ),
                    [*loc, "unit_id"],
                )
            )
            unit = None
        if unit is not None and unit["edition"] == "vn63" and body.established_on >= REFORM_DATE:
            found.append(
                problems.invalid(
                    "unit-not-in-force",
                    say("Unit no longer in force", "Đơn vị không còn hiệu lực"),
                    say(
                        f"{body.unit_id} ceased on {unit['valid_to']}; a club established on "
                        f"{body.established_on} belongs to a vn34 unit.",
                        f"{body.unit_id} chấm dứt ngày {unit['valid_to']}; CLB thành lập ngày "
                        f"{body.established_on} phải thuộc đơn vị vn34.",
                    ),
                    [*loc, "unit_id"],
                )
            )
        if not await self._programmes.exists(body.programme):
            found.append(
                problems.unknown_reference("programme", body.programme, [*loc, "programme"])
            )
        today = today_in_vietnam()
        for name in ("established_on", "dissolved_on"):
            day = getattr(body, name)
            error = None if day is None else future_date_error([*loc, name], day, today)
            if error is not None:
                found.append(_future(error))
        if body.dissolved_on is not None and body.dissolved_on < body.established_on:
            found.append(
                problems.invalid(
                    "dissolved-before-established",
                    say("Dissolved before established", "Giải thể trước khi thành lập"),
                    say(
                        f"dissolved_on {body.dissolved_on} is before established_on "
                        f"{body.established_on}.",
                        f"Ngày giải thể {body.dissolved_on} trước ngày thành lập "
                        f"{body.established_on}.",
                    ),
                    [*loc, "dissolved_on"],
                )
            )
        if body.site_id is not None:
            site_problem = await self._site_problem(body.site_id, unit, [*loc, "site_id"], caller)
            if site_problem is not None:
                found.append(site_problem)
        if found or unit is None:
            raise problems.combined(found)
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

    async def _site_problem(
        self, site_id: str, unit: State | None, loc: Loc, caller: Principal
    ) -> Problem | None:
        site = await self._sites.get(site_id)
        # A site of a province the caller may not read is not shown to exist.
        if site is None or not caller.may("viewer", site.get("province_id")):
            return problems.unknown_reference("site", site_id, loc)
        if unit is None:
            return None
        directory = self._units.directory
        # A school's club lies in the school's commune; a district or provincial
        # agency's club anywhere within the agency's unit.
        area = directory.commune_of(site["unit_id"]) or site["unit_id"]
        if not directory.within(unit["id"], area):
            return problems.invalid(
                "club-outside-site",
                say("Club outside its site's commune", "CLB nằm ngoài xã của điểm"),
                say(
                    f"The club's unit {unit['id']} is not within {area}, where site "
                    f"{site_id} ({site['name']}) lies.",
                    f"Đơn vị {unit['id']} của CLB không thuộc {area}, nơi có điểm "
                    f"{site_id} ({site['name']}).",
                ),
                loc,
            )
        return None

    async def put_club(
        self, source_system: str, external_id: str, body: ClubIn, caller: Principal
    ) -> Stored:
        prepared = await self.prepare_club(source_system, external_id, body, ["body"], caller)
        for problem in (await self.held_elsewhere("club", [prepared], caller, ["body"])).values():
            raise problem
        return await self.write_club(prepared)

    async def write_club(self, prepared: Prepared) -> Stored:
        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [messages.club_upserted(prepared.state, revision)]

        written = await self._clubs.put(prepared.key, prepared.state, events_for)
        return _noted("club.upserted", prepared, written.outcome, written.revision)

    async def club(self, club_id: str) -> Document:
        document = await self._clubs.get(club_id)
        if document is None:
            raise problems.missing("club", club_id)
        return document

    async def club_for(self, club_id: str, caller: Principal, role: Role) -> Document:
        """The club (404 when none), once the caller holds `role` for its province."""
        document = await self.club(club_id)
        province = document.get("province_id")
        require_for(caller, role, province, f"Club {club_id}", f"Câu lạc bộ {club_id}")
        return document

    async def clubs(
        self, query: RecordQuery, unit_id: str | None, caller: Principal, limit: int
    ) -> list[Document]:
        """A page of the clubs `query` selects, within `unit_id` (see `within`)."""
        return await self._clubs.page(await self.within(query, unit_id, caller), limit)


def _require_view(
    caller: Principal, label_en: str, label_vi: str, record_id: str, document: Document
) -> None:
    province = document.get("province_id")
    require_for(caller, "viewer", province, f"{label_en} {record_id}", f"{label_vi} {record_id}")


def _future(error: dict[str, Any]) -> Problem:
    return problems.invalid(
        "date-in-future",
        say("Date in the future", "Ngày trong tương lai"),
        error["msg"],
        error["loc"],
    )


def _noted(action: str, prepared: Prepared, outcome: Outcome, revision: int) -> Stored:
    """Audit an accepted site or club write under its natural key."""
    state = prepared.state
    note_write(action, f"{state['source_system']}/{state['external_id']}", revision)
    return Stored(prepared.key, outcome, revision)


def site_view(document: Document) -> Site:
    return Site.model_validate({**document, "id": document["_id"]})


def club_view(document: Document, counts: MemberCounts) -> Club:
    return Club.model_validate({**document, "id": document["_id"], "members": counts})
