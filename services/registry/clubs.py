"""Use cases for the provinces' registers: sites and clubs (members: `members.py`).

Each write is split in two: `prepare_*` checks a body and builds the state to store
(raising a `Problem` when it cannot be accepted) without writing anything, and
`write_*` stores prepared states. A PUT does both; an import prepares every row
first and writes only when all rows (or, with `partial`, the good ones) passed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.registry import events
from services.registry.folding import nfc
from services.registry.problems import (
    club_not_found,
    combined,
    invalid,
    site_not_found,
    unknown_programme,
)
from services.registry.repository import Repositories
from services.registry.schemas import (
    Club,
    ClubIn,
    MemberCounts,
    Site,
    SiteIn,
)
from services.registry.service import ProgrammeService, UnitService
from shared.contracts import CloudEvent
from shared.http import Problem
from shared.mongo import Document
from shared.units import REFORM_DATE
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


def site_view(document: Document) -> Site:
    return Site.model_validate({**document, "id": document["_id"]})


def club_view(document: Document, counts: MemberCounts) -> Club:
    return Club.model_validate({**document, "id": document["_id"], "members": counts})
