"""All of the reporting service's MongoDB access.

Read models live in *generations*: every collection name ends with the generation
(`facts_g1`, `units_g1`, …). Queries read the active generation; a rebuild fills the
next one and `reporting_meta` records the switch, so a restart reads the right one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING, DeleteOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from services.reporting.approvals import APPROVED_STATES, Region
from services.reporting.rollups import (
    AS_WAS,
    MEASURES,
    ROW_KEYS,
    CellKey,
    groups,
    span,
)
from shared.mongo import DUPLICATE_KEY, Database, Document, create_partial_index
from shared.replica import apply_latest
from shared.units import NATION_ID

META = "reporting_meta"
DEAD_LETTERS = "dead_letters"
COLLECTIONS = (
    "units",
    "programmes",
    "targets",
    "sites",
    "clubs",
    "members",
    "approvals",
    "locks",
    "facts",
    "rollups",
    "rollup_todo",
)
FIRST_GENERATION = "g1"

# Fact fields a cell recomputation reads.
_FOR_CELLS = dict.fromkeys((*MEASURES, *ROW_KEYS.values(), "unit_id", "v34", "m"), 1)


class ReadModels:
    """The collections of one generation."""

    def __init__(self, db: Database, generation: str) -> None:
        self.db = db
        self.generation = generation
        self.units = self._collection("units")
        self.programmes = self._collection("programmes")
        self.targets = self._collection("targets")
        self.sites = self._collection("sites")
        self.clubs = self._collection("clubs")
        self.members = self._collection("members")
        self.approvals = self._collection("approvals")
        self.locks = self._collection("locks")
        self.facts = self._collection("facts")
        self.rollups = self._collection("rollups")
        self.rollup_todo = self._collection("rollup_todo")

    def _collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[f"{name}_{self.generation}"]

    async def create_indexes(self) -> None:
        """What the queries need on a real server (documented in docs/reporting.md)."""
        await self.facts.create_index([("lineage", ASCENDING), ("on", ASCENDING)])
        await self.facts.create_index([("r34", ASCENDING), ("on", ASCENDING)])
        # Facts waiting for a unit: a partial index, holding only those rather than an
        # entry for every fact (as earlier versions did).
        await create_partial_index(
            self.facts,
            [("pending", ASCENDING)],
            name="pending_facts",
            only={"pending": True},
            replaces=["pending_1"],
        )
        # Recomputing a cell: the facts placed on its unit in its month.
        await self.facts.create_index([("unit_id", ASCENDING), ("m", ASCENDING)])
        await self.facts.create_index([("v34.u", ASCENDING), ("m", ASCENDING)])
        # Reading and recomputing cells: those of a unit's children.
        await self.rollups.create_index([("s", ASCENDING), ("pu", ASCENDING), ("m", ASCENDING)])
        await self.clubs.create_index([("established_on", ASCENDING)])
        await self.members.create_index([("club_id", ASCENDING), ("joined_on", ASCENDING)])
        # Approved data of a request: the approved records whose period meets it.
        await self.approvals.create_index(
            [("state", ASCENDING), ("programme", ASCENDING), ("starts_on", ASCENDING)]
        )
        # The approval report: the records of one programme and period.
        await self.approvals.create_index([("programme", ASCENDING), ("period", ASCENDING)])
        await self.locks.create_index([("programme", ASCENDING), ("starts_on", ASCENDING)])

    async def drop(self) -> None:
        for name in COLLECTIONS:
            await self.db.drop_collection(f"{name}_{self.generation}")

    # --- registry entities (highest revision wins) -------------------------------

    async def apply_entities(self, name: str, documents: Sequence[Document]) -> list[Document]:
        collection: AsyncCollection[Document] = getattr(self, name)
        return await apply_latest(collection, documents)

    async def all_units(self) -> list[Document]:
        return await self.units.find({}).to_list(None)

    async def all_programmes(self) -> list[Document]:
        return await self.programmes.find({}).sort("_id", 1).to_list(None)

    async def targets_of(self, programme: str) -> Document | None:
        return await self.targets.find_one({"_id": programme})

    # --- approvals and locks (registry entities, highest revision wins) -------------

    async def approved_records(self, programme: str | None, start: str, end: str) -> list[Document]:
        """Records in state approved or accepted whose period meets `[start, end]`."""
        query: Document = {
            "state": {"$in": list(APPROVED_STATES)},
            "starts_on": {"$lte": end},
            "ends_on": {"$gte": start},
        }
        if programme is not None:
            query["programme"] = programme
        fields = {"programme": 1, "unit_id": 1, "state": 1, "starts_on": 1, "ends_on": 1}
        return await self.approvals.find(query, fields).to_list(None)

    async def approval_records(self, programme: str, period: str) -> list[Document]:
        """Every record of one programme and period (the approval report)."""
        query = {"programme": programme, "period": period}
        return await self.approvals.find(query).to_list(None)

    async def locks_meeting(self, programme: str, start: str, end: str) -> list[Document]:
        """Locks in force of a programme whose period meets `[start, end]`."""
        query = {
            "programme": programme,
            "locked": True,
            "starts_on": {"$lte": end},
            "ends_on": {"$gte": start},
        }
        return await self.locks.find(query).to_list(None)

    # --- facts (highest activity version wins) -----------------------------------

    async def held_facts(self, keys: Sequence[str]) -> dict[str, Document]:
        """The stored facts of these activities: their version, where they count and what
        they count (what a new version takes out of the cells)."""
        fields = ("version", "status", "m", "unit_id", "lineage", "r34", "v34", *_FOR_CELLS)
        projection = dict.fromkeys(fields, 1)
        rows = self.facts.find({"_id": {"$in": list(keys)}}, projection)
        return {row["_id"]: row async for row in rows}

    async def write_facts(self, inserts: Sequence[Document], replaces: Sequence[Document]) -> None:
        """Insert unseen facts and replace held ones by higher versions. A version not
        above the one held changes nothing, whoever wrote in between."""
        if inserts:
            try:
                await self.facts.insert_many(inserts, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(error.get("code") != DUPLICATE_KEY for error in errors):
                    raise
                lost = {error["op"]["_id"] for error in errors}
                replaces = [*replaces, *(fact for fact in inserts if fact["_id"] in lost)]
        if replaces:
            await self.facts.bulk_write(
                [
                    ReplaceOne({"_id": fact["_id"], "version": {"$lt": fact["version"]}}, fact)
                    for fact in replaces
                ],
                ordered=False,
            )

    async def facts_to_place(self, unit_ids: Sequence[str]) -> list[Document]:
        """Facts whose placement may change: pending ones, and those below `unit_ids`."""
        fields = ("version", "unit_id", "status", "m", "lineage", "r34", "v34", "pending")
        projection = dict.fromkeys(fields, 1)
        # Two indexed reads rather than one `$or`, which no index serves as a whole.
        found = {fact["_id"]: fact async for fact in self.facts.find({"pending": True}, projection)}
        if unit_ids:
            async for fact in self.facts.find({"lineage": {"$in": list(unit_ids)}}, projection):
                found[fact["_id"]] = fact
        return list(found.values())

    async def set_placements(self, updates: Sequence[tuple[str, int, Document]]) -> None:
        if updates:
            await self.facts.bulk_write(
                [
                    UpdateOne({"_id": key, "version": version}, {"$set": fields})
                    for key, version, fields in updates
                ],
                ordered=False,
            )

    async def flow_groups(
        self,
        *,
        restated: bool,
        unit_id: str,
        start: str,
        end: str,
        types: Sequence[str],
        programme: str | None,
        group_fields: dict[str, str],
        granularity: str = "children",
        reached: Callable[[str], bool] | None = None,
    ) -> list[Document]:
        """Sums of every measure of the facts counting at `unit_id` in `[start, end]`,
        per unit and `group_fields` (output name → fact field: `m`, `type`,
        `support_kind`, `grade`). The unit comes back as `_id.u`:

        - `granularity="unit"`: `unit_id` itself, for its total;
        - `"children"`: each child of it, plus `unit_id` for the facts placed on it;
        - `"level"`: going down from `unit_id`, every unit for which `reached(unit)`
          holds (its whole subtree), plus each unit passed on the way for the facts
          placed on it directly.

        Whole months and years are read from the cells (rollups.py), one read per
        level walked; the days of a partial month at either end from the facts."""
        structure = "vn34" if restated else AS_WAS
        period = span(
            date.fromisoformat(start), date.fromisoformat(end), years="m" not in group_fields
        )
        periods = [*period.years, *period.months]

        def summed(documents: Sequence[Document], part: str) -> list[Document]:
            return groups(
                documents,
                part=part,
                types=types,
                programme=programme,
                group_fields=group_fields,
            )

        found: list[Document] = []
        if periods:
            own = await self.cells([CellKey(structure, unit_id, p).id for p in periods])
            if granularity == "unit":
                found += summed(own, "rows")
            elif granularity == "children":
                found += summed(own, "own")
                found += summed(await self.child_cells(structure, [unit_id], periods), "rows")
            else:
                found += summed(own, "own")
                frontier = [unit_id]
                while frontier:
                    below = await self.child_cells(structure, frontier, periods)
                    done = [cell for cell in below if reached is None or reached(cell["u"])]
                    passed = [
                        cell for cell in below if reached is not None and not reached(cell["u"])
                    ]
                    found += summed(done, "rows") + summed(passed, "own")
                    frontier = sorted({cell["u"] for cell in passed})
        for first, last in period.partial:
            found += await self._fact_groups(
                restated=restated,
                unit_id=unit_id,
                start=first.isoformat(),
                end=last.isoformat(),
                types=types,
                programme=programme,
                group_fields=group_fields,
            )
        return found

    async def _fact_groups(
        self,
        *,
        restated: bool,
        unit_id: str,
        start: str,
        end: str,
        types: Sequence[str],
        programme: str | None,
        group_fields: dict[str, str],
    ) -> list[Document]:
        """The same sums straight from the facts, for a few days (the partial months)."""
        match: Document = {
            "r34" if restated else "lineage": unit_id,
            "on": {"$gte": start, "$lte": end},
            "status": "active",
            "type": {"$in": list(types)},
        }
        if programme is not None:
            match["programme"] = programme
        return await self._grouped(match, restated, group_fields)

    async def approved_fact_groups(
        self,
        *,
        restated: bool,
        unit_id: str,
        regions: Sequence[Region],
        types: Sequence[str],
        group_fields: dict[str, str],
    ) -> list[Document]:
        """The sums of `flow_groups`, of the approved facts only: one read per region
        (approvals.py) through the `(lineage, on)` index. As the units were, a region's
        roots lie at or below `unit_id`; restated, the facts must also reach `unit_id`."""
        found: list[Document] = []
        for region in regions:
            match: Document = {
                "lineage": {"$in": list(region.roots)},
                "on": {"$gte": region.start.isoformat(), "$lte": region.end.isoformat()},
                "status": "active",
                "type": {"$in": list(types)},
                "programme": region.programme,
            }
            if restated and unit_id != NATION_ID:
                match["r34"] = unit_id
            found += await self._grouped(match, restated, group_fields)
        return found

    async def _grouped(
        self, match: Document, restated: bool, group_fields: dict[str, str]
    ) -> list[Document]:
        key: Document = {"u": "$v34.u" if restated else "$unit_id"}
        key.update({name: f"${field}" for name, field in group_fields.items()})
        sums: Document
        if restated:
            sums = {m: {"$sum": {"$multiply": [f"${m}", "$v34.s"]}} for m in MEASURES}
            pipeline: list[Document] = [{"$match": match}, {"$unwind": "$v34"}]
        else:
            sums = {m: {"$sum": f"${m}"} for m in MEASURES}
            pipeline = [{"$match": match}]
        pipeline.append({"$group": {"_id": key, **sums}})
        cursor = await self.facts.aggregate(pipeline)
        return await cursor.to_list(None)

    async def activity_counts_by_unit(
        self, unit_id: str, start: str, end: str, programme: str | None = None
    ) -> list[Document]:
        """How many active facts (of `programme` when given) are placed on each unit (as
        it was) below `unit_id` in a period: from the cells, level by level down, for
        whole months and years."""
        period = span(date.fromisoformat(start), date.fromisoformat(end), years=True)
        periods = [*period.years, *period.months]
        counts: dict[str, float] = {}
        parents = [unit_id]
        if periods:
            for cell in await self.cells([CellKey(AS_WAS, unit_id, p).id for p in periods]):
                counts[unit_id] = counts.get(unit_id, 0) + _count(cell["own"], programme)
        while parents and periods:
            below = await self.child_cells(AS_WAS, parents, periods)
            for cell in below:
                counts[cell["u"]] = counts.get(cell["u"], 0) + _count(cell["own"], programme)
            parents = sorted({cell["u"] for cell in below})
        for first, last in period.partial:
            match: Document = {
                "lineage": unit_id,
                "on": {"$gte": first.isoformat(), "$lte": last.isoformat()},
                "status": "active",
            }
            if programme is not None:
                match["programme"] = programme
            pipeline: list[Document] = [
                {"$match": match},
                {"$group": {"_id": "$unit_id", "n": {"$sum": 1}}},
            ]
            for row in await (await self.facts.aggregate(pipeline)).to_list(None):
                counts[row["_id"]] = counts.get(row["_id"], 0) + row["n"]
        return [{"_id": unit, "n": int(n)} for unit, n in sorted(counts.items()) if n]

    # --- cells (rollups.py) ----------------------------------------------------------

    async def cells(self, ids: Sequence[str]) -> list[Document]:
        return await self.rollups.find({"_id": {"$in": list(ids)}}).to_list(None)

    async def child_cells(
        self, structure: str, parents: Sequence[str], periods: Sequence[str]
    ) -> list[Document]:
        query = {"s": structure, "pu": {"$in": list(parents)}, "m": {"$in": list(periods)}}
        return await self.rollups.find(query).to_list(None)

    async def placed_facts(
        self, structure: str, units: Sequence[str], months: Sequence[str]
    ) -> list[Document]:
        """Active facts placed directly on these units in these months."""
        field = "unit_id" if structure == AS_WAS else "v34.u"
        query = {field: {"$in": list(units)}, "m": {"$in": list(months)}, "status": "active"}
        return await self.facts.find(query, _FOR_CELLS).to_list(None)

    async def save_cells(self, documents: Sequence[Document], empty: Sequence[str]) -> None:
        operations: list[ReplaceOne[Document] | DeleteOne] = [
            ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in documents
        ]
        operations += [DeleteOne({"_id": key}) for key in empty]
        if operations:
            await self.rollups.bulk_write(operations, ordered=False)

    async def add_todo(self, key: str, cells: Sequence[str]) -> None:
        await self.rollup_todo.insert_one({"_id": key, "cells": list(cells)})

    async def todos(self) -> list[Document]:
        return await self.rollup_todo.find({}).sort("_id", 1).to_list(None)

    async def remove_todos(self, keys: Sequence[str]) -> None:
        await self.rollup_todo.delete_many({"_id": {"$in": list(keys)}})

    async def count_facts(self) -> int:
        return await self.facts.count_documents({})

    # --- clubs and members (stock at a date) -------------------------------------

    async def clubs_at(self, day: str, programme: str | None) -> list[Document]:
        query: Document = {
            "established_on": {"$lte": day},
            "$or": [{"dissolved_on": None}, {"dissolved_on": {"$gt": day}}],
        }
        if programme is not None:
            query["programme"] = programme
        projection = {"_id": 1, "unit_id": 1, "kind": 1, "programme": 1}
        return await self.clubs.find(query, projection).to_list(None)

    async def member_groups(self, day: str, club_ids: Sequence[str]) -> list[Document]:
        """Members on `day` per club, sex and ethnic-minority flag."""
        pipeline: list[Document] = [
            {
                "$match": {
                    "club_id": {"$in": list(club_ids)},
                    "joined_on": {"$lte": day},
                    "$or": [{"left_on": None}, {"left_on": {"$gt": day}}],
                }
            },
            {
                "$group": {
                    "_id": {"c": "$club_id", "sex": "$sex", "em": "$ethnic_minority"},
                    "n": {"$sum": 1},
                }
            },
        ]
        cursor = await self.members.aggregate(pipeline)
        return await cursor.to_list(None)


def _count(rows: Sequence[Document], programme: str | None = None) -> float:
    return sum(
        float(row.get("n") or 0) for row in rows if programme is None or row.get("p") == programme
    )


class RebuildRunning(Exception):
    """A rebuild is already asked for or under way."""


class MetaRepository:
    """Which generation is active, and the state of the current or last rebuild."""

    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[META]

    async def active_generation(self) -> str:
        found = await self._collection.find_one({"_id": "generation"})
        return str(found["active"]) if found else FIRST_GENERATION

    async def set_active_generation(self, generation: str) -> None:
        await self._collection.update_one(
            {"_id": "generation"},
            {"$set": {"active": generation, "switched_at": datetime.now(UTC)}},
            upsert=True,
        )

    async def rebuild(self) -> Document | None:
        return await self._collection.find_one({"_id": "rebuild"}, {"_id": 0})

    async def request_rebuild(self, generation: str) -> dict[str, Any]:
        """Ask the projecting replica for a rebuild; `RebuildRunning` if one is asked or
        under way already."""
        current = await self.rebuild()
        if current and current.get("status") in ("requested", "running"):
            raise RebuildRunning
        state: dict[str, Any] = {
            "status": "requested",
            "generation": generation,
            "requested_at": datetime.now(UTC),
        }
        await self.save_rebuild(state)
        return state

    async def save_rebuild(self, state: dict[str, Any]) -> None:
        await self._collection.replace_one({"_id": "rebuild"}, {"_id": "rebuild", **state}, True)


class DeadLetterPages:
    """Dead letters listed page by page (the shared repository lists without cursors)."""

    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[DEAD_LETTERS]

    async def page(self, status: str | None, after: str | None, limit: int) -> list[Document]:
        query: Document = {}
        if status is not None:
            query["status"] = status
        if after is not None:
            query["_id"] = {"$gt": after}
        return await self._collection.find(query).sort("_id", 1).limit(limit).to_list(None)
