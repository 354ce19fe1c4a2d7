"""All of the events service's MongoDB access.

Activities are keyed by an id derived from `(source_system, external_id)`, so the
unique `_id` index is what makes concurrent creators of one key meet: the first
insert wins, the others get a duplicate-key error and revise instead. Every later
write is a compare-and-set on the `write_token` read, and carries its events in
the same document write (`_outbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from services.events.transitions import STATE_FIELDS, Change, Status
from shared.mongo import DUPLICATE_KEY, Database, Document, create_partial_index
from shared.outbox import OUTBOX_FIELD, outbox_fields, with_outbox
from shared.replica import apply_latest

ACTIVITIES = "activities"
# The events service's own replica of registry data, built from `REGISTRY`.
REF_UNITS = "ref_units"
REF_CLUBS = "ref_clubs"
REF_SITES = "ref_sites"
REF_PROGRAMMES = "ref_programmes"
REF_LOCKS = "ref_locks"
# Collections whose documents carry pending events for the outbox relay.
OUTBOX_COLLECTIONS = (ACTIVITIES,)

_HIDDEN = {OUTBOX_FIELD: 0, "history": 0, "write_token": 0}
_HIDE_OUTBOX = {OUTBOX_FIELD: 0}
_ORDER = [("activity.started_on", ASCENDING), ("_id", ASCENDING)]


@dataclass(frozen=True)
class ActivityQuery:
    lineage: str | None = None
    # Only activities of these provinces (`None`: any, including those not placed yet).
    provinces: tuple[str, ...] | None = None
    type: str | None = None
    programme: str | None = None
    source_system: str | None = None
    started_from: str | None = None
    started_to: str | None = None
    statuses: tuple[str, ...] = ()
    # Only activities written (created, revised, voided, resolved) at or after this.
    updated_since: datetime | None = None
    # Resume after this (started_on, id).
    after: tuple[str, str] | None = None

    def filter(self) -> Document:
        clauses: list[Document] = []
        for name, value in (
            ("lineage", self.lineage),
            ("activity.type", self.type),
            ("activity.programme", self.programme),
            ("source_system", self.source_system),
        ):
            if value is not None:
                clauses.append({name: value})
        if self.provinces is not None:
            clauses.append({"province_id": {"$in": list(self.provinces)}})
        dates: Document = {}
        if self.started_from is not None:
            dates["$gte"] = self.started_from
        if self.started_to is not None:
            dates["$lte"] = self.started_to
        if dates:
            clauses.append({"activity.started_on": dates})
        if self.statuses:
            clauses.append({"status": {"$in": list(self.statuses)}})
        if self.updated_since is not None:
            clauses.append({"updated_at": {"$gte": self.updated_since}})
        if self.after is not None:
            started_on, last_id = self.after
            clauses.append(
                {
                    "$or": [
                        {"activity.started_on": {"$gt": started_on}},
                        {"activity.started_on": started_on, "_id": {"$gt": last_id}},
                    ]
                }
            )
        return {"$and": clauses} if clauses else {}


def _keys_filter(keys: Sequence[str]) -> Document:
    return {"_id": {"$in": sorted(keys)}}


def _inserted(change: Change) -> Document:
    return {
        **change.document,
        "history": change.history,
        **outbox_fields(change.events),
    }


def _guarded_update(change: Change) -> tuple[Document, Document]:
    if change.previous is None:
        raise ValueError(f"activity {change.document['_id']!r}: an update needs its stored version")
    document = change.document
    update: Document = {"$set": {name: document.get(name) for name in STATE_FIELDS}}
    if change.history:
        update["$push"] = {"history": {"$each": change.history}}
    guard = {"_id": document["_id"], "write_token": change.previous["write_token"]}
    return guard, with_outbox(update, change.events)


class ActivityRepository:
    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[ACTIVITIES]

    async def ensure_indexes(self) -> None:
        # No secondary unique index: `_id` alone keeps keys unique.
        await self._collection.create_index("id")
        for keys in (
            [("lineage", ASCENDING), *_ORDER],
            # Lists of a client without national scope: its provinces only.
            [("province_id", ASCENDING), *_ORDER],
            [("source_system", ASCENDING), *_ORDER],
            [("activity.type", ASCENDING), *_ORDER],
            [("activity.programme", ASCENDING), *_ORDER],
            _ORDER,
        ):
            await self._collection.create_index(keys)
        # Pending activities, all or those waiting for some references: a partial index,
        # holding only the few that wait rather than an entry for every activity (earlier
        # versions indexed every activity, and on `pending_since`, which no query reads).
        await create_partial_index(
            self._collection,
            [("status", ASCENDING), ("pending_on", ASCENDING)],
            name="pending_on_references",
            only={"status": Status.PENDING.value},
            replaces=["status_1_pending_on_1", "status_1_pending_since_1"],
        )

    async def get(self, activity_id: str) -> Document | None:
        """One activity, by its public id, with its version history."""
        return await self._collection.find_one({"id": activity_id}, _HIDE_OUTBOX)

    async def current(self, activity_id: str) -> Document | None:
        return await self._collection.find_one({"id": activity_id}, {OUTBOX_FIELD: 0, "history": 0})

    async def current_many(self, keys: Sequence[str]) -> dict[str, Document]:
        """Activities by storage key (`_id`), in one query."""
        if not keys:
            return {}
        rows = self._collection.find(_keys_filter(keys), {OUTBOX_FIELD: 0, "history": 0})
        return {row["_id"]: row async for row in rows}

    async def insert(self, change: Change) -> None:
        """Raises `DuplicateKeyError` when the activity exists already."""
        await self._collection.insert_one(_inserted(change))

    async def insert_many(self, changes: Sequence[Change]) -> set[str]:
        """Insert new activities in one call; returns the ids that existed already."""
        if not changes:
            return set()
        try:
            await self._collection.insert_many([_inserted(c) for c in changes], ordered=False)
        except BulkWriteError as exc:
            errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
            other = [error for error in errors if error.get("code") != DUPLICATE_KEY]
            if other:
                raise
            return {changes[error["index"]].document["_id"] for error in errors}
        return set()

    async def update(self, change: Change) -> bool:
        """Write the change if nobody wrote the activity since it was read."""
        guard, update = _guarded_update(change)
        result = await self._collection.update_one(guard, update)
        return result.modified_count == 1

    async def update_many(self, changes: Sequence[Change]) -> set[str]:
        """Write many guarded changes in one call; returns the ids whose guard missed."""
        if not changes:
            return set()
        operations = [UpdateOne(*_guarded_update(change)) for change in changes]
        result = await self._collection.bulk_write(operations, ordered=False)
        if result.matched_count == len(changes):
            return set()
        expected = {c.document["_id"]: c.document["write_token"] for c in changes}
        rows = self._collection.find(_keys_filter(list(expected)), {"write_token": 1})
        written = {
            row["_id"] async for row in rows if row.get("write_token") == expected[row["_id"]]
        }
        return set(expected) - written

    async def page(self, query: ActivityQuery, limit: int) -> list[Document]:
        cursor = self._collection.find(query.filter(), _HIDDEN).sort(_ORDER).limit(limit)
        return await cursor.to_list(None)

    async def pending(self, references: Sequence[str] | None = None) -> list[Document]:
        """Pending activities, all of them or those waiting for one of `references`."""
        query: Document = {"status": Status.PENDING.value}
        if references is not None:
            query["pending_on"] = {"$in": list(references)}
        return await self._collection.find(query, {OUTBOX_FIELD: 0, "history": 0}).to_list(None)


class ReferenceRepository:
    """The replica of registry data, each entity kept at its highest revision."""

    def __init__(self, db: Database) -> None:
        self._units: AsyncCollection[Document] = db[REF_UNITS]
        self._clubs: AsyncCollection[Document] = db[REF_CLUBS]
        self._sites: AsyncCollection[Document] = db[REF_SITES]
        self._programmes: AsyncCollection[Document] = db[REF_PROGRAMMES]
        self._locks: AsyncCollection[Document] = db[REF_LOCKS]

    def _collection_of(self, kind: str) -> AsyncCollection[Document]:
        return {
            "unit": self._units,
            "club": self._clubs,
            "site": self._sites,
            "programme": self._programmes,
            "lock": self._locks,
        }[kind]

    async def apply(self, kind: str, documents: Sequence[Document]) -> list[Document]:
        """Keep, per `_id`, the highest revision; return the documents that changed.

        The revisions are read from the collection, not from memory: this replica's
        follower may have put a revision in memory before the consumer stores it.
        """
        return await apply_latest(self._collection_of(kind), documents)

    async def apply_locks(self, documents: Sequence[Document]) -> list[Document]:
        """Keep each lock at its highest revision (read from the collection, as `apply`)."""
        return await apply_latest(self._locks, documents)

    async def all_locks(self) -> list[Document]:
        return await self._locks.find({}).to_list(None)

    async def programme(self, code: str) -> Document | None:
        return await self._programmes.find_one({"_id": code})

    async def all_units(self) -> list[Document]:
        return await self._units.find({}).to_list(None)

    async def all_clubs(self) -> list[Document]:
        return await self._clubs.find({}).to_list(None)

    async def all_sites(self) -> list[Document]:
        return await self._sites.find({}).to_list(None)

    async def all_programmes(self) -> list[Document]:
        return await self._programmes.find({}).to_list(None)

    async def units(self, unit_ids: Sequence[str]) -> list[Document]:
        return await self._units.find({"_id": {"$in": list(unit_ids)}}).to_list(None)

    async def clubs(self, club_ids: Sequence[str]) -> list[Document]:
        return await self._clubs.find({"_id": {"$in": list(club_ids)}}).to_list(None)

    async def sites(self, site_ids: Sequence[str]) -> list[Document]:
        return await self._sites.find({"_id": {"$in": list(site_ids)}}).to_list(None)

    async def programmes(self, codes: Sequence[str]) -> list[Document]:
        return await self._programmes.find({"_id": {"$in": list(codes)}}).to_list(None)
