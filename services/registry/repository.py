"""All of the registry's MongoDB access.

Every entity is one document with a natural `_id` and a `revision`, its pending
events riding in its `_outbox` until the relay has published them. The national
reference is stored as one document per province (see `reference.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.contracts import CloudEvent
from shared.mongo import Database, Document
from shared.outbox import (
    OUTBOX_FIELD,
    PENDING_FILTER,
    outbox_fields,
    with_outbox,
)
from shared.versioned import REVISION_FIELD, EventsFor, Written, put_revisioned

REFERENCE = "reference"
VILLAGES = "villages"
PROGRAMMES = "programmes"
TARGETS = "targets"
CLASSIFICATIONS = "classifications"
SITES = "sites"
CLUBS = "clubs"
MEMBERS = "members"
CLIENTS = "clients"
SIGNING_KEYS = "signing_keys"
LOCKS = "locks"
APPROVALS = "approvals"
PUBLISHING = "publishing"
# Collections whose documents carry pending events, in the order the relay visits
# them: units before the registers that refer to them.
OUTBOX_COLLECTIONS = (
    REFERENCE,
    VILLAGES,
    PROGRAMMES,
    TARGETS,
    CLASSIFICATIONS,
    SITES,
    CLUBS,
    MEMBERS,
    LOCKS,
    APPROVALS,
)
_HIDE_OUTBOX = {OUTBOX_FIELD: 0}
UPDATED_AT = "updated_at"
# Secondary indexes: what the lists and the checks look records up by.
_INDEXES: dict[str, tuple[str, ...]] = {
    CLASSIFICATIONS: ("unit_id",),
    SITES: ("unit_id", "province_id"),
    CLUBS: ("unit_id", "province_id", "programme"),
    MEMBERS: ("club_id",),
    LOCKS: ("unit_id", "province_id", "lineage"),
    APPROVALS: ("lineage", "province_id"),
    # The revocation list every service polls.
    CLIENTS: ("revoked_at",),
}
# Any revocation time is after this.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RecordQuery:
    """Which sites, clubs or members a list shows; turned into a filter here only."""

    unit_ids: Sequence[str] | None = None  # in one of these units (`None`: any)
    provinces: Sequence[str] | None = None  # of one of these provinces (`None`: any)
    kind: str | None = None
    programme: str | None = None
    club_id: str | None = None
    updated_since: datetime | None = None
    after: str | None = None  # resume after this `_id`

    def filter(self) -> Document:
        selector: Document = {}
        if self.unit_ids is not None:
            selector["unit_id"] = {"$in": list(self.unit_ids)}
        if self.provinces is not None:
            selector["province_id"] = {"$in": list(self.provinces)}
        for name in ("kind", "programme", "club_id"):
            value = getattr(self, name)
            if value is not None:
                selector[name] = value
        if self.updated_since is not None:
            selector[UPDATED_AT] = {"$gte": self.updated_since}
        if self.after is not None:
            selector["_id"] = {"$gt": self.after}
        return selector


def cursor_key(document: Mapping[str, Any]) -> list[str | int]:
    """What a page of records is resumed after (`RecordQuery.after`): its `_id`."""
    return [str(document["_id"])]


def now() -> datetime:
    return datetime.now(UTC)


class RevisionedRepository:
    """One collection of revisioned documents written through `put_revisioned`.

    Every write that changes a document stamps `updated_at`, which `updated_since`
    filters on (a province's system syncing what changed)."""

    def __init__(self, db: Database, name: str) -> None:
        self._collection: AsyncCollection[Document] = db[name]

    async def get(self, key: str) -> Document | None:
        return await self._collection.find_one({"_id": key}, _HIDE_OUTBOX)

    async def get_many(self, keys: Collection[str]) -> dict[str, Document]:
        if not keys:
            return {}
        found = self._collection.find({"_id": {"$in": list(keys)}}, _HIDE_OUTBOX)
        return {document["_id"]: document async for document in found}

    async def all(self) -> list[Document]:
        return await self._collection.find({}, _HIDE_OUTBOX).sort("_id", 1).to_list(None)

    async def put(self, key: str, state: Mapping[str, Any], events_for: EventsFor) -> Written:
        return await put_revisioned(
            self._collection, key, state, events_for, extra_on_change={UPDATED_AT: now()}
        )

    async def put_if_at(
        self,
        key: str,
        revision: int | None,
        state: Mapping[str, Any],
        events: Sequence[CloudEvent],
    ) -> bool:
        """Write `state` as the next revision if the document is still at `revision`
        (`None`: does not exist yet); `False` when another writer came first."""
        if revision is None:
            try:
                await self._collection.insert_one(new_document(key, state, events))
            except DuplicateKeyError:
                return False
            return True
        result = await self._collection.update_one(
            {"_id": key, REVISION_FIELD: revision},
            with_outbox(
                {"$set": {**state, REVISION_FIELD: revision + 1, UPDATED_AT: now()}}, events
            ),
        )
        return result.modified_count == 1

    async def page(self, query: RecordQuery, limit: int) -> list[Document]:
        """Up to `limit` documents matching `query`, by `_id`."""
        cursor = self._collection.find(query.filter(), _HIDE_OUTBOX).sort("_id", 1).limit(limit)
        return await cursor.to_list(None)


class ClassificationRepository(RevisionedRepository):
    def __init__(self, db: Database) -> None:
        super().__init__(db, CLASSIFICATIONS)

    async def periods_of(self, unit_id: str) -> dict[str, list[Any]]:
        """The periods of every classification of a unit, by name."""
        found = self._collection.find({"unit_id": unit_id}, _HIDE_OUTBOX)
        return {document["name"]: document["periods"] async for document in found}


class ReferenceRepository:
    """The national reference: one document per province chunk."""

    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[REFERENCE]

    async def chunks(self) -> list[Document]:
        return await self._collection.find({}, _HIDE_OUTBOX).to_list(None)

    async def insert(self, documents: Sequence[Document]) -> set[str]:
        """Insert new chunks with their events; returns the ids another writer had."""
        try:
            await self._collection.insert_many(list(documents), ordered=False)
        except BulkWriteError as exc:
            return {error["op"]["_id"] for error in exc.details.get("writeErrors", [])}
        return set()

    async def replace(
        self,
        key: str,
        revision: int,
        changes: Mapping[str, Any],
        events: Sequence[CloudEvent],
    ) -> bool:
        """Store a chunk's new state if it is still at `revision` (compare-and-set)."""
        result = await self._collection.update_one(
            {"_id": key, REVISION_FIELD: revision},
            with_outbox({"$set": {**changes, REVISION_FIELD: revision + 1}}, events),
        )
        return result.modified_count == 1

    async def pending(self, keys: Collection[str]) -> set[str]:
        """Which of these chunks still hold unpublished events."""
        found = self._collection.find({"_id": {"$in": list(keys)}, **PENDING_FILTER}, {"_id": 1})
        return {document["_id"] async for document in found}


class MemberRepository(RevisionedRepository):
    def __init__(self, db: Database) -> None:
        super().__init__(db, MEMBERS)

    async def insert_new(self, documents: Sequence[Document]) -> set[str]:
        """Insert members with their events; returns the ids that existed already."""
        if not documents:
            return set()
        try:
            await self._collection.insert_many(list(documents), ordered=False)
        except BulkWriteError as exc:
            return {error["op"]["_id"] for error in exc.details.get("writeErrors", [])}
        return set()

    async def of_clubs(self, club_ids: Collection[str]) -> list[Document]:
        """The fields counts need, for every member of these clubs."""
        if not club_ids:
            return []
        found = self._collection.find(
            {"club_id": {"$in": list(club_ids)}},
            {"club_id": 1, "sex": 1, "ethnic_minority": 1, "joined_on": 1, "left_on": 1},
        )
        return await found.to_list(None)


class Repositories:
    """The registry's collections."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.reference = ReferenceRepository(db)
        self.villages = RevisionedRepository(db, VILLAGES)
        self.programmes = RevisionedRepository(db, PROGRAMMES)
        self.targets = RevisionedRepository(db, TARGETS)
        self.classifications = ClassificationRepository(db)
        self.sites = RevisionedRepository(db, SITES)
        self.clubs = RevisionedRepository(db, CLUBS)
        self.members = MemberRepository(db)
        self.access = AccessRepository(db)
        self.locks = LockRepository(db)
        self.approvals = ApprovalRepository(db)
        self.publishing = PublishingRepository(db)

    async def ensure_indexes(self) -> None:
        for collection, fields in _INDEXES.items():
            for name in fields:
                await self._db[collection].create_index([(name, ASCENDING)])
        await self.locks.ensure_indexes()
        await self.approvals.ensure_indexes()


class PublishingRepository:
    """What this database knows it has published: the revision base its events carry
    and the `REGISTRY` stream's last sequence after its last publishing pass."""

    _KEY = "registry"

    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[PUBLISHING]

    async def state(self) -> tuple[int, int]:
        """`(revision_base, stream_sequence)`; `(0, 0)` for a database that never published."""
        found = await self._collection.find_one({"_id": self._KEY})
        if found is None:
            return 0, 0
        return int(found.get("revision_base", 0)), int(found.get("stream_sequence", 0))

    async def save(self, revision_base: int, stream_sequence: int) -> None:
        await self._collection.replace_one(
            {"_id": self._KEY},
            {"revision_base": revision_base, "stream_sequence": stream_sequence},
            upsert=True,
        )


@dataclass(frozen=True)
class LockQuery:
    """Which locks in force a list shows; turned into a filter here only."""

    programme: str | None = None
    unit_ids: Sequence[str] | None = None  # on one of these units (`None`: any)
    within: str | None = None  # or on this unit or any unit under it (by `lineage`)
    provinces: Sequence[str] | None = None  # of one of these provinces (`None`: any)
    after: str | None = None  # resume after this lock id

    def filter(self, locked_field: str, id_field: str) -> Document:
        selector: Document = {locked_field: True}
        if self.programme is not None:
            selector["programme"] = self.programme
        if self.unit_ids is not None and self.within is not None:
            selector["$or"] = [
                {"unit_id": {"$in": list(self.unit_ids)}},
                {"lineage": self.within},
            ]
        elif self.unit_ids is not None:
            selector["unit_id"] = {"$in": list(self.unit_ids)}
        elif self.within is not None:
            selector["lineage"] = self.within
        if self.provinces is not None:
            selector["province_id"] = {"$in": list(self.provinces)}
        if self.after is not None:
            selector[id_field] = {"$gt": self.after}
        return selector


# Locks in force, by id: what `GET /v1/locks` pages through.
_IN_FORCE = [("locked", ASCENDING), ("_id", ASCENDING)]
# The lock an approval sets rides in the approval record (`lock`), under its own id.
APPROVAL_LOCK = "lock"
_APPROVAL_IN_FORCE = [(f"{APPROVAL_LOCK}.locked", ASCENDING), (f"{APPROVAL_LOCK}.id", ASCENDING)]


class LockRepository(RevisionedRepository):
    """Locks set by hand, one document per lock key (`shared.contracts.lock_key`)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, LOCKS)

    async def ensure_indexes(self) -> None:
        await self._collection.create_index(_IN_FORCE)
        await self._collection.create_index([("programme", ASCENDING), ("unit_id", ASCENDING)])

    async def in_force(self, query: LockQuery, limit: int) -> list[Document]:
        cursor = self._collection.find(query.filter("locked", "_id"), _HIDE_OUTBOX)
        return await cursor.sort("_id", 1).limit(limit).to_list(None)


class ApprovalRepository(RevisionedRepository):
    """Approval records, one per approval key; each holds the lock its steps set."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, APPROVALS)

    async def ensure_indexes(self) -> None:
        await self._collection.create_index(_APPROVAL_IN_FORCE)
        await self._collection.create_index(
            [("programme", ASCENDING), ("period", ASCENDING), ("_id", ASCENDING)]
        )

    async def locking(self, query: LockQuery, limit: int) -> list[Document]:
        """Records whose lock is in force, by lock id."""
        selector = query.filter(f"{APPROVAL_LOCK}.locked", f"{APPROVAL_LOCK}.id")
        cursor = self._collection.find(selector, _HIDE_OUTBOX)
        return await cursor.sort(f"{APPROVAL_LOCK}.id", 1).limit(limit).to_list(None)

    async def records(
        self,
        *,
        programme: str | None,
        period: str | None,
        within: str | None,
        provinces: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[Document]:
        """Up to `limit` records by `_id`: of a programme, a period, on a unit or any
        unit under it (`within`), in these provinces (`None`: any)."""
        selector: Document = {}
        for name, value in (("programme", programme), ("period", period), ("lineage", within)):
            if value is not None:
                selector[name] = value
        if provinces is not None:
            selector["province_id"] = {"$in": list(provinces)}
        if after is not None:
            selector["_id"] = {"$gt": after}
        cursor = self._collection.find(selector, _HIDE_OUTBOX).sort("_id", 1).limit(limit)
        return await cursor.to_list(None)


class AccessRepository:
    """API clients (secrets as Argon2 hashes only) and token signing keys."""

    def __init__(self, db: Database) -> None:
        self._clients: AsyncCollection[Document] = db[CLIENTS]
        self._keys: AsyncCollection[Document] = db[SIGNING_KEYS]

    async def client(self, client_id: str) -> Document | None:
        return await self._clients.find_one({"_id": client_id})

    async def clients(self, after: str | None, limit: int) -> list[Document]:
        """Clients by id, revoked ones included (`revoked_at` set)."""
        selector: Document = {} if after is None else {"_id": {"$gt": after}}
        return await self._clients.find(selector).sort("_id", 1).limit(limit).to_list(None)

    async def revoke_client(self, client_id: str, at: datetime) -> bool:
        """Mark a client revoked; `False` when there is no such client."""
        result = await self._clients.update_one(
            {"_id": client_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
        return result.matched_count == 1 or await self.client(client_id) is not None

    async def revoked_clients(self) -> list[str]:
        found = self._clients.find({"revoked_at": {"$gte": _EPOCH}}, {"_id": 1})
        return [document["_id"] async for document in found]

    async def replace_secret(self, client_id: str, secret_hash: str, at: datetime) -> bool:
        """Store a client's new secret hash; `False` when it is unknown or revoked."""
        result = await self._clients.update_one(
            {"_id": client_id, "revoked_at": None},
            {"$set": {"secret_hash": secret_hash, "secret_rotated_at": at}},
        )
        return result.matched_count == 1

    async def add_client(self, document: Document) -> None:
        await self._clients.insert_one(document)

    async def put_client(self, document: Document) -> None:
        await self._clients.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def signing_keys(self) -> list[Document]:
        return await self._keys.find({}).sort("created_at", ASCENDING).to_list(None)

    async def add_signing_key(self, document: Document) -> None:
        await self._keys.insert_one(document)

    async def put_signing_key(self, document: Document) -> None:
        await self._keys.replace_one({"_id": document["_id"]}, document)

    async def retire_signing_keys_except(self, kid: str, at: Any) -> None:
        await self._keys.update_many(
            {"_id": {"$ne": kid}, "retired_at": None}, {"$set": {"retired_at": at}}
        )


def new_document(key: str, state: Mapping[str, Any], events: Sequence[CloudEvent]) -> Document:
    """A first revision with its events, for bulk inserts."""
    return {"_id": key, **state, REVISION_FIELD: 1, UPDATED_AT: now(), **outbox_fields(events)}
