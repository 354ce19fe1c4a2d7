"""The embedded store answers as MongoDB does, for the shapes the repositories use.

Each case runs the same writes and reads on the embedded store and on mongomock (whose
semantics it borrows for matching, so mongomock is the reference here), and compares
what comes back; planner cases check which index serves a filter and sort.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import mongomock
import pytest
from pymongo import DeleteOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from shared.embedded import EmbeddedClient
from shared.embedded.engine import CollectionInfo, IndexSpec
from shared.embedded.query import plan
from shared.outbox import PENDING_FILTER, ensure_outbox_index

DAY = datetime(2023, 10, 12, 7, 30, 15, 123000, tzinfo=UTC)
SEED: list[dict[str, Any]] = [
    {
        "_id": f"act-{n:03d}",
        "revision": n % 3 + 1,
        "unit_id": ["vn63:06433", "vn63:06436", "vn34:06415"][n % 3],
        "lineage": [["vn63:06433", "vn63:186", "vn63:20", "vn"], ["vn34:06415", "vn34:20", "vn"]][
            n % 2
        ],
        "on": f"2023-{n % 12 + 1:02d}-{n % 27 + 1:02d}",
        "status": "active" if n % 5 else "voided",
        "pending": n % 7 == 0,
        "female": n % 11,
        "at": DAY,
        "v34": [{"u": "vn34:06415", "s": 0.6}, {"u": "vn34:06440", "s": 0.4}],
        "_outbox": [{"id": f"e{n}"}] if n % 4 == 0 else [],
    }
    for n in range(60)
]
INDEXES = [
    [("lineage", 1), ("on", 1)],
    [("unit_id", 1), ("on", 1)],
    [("pending", 1)],
    [("v34.u", 1)],
    [("at", 1), ("_id", 1)],
]

Check = Callable[[Any], Any]


Indexes = list[list[tuple[str, int]]]


async def _seeded_store(
    directory: Path, documents: list[dict[str, Any]] = SEED, indexes: Indexes = INDEXES
) -> tuple[EmbeddedClient, Any]:
    """An embedded store in `directory`, and its collection `c` with the indexes and
    documents (INDEXES and SEED unless told)."""
    client = EmbeddedClient(directory)
    collection = client["db"]["c"]
    for keys in indexes:
        await collection.create_index(keys)
    await collection.insert_many([dict(document) for document in documents])
    return client, collection


def _both(
    tmp_path: Path,
    check: Callable[[Any, bool], Any],
    documents: list[dict[str, Any]] = SEED,
    indexes: Indexes = INDEXES,
) -> tuple[Any, Any]:
    """Run `check(collection, is_async)` on a seeded mongomock and embedded collection."""
    reference = mongomock.MongoClient(tz_aware=True)["db"]["c"]
    for keys in indexes:
        reference.create_index(keys)
    reference.insert_many([dict(document) for document in documents])
    expected = check(reference, False)

    async def embedded() -> Any:
        client, collection = await _seeded_store(tmp_path, documents, indexes)
        try:
            return await check(collection, True)
        finally:
            await client.close()

    return expected, asyncio.run(embedded())


def _read(query: dict[str, Any], **options: Any) -> Callable[[Any, bool], Any]:
    projection = options.pop("projection", None)
    sort = options.pop("sort", None)
    limit = options.pop("limit", 0)

    def check(collection: Any, is_async: bool) -> Any:
        cursor = collection.find(query, projection)
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        if is_async:
            return cursor.to_list(None)
        return list(cursor)

    return check


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ({"_id": {"$in": ["act-001", "act-007", "nope"]}}, {"projection": {"revision": 1}}),
        ({"_id": "act-004", "revision": 2}, {}),
        ({"lineage": "vn63:186", "on": {"$gte": "2023-03-01", "$lte": "2023-08-31"}}, {}),
        ({"lineage": {"$in": ["vn34:20", "vn63:20"]}}, {"sort": [("_id", -1)], "limit": 7}),
        ({"unit_id": "vn63:06436", "status": "active"}, {"sort": [("on", 1), ("_id", 1)]}),
        ({"pending": True}, {"projection": {"_outbox": 0, "v34": 0}}),
        ({"v34.u": "vn34:06440", "female": {"$gt": 5}}, {}),
        ({"at": {"$gte": DAY}}, {"sort": [("at", 1), ("_id", 1)], "limit": 3}),
        ({"$or": [{"pending": None}, {"female": {"$lt": 2}}]}, {"sort": [("_id", 1)]}),
        ({"_outbox.0": {"$exists": True}}, {"projection": {"_outbox": 1}}),
        ({"status": {"$ne": "active"}, "on": {"$gt": "2023-06"}}, {}),
        # Projections of some top-level fields: SQLite reads those, and what the filter
        # left to check and the sort need, alone.
        (
            {"status": "active", "female": {"$gt": 3}},
            {"projection": {"female": 1, "at": 1}, "sort": [("on", -1), ("_id", 1)], "limit": 5},
        ),
        ({"lineage": "vn63:186", "v34.s": 0.4}, {"projection": {"unit_id": 1, "_id": 1}}),
    ],
)
def test_reads_match(tmp_path: Path, query: dict[str, Any], options: dict[str, Any]) -> None:
    expected, found = _both(tmp_path, _read(query, **options))
    if "sort" not in options:
        expected = sorted(expected, key=lambda document: document["_id"])
        found = sorted(found, key=lambda document: document["_id"])
    assert found == expected
    assert found, "a case that matches nothing proves little"


def test_updates_match(tmp_path: Path) -> None:
    def check(collection: Any, is_async: bool) -> Any:
        async def run() -> Any:
            result = []
            for query, update, upsert in (
                ({"_id": "act-003", "revision": 1}, {"$set": {"title": "mới"}}, False),
                ({"_id": "act-003", "revision": 9}, {"$set": {"title": "cũ"}}, False),
                ({"_id": "act-008"}, {"$pull": {"_outbox": {"id": {"$in": ["e8", "x"]}}}}, False),
                ({"_id": "state"}, {"$max": {"seq": 5}, "$inc": {"n": 2}}, True),
                ({"_id": "state"}, {"$max": {"seq": 3}, "$inc": {"n": 2}}, True),
                (
                    {"_id": "act-012"},
                    {"$push": {"_outbox": {"$each": [{"id": "f"}]}}, "$unset": {"at": ""}},
                    False,
                ),
            ):
                outcome = collection.update_one(query, update, upsert=upsert)
                outcome = await outcome if is_async else outcome
                result.append((outcome.matched_count, outcome.modified_count))
            many = collection.update_many({"unit_id": "vn63:06433"}, {"$inc": {"female": 1}})
            many = await many if is_async else many
            result.append((many.matched_count, many.modified_count))
            cursor = collection.find({"_id": {"$in": ["act-003", "act-008", "state", "act-012"]}})
            result.append(sorted(await cursor.to_list(None) if is_async else list(cursor), key=str))
            total = collection.find({"unit_id": "vn63:06433"}, {"female": 1})
            result.append(
                sum(d["female"] for d in (await total.to_list(None) if is_async else total))
            )
            return result

        if is_async:
            return run()
        return asyncio.run(run())

    expected, found = _both(tmp_path, check)
    assert found == expected


@pytest.mark.parametrize(
    "requests",
    [
        # Each update aimed at its own `_id` (the documents are read in one pass): guards
        # that hold, a guard that missed, a document that is not there, a replacement,
        # a change that moves index entries (`on`, `pending`).
        [
            UpdateOne(
                {"_id": "act-000", "_outbox": [{"id": "e0"}]},
                {"$set": {"_outbox": []}, "$unset": {"pending": ""}},
            ),
            UpdateOne({"_id": "act-004", "_outbox": [{"id": "other"}]}, {"$set": {"_outbox": []}}),
            UpdateOne({"_id": "act-999"}, {"$set": {"female": 1}}),
            UpdateOne({"_id": "act-010", "revision": 2}, {"$set": {"on": "2024-01-01"}}),
            ReplaceOne({"_id": "act-011"}, {"status": "voided", "on": "2022-12-31"}),
        ],
        # The same `_id` twice: each update sees what the one before it wrote.
        [
            UpdateOne({"_id": "act-001", "revision": 2}, {"$inc": {"revision": 1}}),
            UpdateOne({"_id": "act-001", "revision": 3}, {"$set": {"title": "sau"}}),
            UpdateOne({"_id": "act-001", "revision": 2}, {"$set": {"title": "trước"}}),
        ],
        # Upserts and deletes, each on its own `_id` (reporting's cells; read in one
        # pass too): a replacement of a stored document and of one not there, an
        # update inserting, a delete of a stored document and of one not there.
        [
            ReplaceOne({"_id": "act-002"}, {"on": "2024-02-02", "pending": True}, upsert=True),
            ReplaceOne({"_id": "cell-1"}, {"on": "2024-03-03", "female": 2}, upsert=True),
            UpdateOne({"_id": "cell-2"}, {"$set": {"on": "2025-01-01"}}, upsert=True),
            UpdateOne({"_id": "act-005"}, {"$set": {"pending": True}}, upsert=True),
            DeleteOne({"_id": "act-003"}),
            DeleteOne({"_id": "act-998"}),
        ],
    ],
)
def test_bulk_updates_match(tmp_path: Path, requests: list[Any]) -> None:
    touched = sorted({request._filter["_id"] for request in requests})

    def check(collection: Any, is_async: bool) -> Any:
        async def run() -> Any:
            if is_async:
                outcome = await collection.bulk_write(requests, ordered=False)
                counts = (
                    outcome.matched_count,
                    outcome.modified_count,
                    outcome.upserted_count,
                    outcome.deleted_count,
                )
            else:  # mongomock's bulk builder predates PyMongo's write models: in turn
                counts = (0, 0, 0, 0)
                for request in requests:
                    if isinstance(request, DeleteOne):
                        gone = collection.delete_one(request._filter).deleted_count
                        counts = (counts[0], counts[1], counts[2], counts[3] + gone)
                        continue
                    write = (
                        collection.update_one
                        if isinstance(request, UpdateOne)
                        else collection.replace_one
                    )
                    one = write(request._filter, request._doc, upsert=bool(request._upsert))
                    counts = (
                        counts[0] + one.matched_count,
                        counts[1] + one.modified_count,
                        counts[2] + int(one.upserted_id is not None),
                        counts[3],
                    )
            cursor = collection.find({"_id": {"$in": touched}})
            found = await cursor.to_list(None) if is_async else list(cursor)
            by_index = collection.find({"on": {"$gte": "2023-12-31"}}, {"_id": 1})
            later = await by_index.to_list(None) if is_async else list(by_index)
            pending = collection.find({"pending": True}, {"_id": 1})
            still = await pending.to_list(None) if is_async else list(pending)
            return (
                counts,
                sorted(found, key=str),
                sorted(later, key=str),
                sorted(still, key=str),
            )

        if is_async:
            return run()
        return asyncio.run(run())

    expected, found = _both(tmp_path, check)
    assert found == expected
    assert expected[0][1] > 0, "a case that changes nothing proves little"


def test_duplicates_are_reported_as_mongodb_reports_them(tmp_path: Path) -> None:
    async def run() -> None:
        client = EmbeddedClient(tmp_path)
        collection = client["db"]["c"]
        await collection.insert_many([{"_id": "a"}, {"_id": "b"}])
        with pytest.raises(DuplicateKeyError) as single:
            await collection.insert_one({"_id": "a"})
        assert single.value.code == 11000
        with pytest.raises(BulkWriteError) as bulk:
            await collection.insert_many([{"_id": "c"}, {"_id": "b"}, {"_id": "d"}], ordered=False)
        errors = bulk.value.details["writeErrors"]
        assert [(e["index"], e["code"], e["op"]["_id"]) for e in errors] == [(1, 11000, "b")]
        assert bulk.value.details["nInserted"] == 2
        assert await collection.count_documents({}) == 4  # c and d are in, as in MongoDB
        result = await collection.bulk_write(
            [
                UpdateOne({"_id": "a"}, {"$set": {"x": 1}}),
                ReplaceOne({"_id": "z"}, {"y": 2}, upsert=True),
            ],
            ordered=False,
        )
        assert (result.matched_count, result.modified_count, result.upserted_ids) == (
            1,
            1,
            {1: "z"},
        )
        await client.close()

    asyncio.run(run())


def test_dates_come_back_timezone_aware_to_the_millisecond(tmp_path: Path) -> None:
    expected, found = _both(tmp_path, _read({"_id": "act-000"}, projection={"at": 1}))
    assert found == expected == [{"_id": "act-000", "at": DAY}]
    assert found[0]["at"].tzinfo is not None


def test_the_planner_picks_the_index_that_fixes_most_keys() -> None:
    info = CollectionInfo(
        True,
        (
            IndexSpec("lineage_on", (("lineage", 1), ("on", 1)), multikey=True),
            IndexSpec("status_on", (("status", 1), ("on", 1), ("_id", 1))),
            IndexSpec("pending", (("pending", 1),)),
        ),
    )
    by_key = plan("c", info, {"_id": {"$in": ["a", "b"]}, "status": "active"}, [])
    assert (by_key.index, by_key.exact) == ("_id_", False)
    walk = plan("c", info, {"status": "active"}, [("on", 1), ("_id", 1)])
    assert (walk.index, walk.exact, walk.ordered) == ("status_on", True, True)
    multikey = plan("c", info, {"lineage": "vn63:20", "on": {"$gte": "2023-01-01"}}, [])
    assert (multikey.index, multikey.exact, multikey.may_repeat) == ("lineage_on", False, True)
    scan = plan("c", info, {"title": "x"}, [])
    assert scan.index is None


def test_a_store_of_the_first_layout_is_moved_to_the_current_one(tmp_path: Path) -> None:
    # The first layout kept each collection in a WITHOUT ROWID table keyed by `id`.
    async def write() -> list[str]:
        client, collection = await _seeded_store(tmp_path)
        # A document missing most indexed fields: its entries hold a missing value.
        await collection.insert_one({"_id": "act-099", "unit_id": "vn63:06436", "on": "2023"})
        names = [spec.table("c") for spec in client["db"].file.info("c").indexes]
        await client.close()
        return names

    entry_tables = asyncio.run(write())
    with sqlite3.connect(tmp_path / "db.sqlite3") as connection:
        connection.executescript(
            'ALTER TABLE "c_c" RENAME TO "current";'
            'CREATE TABLE "c_c" (id PRIMARY KEY NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;'
            'INSERT INTO "c_c" SELECT id, doc FROM "current";'
            'DROP TABLE "current";'
            # Nor had its catalogue a column for partial indexes.
            "ALTER TABLE _bdg_indexes DROP COLUMN partial;"
        )
        # Its index entries were rowid tables with an index, NULL for a missing value.
        for table in entry_tables:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
            keys = [column for column in columns if column != "id"]
            connection.executescript(
                f'ALTER TABLE {table} RENAME TO "entries";'
                f"CREATE TABLE {table} ({', '.join(keys)}, id NOT NULL);"
                f'CREATE INDEX {table[:-1]}_i" ON {table} ({", ".join(columns)});'
                f"INSERT INTO {table} SELECT "
                + ", ".join(f"nullif({key}, -9e999)" for key in keys)
                + ', id FROM "entries";'
                'DROP TABLE "entries";'
            )

    async def reopen() -> tuple[list[Any], list[Any], list[Any], int]:
        client = EmbeddedClient(tmp_path)
        collection = client["db"]["c"]
        try:
            by_key = await collection.find({"_id": {"$in": ["act-003", "act-044"]}}).to_list(None)
            by_index = await collection.find(
                {"unit_id": "vn63:06436"}, {"_id": 1}, sort=[("on", 1), ("_id", 1)]
            ).to_list(None)
            with pytest.raises(DuplicateKeyError):
                await collection.insert_one({"_id": "act-003"})
            await collection.insert_one({"_id": "act-100", "unit_id": "vn63:06436", "on": "2024"})
            missing = await collection.find({"pending": None}, {"_id": 1}).to_list(None)
            return (
                by_key,
                by_index,
                missing,
                await collection.count_documents({"unit_id": "vn63:06436"}),
            )
        finally:
            await client.close()

    by_key, by_index, missing, count = asyncio.run(reopen())
    assert by_key == [SEED[3], SEED[44]]
    expected = sorted(
        [*(d for d in SEED if d["unit_id"] == "vn63:06436"), {"_id": "act-099", "on": "2023"}],
        key=lambda d: (d["on"], d["_id"]),
    )
    assert by_index == [{"_id": d["_id"]} for d in expected]
    assert missing == [{"_id": "act-099"}, {"_id": "act-100"}]
    assert count == len(expected) + 1
    with sqlite3.connect(tmp_path / "db.sqlite3") as connection:
        layouts = dict(connection.execute("SELECT name, sql FROM sqlite_master"))
    assert "WITHOUT ROWID" not in layouts["c_c"]
    assert all("WITHOUT ROWID" in layouts[table.strip('"')] for table in entry_tables)

    async def add_a_partial_index() -> dict[str, Any]:
        client = EmbeddedClient(tmp_path)
        try:
            collection = client["db"]["c"]
            await collection.create_index(
                "on", name="voided_on", partialFilterExpression={"status": "voided"}
            )
            return await collection.index_information()
        finally:
            await client.close()

    indexes = asyncio.run(add_a_partial_index())
    assert indexes["voided_on"]["partialFilterExpression"] == {"status": "voided"}
    assert "partialFilterExpression" not in indexes["unit_id_1_on_1"]


def test_a_partial_index_holds_and_serves_only_the_documents_of_its_filter(
    tmp_path: Path,
) -> None:
    status = {d["_id"]: d["status"] for d in SEED}

    def voided(since: str = "") -> list[str]:
        """What the index must serve: the voided documents from `since` on."""
        return sorted(d["_id"] for d in SEED if status[d["_id"]] == "voided" and d["on"] >= since)

    async def run() -> None:
        client, collection = await _seeded_store(tmp_path)
        try:
            await collection.create_index(
                [("status", 1), ("on", 1)],
                name="voided_on",
                partialFilterExpression={"status": {"$eq": "voided"}},
            )
            info = client["db"].file.info("c")
            spec = next(index for index in info.indexes if index.name == "voided_on")
            asked = {"status": "voided", "on": {"$gte": "2023-06"}}
            assert plan("c", info, asked, []).index == "voided_on"
            # Filters that may match documents outside it must not use it.
            assert plan("c", info, {"status": "active", "on": {"$gte": "2023-06"}}, []).index != (
                "voided_on"
            )
            assert plan("c", info, {"on": {"$gte": "2023-06"}}, []).index != "voided_on"

            async def found() -> list[str]:
                return sorted(d["_id"] for d in await collection.find(asked).to_list(None))

            assert await found() == voided("2023-06") != []
            assert _entry_count(tmp_path, spec) == len(voided())

            # Documents move in and out of it as their status changes.
            await collection.update_one({"_id": "act-005"}, {"$set": {"status": "active"}})
            await collection.update_one({"_id": "act-006"}, {"$set": {"status": "voided"}})
            status.update({"act-005": "active", "act-006": "voided"})
            assert await found() == voided("2023-06")
            assert _entry_count(tmp_path, spec) == len(voided())

            with pytest.raises(OperationFailure) as other_options:
                await collection.create_index(
                    [("status", 1), ("on", 1)],
                    name="voided_on",
                    partialFilterExpression={"status": "active"},
                )
            assert other_options.value.code == 85
            with pytest.raises(OperationFailure) as not_an_equality:
                await collection.create_index(
                    "female", partialFilterExpression={"female": {"$gt": 3}}
                )
            assert not_an_equality.value.code == 67

            await collection.drop_index("voided_on")
            assert "voided_on" not in await collection.index_information()
            assert await found() == voided("2023-06")
            with pytest.raises(OperationFailure) as gone:
                await collection.drop_index("voided_on")
            assert gone.value.code == 27
        finally:
            await client.close()

    asyncio.run(run())


def _entry_count(directory: Path, spec: IndexSpec) -> int:
    with sqlite3.connect(directory / "db.sqlite3") as connection:
        (count,) = connection.execute(f"SELECT COUNT(*) FROM {spec.table('c')}").fetchone()
    return int(count)


@pytest.mark.parametrize(
    ("query", "sort"),
    [
        ({"n": {"$lt": 1}}, [("n", 1), ("_id", 1)]),
        ({"n": {"$lte": 0}}, []),
        ({"n": None}, [("_id", 1)]),
        ({"n": {"$in": [None, 7]}}, [("_id", 1)]),
        ({"n": {"$gte": -10}}, [("n", -1), ("_id", -1)]),
        ({"n": {"$exists": True}}, [("n", 1), ("_id", 1)]),
    ],
)
def test_missing_and_null_values_in_an_index_match_as_in_mongodb(
    tmp_path: Path, query: dict[str, Any], sort: list[tuple[str, int]]
) -> None:
    documents: list[dict[str, Any]] = [
        {"_id": "a", "n": -5},
        {"_id": "b", "n": 0},
        {"_id": "c", "n": 7},
        {"_id": "d"},
        {"_id": "e", "n": None},
        {"_id": "f", "n": -2.5},
        {"_id": "g", "n": "text"},
    ]
    expected, found = _both(tmp_path, _read(query, sort=sort), documents, [[("n", 1), ("_id", 1)]])
    if not sort:
        expected.sort(key=lambda d: d["_id"])
        found.sort(key=lambda d: d["_id"])
    assert found == expected
    assert found


def test_the_outbox_index_of_an_earlier_version_is_replaced_at_start(tmp_path: Path) -> None:
    async def run() -> tuple[dict[str, Any], list[Any], str | None]:
        client = EmbeddedClient(tmp_path)
        try:
            collection = client["db"]["c"]
            # As an earlier version left it: every document in the index.
            await collection.create_index(
                [("_outbox_pending", 1), ("_id", 1)], name="outbox_pending"
            )
            await collection.insert_many(
                [
                    {"_id": "a", "_outbox": [{"id": "e1"}], "_outbox_pending": True},
                    {"_id": "b", "_outbox": []},
                    {"_id": "c", "_outbox": [{"id": "e2"}], "_outbox_pending": True},
                ]
            )
            as_pymongo = cast(AsyncCollection[dict[str, Any]], collection)
            await ensure_outbox_index(as_pymongo)
            await ensure_outbox_index(as_pymongo)  # a second start, or a replica beside it
            pending = await collection.find(PENDING_FILTER, {"_id": 1}).sort("_id", 1).to_list(None)
            info = client["db"].file.info("c")
            chosen = plan("c", info, PENDING_FILTER, [("_id", 1)])
            # The index holds only pending documents: nothing left to check on them.
            assert chosen.exact
            return await collection.index_information(), pending, chosen.index
        finally:
            await client.close()

    indexes, pending, chosen = asyncio.run(run())
    assert "outbox_pending" not in indexes
    assert indexes["outbox_pending_only"]["partialFilterExpression"] == {"_outbox_pending": True}
    assert pending == [{"_id": "a"}, {"_id": "c"}]
    assert chosen == "outbox_pending_only"


# Updates each aimed at its own `_id`, all `$set`/`$unset` of top-level fields: applied
# by SQLite on the stored text (patches.py) where the filter's text decides, else by the
# general path. Named by what each one checks.
PATCHES = {
    "guard held, index entries moved": UpdateOne(
        {"_id": "act-000", "_outbox": [{"id": "e0"}]},
        {"$set": {"_outbox": []}, "$unset": {"pending": ""}},
    ),
    "guard missed": UpdateOne(
        {"_id": "act-004", "_outbox": [{"id": "other"}]}, {"$set": {"_outbox": []}}
    ),
    "not there": UpdateOne({"_id": "act-999"}, {"$set": {"female": 1}}),
    "equal value, other text": UpdateOne(
        {"_id": "act-002", "revision": 3.0}, {"$set": {"title": "bằng nhau"}}
    ),
    "field added last": UpdateOne(
        {"_id": "act-005", "unit_id": "vn34:06415"}, {"$set": {"title": "mới", "on": "2024-02-01"}}
    ),
    "nothing to unset": UpdateOne({"_id": "act-009"}, {"$unset": {"title": ""}}),
    "same value": UpdateOne({"_id": "act-006", "status": "active"}, {"$set": {"status": "active"}}),
    "same value, other text": UpdateOne({"_id": "act-003"}, {"$set": {"revision": 1.0}}),
    "array index moved": UpdateOne(
        {"_id": "act-007", "v34": SEED[7]["v34"]},
        {"$set": {"lineage": ["vn34:06415", "vn34:20", "vn"], "at": DAY.replace(year=2024)}},
    ),
}


def test_updates_applied_to_the_stored_text_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.embedded import patches

    decided: list[bool] = []
    apply = patches.apply

    def recording(*args: Any) -> list[Any]:
        outcomes = apply(*args)
        decided.extend(outcome is not None for outcome in outcomes)
        return outcomes

    monkeypatch.setattr(patches, "apply", recording)
    requests = list(PATCHES.values())
    touched = sorted({request._filter["_id"] for request in requests})

    def check(collection: Any, is_async: bool) -> Any:
        async def run() -> Any:
            if is_async:
                outcome = await collection.bulk_write(requests, ordered=True)
                counts = (outcome.matched_count, outcome.modified_count)
            else:
                counts = (0, 0)
                for request in requests:
                    one = collection.update_one(request._filter, request._doc)
                    counts = (counts[0] + one.matched_count, counts[1] + one.modified_count)
            reads = [
                ({"_id": {"$in": touched}}, None),
                ({"pending": True}, {"_id": 1}),
                ({"lineage": "vn34:20"}, {"_id": 1}),
                ({"unit_id": "vn34:06415", "on": {"$gte": "2024-01-01"}}, {"_id": 1}),
                ({"at": {"$gt": DAY}}, {"_id": 1}),
            ]
            found = []
            for query, projection in reads:
                cursor = collection.find(query, projection)
                listed = await cursor.to_list(None) if is_async else list(cursor)
                found.append(sorted(listed, key=str))
            return counts, found, [list(document) for document in found[0]]

        if is_async:
            return run()
        return asyncio.run(run())

    expected, found = _both(tmp_path, check)
    assert found == expected  # counts, documents, index reads, field order
    assert expected[0] == (7, 4)
    # Decided on the stored text, but for the filters whose text differs from the
    # stored one (a guard that missed, an equal value written otherwise), which went the
    # general way (the recording sees the embedded store's run only).
    general = {"guard missed", "equal value, other text"}
    assert decided == [name not in general for name in PATCHES]


def test_a_document_sqlite_cannot_read_as_json_is_read_and_updated_the_general_way(
    tmp_path: Path,
) -> None:
    """Stores written before NaN was stored as null hold `NaN`, which SQLite's JSON
    functions refuse: such a document is read (with a projection: only some fields would
    be read by SQLite) and updated as any other."""

    async def run() -> list[Any]:
        client, collection = await _seeded_store(tmp_path, SEED[:3])
        with sqlite3.connect(tmp_path / "db.sqlite3") as raw:
            raw.execute(
                "UPDATE c_c SET doc = replace(doc, '\"female\":1,', '\"female\":NaN,') "
                "WHERE id = 'act-001'"
            )
        try:
            before = await collection.find_one({"_id": "act-001"}, {"female": 1})
            outcome = await collection.bulk_write(
                [
                    UpdateOne({"_id": "act-000", "revision": 1}, {"$set": {"title": "a"}}),
                    UpdateOne({"_id": "act-001", "revision": 2}, {"$set": {"title": "b"}}),
                ]
            )
            found = await collection.find({}, {"title": 1, "female": 1}).to_list(None)
            return [before, outcome.modified_count, found]
        finally:
            await client.close()

    before, modified, found = asyncio.run(run())
    assert before["female"] != before["female"]  # NaN, as the earlier version stored it
    assert modified == 2
    assert [document.get("title") for document in found] == ["a", "b", None]
    assert found[1]["female"] is None  # written again: NaN is now stored as null


def test_what_sqlite_reads_for_a_projection() -> None:
    from shared.embedded.operations import Find, _fields_read

    # The relay's read: the outbox, and the marker the filter may leave to check.
    relay = Find(PENDING_FILTER, {"_outbox": 1}, [("_id", 1)])
    assert _fields_read(relay) == ["_id", "_outbox", "_outbox_pending"]
    assert _fields_read(Find({"a.b": 1}, {"c": 1}, [("d", -1)])) == ["_id", "c", "d", "a"]
    # Whole documents: no projection, an exclusion, a dotted path, an operator filter.
    for find in (
        Find({"a": 1}),
        Find({"a": 1}, {"b": 0}),
        Find({"a": 1}, {"b.c": 1}),
        Find({"$or": [{"a": 1}, {"b": 2}]}, {"a": 1}),
    ):
        assert _fields_read(find) is None


@pytest.mark.parametrize(
    ("batch", "ordered"),
    [
        # Keys stored already, and a key twice in the batch, ordered or not.
        (["c", "b", "d", "c", "e"], False),
        (["f", "a", "g"], True),
        (["a", "h", "b", "h"], False),
    ],
)
def test_a_batch_with_keys_stored_already_inserts_what_mongodb_inserts(
    tmp_path: Path, batch: list[str], ordered: bool
) -> None:
    documents = [{"_id": name} for name in batch]
    seed = [{"_id": "a"}, {"_id": "b"}]

    def check(collection: Any, is_async: bool) -> Any:
        async def run() -> Any:
            try:
                outcome = collection.insert_many([dict(d) for d in documents], ordered=ordered)
                if is_async:
                    await outcome
                refused: list[Any] = []
            except BulkWriteError as error:
                refused = [
                    (e["index"], e["code"], e["op"]["_id"]) for e in error.details["writeErrors"]
                ]
                inserted = error.details["nInserted"]
            else:
                inserted = len(documents)
            cursor = collection.find({}, {"_id": 1}).sort("_id", 1)
            held = await cursor.to_list(None) if is_async else list(cursor)
            return inserted, refused, [d["_id"] for d in held]

        if is_async:
            return run()
        return asyncio.run(run())

    expected, found = _both(tmp_path, check, seed, [])
    assert found == expected
    assert expected[1], "a batch nothing refuses proves little"


def test_a_unique_index_on_another_field_still_refuses_in_a_batch(tmp_path: Path) -> None:
    """A batch meeting both a stored key and another unique index: each refusal is
    reported with the index that made it, and the rest goes in."""

    async def run() -> tuple[Any, list[Any]]:
        client, collection = await _seeded_store(tmp_path, [{"_id": "a", "code": "taken"}], [])
        await collection.create_index("code", unique=True)
        try:
            with pytest.raises(BulkWriteError) as error:
                await collection.insert_many(
                    [{"_id": "a", "code": "a"}, {"_id": "n", "code": "taken"}, {"_id": "m"}],
                    ordered=False,
                )
            held = await collection.find({}, {"_id": 1}).sort("_id", 1).to_list(None)
            return error.value.details, [d["_id"] for d in held]
        finally:
            await client.close()

    details, held = asyncio.run(run())
    refused = [(e["index"], e["code"], e["keyValue"]) for e in details["writeErrors"]]
    assert refused == [(0, 11000, {"_id": "a"}), (1, 11000, {"code": "taken"})]
    assert (details["nInserted"], held) == (1, ["a", "m"])


def test_upserts_of_an_unordered_bulk_refused_by_a_unique_index_are_reported_each(
    tmp_path: Path,
) -> None:
    """On a collection with another unique index, a bulk's upserts are applied in
    turn, as MongoDB meets them: the one that index refuses is reported at its own
    index (even though the document holding the value is deleted later in the bulk),
    and every other op still takes effect."""

    async def run() -> tuple[Any, list[Any]]:
        client, collection = await _seeded_store(
            tmp_path, [{"_id": "a", "code": "taken"}, {"_id": "b", "code": "b"}], []
        )
        await collection.create_index("code", unique=True)
        try:
            with pytest.raises(BulkWriteError) as error:
                await collection.bulk_write(
                    [
                        ReplaceOne({"_id": "n"}, {"code": "n"}, upsert=True),
                        UpdateOne({"_id": "b"}, {"$set": {"code": "b2"}}, upsert=True),
                        ReplaceOne({"_id": "m"}, {"code": "taken"}, upsert=True),
                        DeleteOne({"_id": "a"}),
                        UpdateOne({"_id": "o"}, {"$set": {"code": "o"}}, upsert=True),
                    ],
                    ordered=False,
                )
            held = await collection.find({}).sort("_id", 1).to_list(None)
            return error.value.details, held
        finally:
            await client.close()

    details, held = asyncio.run(run())
    refused = [(e["index"], e["code"], e["keyValue"]) for e in details["writeErrors"]]
    assert refused == [(2, 11000, {"code": "taken"})]
    assert (details["nUpserted"], details["nModified"], details["nRemoved"]) == (2, 1, 1)
    assert [(u["index"], u["_id"]) for u in details["upserted"]] == [(0, "n"), (4, "o")]
    assert held == [
        {"_id": "b", "code": "b2"},
        {"_id": "n", "code": "n"},
        {"_id": "o", "code": "o"},
    ]


def test_an_upsert_whose_filter_misses_a_stored_id_is_a_duplicate_in_an_unordered_bulk(
    tmp_path: Path,
) -> None:
    """As in MongoDB: the upsert would insert an `_id` that is stored already, so it is
    refused (11000) and the bulk goes on; the other upsert inserts."""

    async def run() -> tuple[Any, list[Any]]:
        client, collection = await _seeded_store(tmp_path, [{"_id": "a", "v": 1}], [])
        try:
            with pytest.raises(BulkWriteError) as error:
                await collection.bulk_write(
                    [
                        ReplaceOne({"_id": "a", "v": 2}, {"v": 3}, upsert=True),
                        ReplaceOne({"_id": "n"}, {"v": 1}, upsert=True),
                    ],
                    ordered=False,
                )
            return error.value.details, await collection.find({}).sort("_id", 1).to_list(None)
        finally:
            await client.close()

    details, held = asyncio.run(run())
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(0, 11000)]
    assert [(u["index"], u["_id"]) for u in details["upserted"]] == [(1, "n")]
    assert held == [{"_id": "a", "v": 1}, {"_id": "n", "v": 1}]
