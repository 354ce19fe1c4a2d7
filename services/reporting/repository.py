"""All of the reporting service's MongoDB access.

Read models live in *generations*: every collection name ends with the generation
(`facts_g1`, `units_g1`, …). Queries read the active generation; a rebuild fills the
next one and `reporting_meta` records the switch, so a restart reads the right one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared.mongo import Database, Document
from shared.replica import apply_latest

META = "reporting_meta"
DEAD_LETTERS = "dead_letters"
COLLECTIONS = ("units", "programmes", "targets", "sites", "clubs", "members", "facts")
FIRST_GENERATION = "g1"

# Sums a flow query returns per group: every measure a fact carries.
MEASURES = (
    "n",
    "female",
    "male",
    "em",
    "emk",
    "recipients",
    "women",
    "children",
    "value_vnd",
    "budget_vnd",
    "days",
)


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
        self.facts = self._collection("facts")

    def _collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[f"{name}_{self.generation}"]

    async def create_indexes(self) -> None:
        """What the queries need on a real server (documented in docs/reporting.md)."""
        await self.facts.create_index([("lineage", ASCENDING), ("on", ASCENDING)])
        await self.facts.create_index([("r34", ASCENDING), ("on", ASCENDING)])
        await self.facts.create_index([("pending", ASCENDING)])
        await self.clubs.create_index([("established_on", ASCENDING)])
        await self.members.create_index([("club_id", ASCENDING), ("joined_on", ASCENDING)])

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

    # --- facts (highest activity version wins) -----------------------------------

    async def apply_facts(self, facts: Sequence[Document]) -> int:
        """Insert unseen facts and replace held ones by higher versions; returns how
        many changed. A version not above the one held changes nothing."""
        newest: dict[str, Document] = {}
        for fact in facts:
            held = newest.get(fact["_id"])
            if held is None or fact["version"] > held["version"]:
                newest[fact["_id"]] = fact
        held_versions = {
            row["_id"]: row["version"]
            async for row in self.facts.find({"_id": {"$in": list(newest)}}, {"version": 1})
        }
        inserts = [fact for key, fact in newest.items() if key not in held_versions]
        replaces = [
            fact
            for key, fact in newest.items()
            if key in held_versions and fact["version"] > held_versions[key]
        ]
        changed = 0
        if inserts:
            try:
                await self.facts.insert_many(inserts, ordered=False)
                changed += len(inserts)
            except BulkWriteError as exc:
                lost = {error["op"]["_id"] for error in exc.details.get("writeErrors", [])}
                changed += len(inserts) - len(lost)
                replaces.extend(fact for fact in inserts if fact["_id"] in lost)
        for fact in replaces:
            result = await self.facts.replace_one(
                {"_id": fact["_id"], "version": {"$lt": fact["version"]}}, fact
            )
            changed += result.modified_count
        return changed

    async def facts_to_place(self, unit_ids: Sequence[str]) -> list[Document]:
        """Facts whose placement may change: pending ones, and those below `unit_ids`."""
        query: Document = {"pending": True}
        if unit_ids:
            query = {"$or": [query, {"lineage": {"$in": list(unit_ids)}}]}
        projection = {"_id": 1, "version": 1, "unit_id": 1, "status": 1}
        return await self.facts.find(query, projection).to_list(None)

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
    ) -> list[Document]:
        """Sums of every measure of the matching facts, per leaf unit and `group_fields`
        (output name → fact field). `restated` reads the vn34 placement and weighs each
        fact by its share. The leaf unit comes back as `_id.u`."""
        match: Document = {
            "r34" if restated else "lineage": unit_id,
            "on": {"$gte": start, "$lte": end},
            "status": "active",
            "type": {"$in": list(types)},
        }
        if programme is not None:
            match["programme"] = programme
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

    async def activity_counts_by_unit(self, unit_id: str, start: str, end: str) -> list[Document]:
        """How many active facts each unit (as it was) has below `unit_id` in a period."""
        pipeline: list[Document] = [
            {
                "$match": {
                    "lineage": unit_id,
                    "on": {"$gte": start, "$lte": end},
                    "status": "active",
                }
            },
            {"$group": {"_id": "$unit_id", "n": {"$sum": 1}}},
        ]
        cursor = await self.facts.aggregate(pipeline)
        return await cursor.to_list(None)

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
