"""Does the engine give MongoDB's answer for each operation shape the project uses?

Each check writes a few documents into a fresh collection, runs one shape the way a
repository calls it (PyMongo async API: `await coll.update_one(...)`,
`await coll.find(...).sort(...).to_list(None)`, `await (await coll.aggregate(p)).to_list(None)`)
and compares with the result MongoDB gives, written out by hand from MongoDB's
documented semantics. A verdict is `ok`, `wrong` (with how) or `unsupported` (the
engine says it does not implement the call).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

Collection = Any  # the engine's async collection (PyMongo async shapes)


class Wrong(Exception):
    """The engine answered, but not as MongoDB does."""


@dataclass(frozen=True)
class Check:
    key: str
    shape: str
    used_by: str
    run: Callable[[Any, str], Awaitable[str | None]]


@dataclass(frozen=True)
class Verdict:
    status: str  # ok | wrong | unsupported
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


CHECKS: list[Check] = []


def check(key: str, shape: str, used_by: str) -> Callable[..., Any]:
    def register(function: Callable[[Any, str], Awaitable[str | None]]) -> Any:
        CHECKS.append(Check(key, shape, used_by, function))
        return function

    return register


def expect(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise Wrong(f"{what}: got {actual!r}, MongoDB gives {expected!r}")


def _event(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "type": "bdg.test", "data": {"n": 1}}


async def _all(collection: Collection) -> dict[Any, dict[str, Any]]:
    rows = await collection.find({}).to_list(None)
    return {row["_id"]: row for row in rows}


async def _aggregate(collection: Collection, pipeline: list[dict[str, Any]]) -> list[Any]:
    """As the repositories call it: `cursor = await coll.aggregate(p)`."""
    called = collection.aggregate(pipeline)
    if not hasattr(called, "__await__"):
        raise Wrong(
            f"aggregate() returns {type(called).__name__}, not an awaitable: "
            "`cursor = await coll.aggregate(pipeline)` raises TypeError"
        )
    cursor = await called
    rows: list[Any] = await cursor.to_list(None)
    return rows


def _by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: repr(row["_id"]))


def _raised(error: BaseException, expected: type[BaseException]) -> str:
    name = f"{type(error).__module__}.{type(error).__name__}"
    return f"raises {name}, which is not a {expected.__module__}.{expected.__name__}"


# --- writes and their errors --------------------------------------------------


@check(
    "insert_one_duplicate",
    "insert_one of an existing _id → DuplicateKeyError, code 11000",
    "shared/versioned.py, registry put_if_at, events insert",
)
async def _insert_one_duplicate(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "a", "v": 1})
    problems = []
    try:
        await coll.insert_one({"_id": "a", "v": 2})
    except Exception as error:
        if not isinstance(error, DuplicateKeyError):
            problems.append(_raised(error, DuplicateKeyError))
        if getattr(error, "code", None) != 11000:
            problems.append(f"code {getattr(error, 'code', None)!r}, not 11000")
    else:
        problems.append("no error: the second insert of _id 'a' was accepted")
    if (await coll.find_one({"_id": "a"}))["v"] != 1:
        problems.append("the stored document was overwritten")
    if problems:
        raise Wrong("; ".join(problems))
    return None


@check(
    "insert_many_unordered_duplicate",
    "insert_many(ordered=False) with a duplicate → BulkWriteError naming it; others inserted",
    "shared/replica.py apply_latest, events/registry/reporting insert_many",
)
async def _insert_many_unordered(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "b", "v": 0})
    problems = []
    try:
        await coll.insert_many(
            [{"_id": "a", "v": 1}, {"_id": "b", "v": 1}, {"_id": "c", "v": 1}], ordered=False
        )
    except Exception as error:
        if not isinstance(error, BulkWriteError):
            problems.append(_raised(error, BulkWriteError))
        details = getattr(error, "details", None)
        errors = details.get("writeErrors", []) if isinstance(details, dict) else None
        if not errors:
            problems.append("no details['writeErrors'] to name the duplicate")
        else:
            first = errors[0]
            op = first.get("op") or {}
            found = (len(errors), first.get("index"), first.get("code"), op.get("_id"))
            if found != (1, 1, 11000, "b"):
                problems.append(
                    f"writeErrors (count, [0].index, [0].code, [0].op._id) {found}, "
                    "MongoDB gives (1, 1, 11000, 'b')"
                )
    else:
        problems.append("no error: the duplicate _id 'b' was accepted")
    stored = await _all(coll)
    if sorted(stored) != ["a", "b", "c"]:
        problems.append(f"stored ids {sorted(stored)}: unordered goes on after the error")
    if stored.get("b", {}).get("v") != 0:
        problems.append("the existing 'b' was overwritten")
    if problems:
        raise Wrong("; ".join(problems))
    return None


@check(
    "guarded_update_push_each",
    "update_one({_id, revision}, {$set, $push: {_outbox: {$each}, history: {$each}}}); stale guard",
    "shared/versioned.py, registry replace, events update",
)
async def _guarded_update(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "k", "revision": 1, "name": "x", "_outbox": [_event("e1")]})
    result = await coll.update_one(
        {"_id": "k", "revision": 1},
        {
            "$set": {"name": "y", "revision": 2},
            "$push": {
                "_outbox": {"$each": [_event("e2"), _event("e3")]},
                "history": {"$each": [{"v": 1}]},
            },
        },
    )
    expect((result.matched_count, result.modified_count), (1, 1), "matched, modified")
    stale = await coll.update_one(
        {"_id": "k", "revision": 1}, {"$set": {"name": "z", "revision": 2}}
    )
    expect((stale.matched_count, stale.modified_count), (0, 0), "stale guard: matched, modified")
    stored = await coll.find_one({"_id": "k"})
    expect(stored["name"], "y", "name")
    expect(stored["revision"], 2, "revision")
    expect(stored["_outbox"], [_event("e1"), _event("e2"), _event("e3")], "_outbox")
    expect(stored.get("history"), [{"v": 1}], "history pushed onto a missing field")
    return None


@check(
    "update_many_pull_in",
    "update_many({_id: {$gte, $lte, $in}}, {$pull: {_outbox: {id: {$in}}}})",
    "shared/outbox.py _mark_sent (many documents)",
)
async def _update_many_pull(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [
            {"_id": "k1", "_outbox": [_event("e1"), _event("e2")]},
            {"_id": "k2", "_outbox": [_event("e3")]},
            {"_id": "k3", "_outbox": [_event("e4")]},
        ]
    )
    result = await coll.update_many(
        {"_id": {"$gte": "k1", "$lte": "k2", "$in": ["k1", "k2"]}},
        {"$pull": {"_outbox": {"id": {"$in": ["e1", "e3", "e4"]}}}},
    )
    expect((result.matched_count, result.modified_count), (2, 2), "matched, modified")
    stored = await _all(coll)
    left = {key: row["_outbox"] for key, row in stored.items()}
    expect(left, {"k1": [_event("e2")], "k2": [], "k3": [_event("e4")]}, "events left")
    return None


@check(
    "bulk_write_pull",
    "bulk_write([UpdateOne({_id}, {$pull: {_outbox: {id: {$in}}}}), …], ordered=False)",
    "shared/outbox.py _mark_sent (few documents, many events)",
)
async def _bulk_pull(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "k1", "_outbox": [_event("e1"), _event("e2")]})
    result = await coll.bulk_write(
        [
            UpdateOne({"_id": "k1"}, {"$pull": {"_outbox": {"id": {"$in": ["e2"]}}}}),
            UpdateOne({"_id": "gone"}, {"$pull": {"_outbox": {"id": {"$in": ["e9"]}}}}),
        ],
        ordered=False,
    )
    expect((result.matched_count, result.modified_count), (1, 1), "matched, modified")
    stored = await coll.find_one({"_id": "k1"})
    expect(stored["_outbox"], [_event("e1")], "events left")
    return None


@check(
    "bulk_write_guarded",
    "bulk_write([UpdateOne({_id, write_token}, {$set}) …]): matched_count counts guards that held",
    "events update_many, reporting set_placements",
)
async def _bulk_guarded(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [{"_id": "a", "write_token": "t1", "s": 0}, {"_id": "b", "write_token": "t1", "s": 0}]
    )
    result = await coll.bulk_write(
        [
            UpdateOne({"_id": "a", "write_token": "t1"}, {"$set": {"write_token": "t2", "s": 1}}),
            UpdateOne({"_id": "b", "write_token": "old"}, {"$set": {"write_token": "t2", "s": 1}}),
        ],
        ordered=False,
    )
    expect((result.matched_count, result.modified_count), (1, 1), "matched, modified")
    stored = await _all(coll)
    expect((stored["a"]["s"], stored["b"]["s"]), (1, 0), "s of a, b")
    return None


@check(
    "bulk_write_upserts",
    "bulk_write([UpdateOne(upsert=True), ReplaceOne(upsert=True), ReplaceOne]) counts and ids",
    "PyMongo bulk shapes the repositories build (outbox, events, reporting)",
)
async def _bulk_upserts(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "e", "v": 0, "extra": True})
    result = await coll.bulk_write(
        [
            UpdateOne({"_id": "n1"}, {"$set": {"v": 1}}, upsert=True),
            ReplaceOne({"_id": "n2"}, {"_id": "n2", "v": 2}, upsert=True),
            ReplaceOne({"_id": "e"}, {"_id": "e", "v": 3}),
        ],
        ordered=False,
    )
    counts = (result.matched_count, result.modified_count, result.upserted_count)
    expect(counts, (1, 1, 2), "matched, modified, upserted")
    expect(dict(result.upserted_ids), {0: "n1", 1: "n2"}, "upserted_ids")
    stored = await _all(coll)
    expect(stored.get("n1"), {"_id": "n1", "v": 1}, "n1")
    expect(stored.get("n2"), {"_id": "n2", "v": 2}, "n2")
    expect(stored.get("e"), {"_id": "e", "v": 3}, "e (replaced whole)")
    return None


@check(
    "upsert_set_max_inc",
    "update_one({_id}, {$set, $max (int, datetime), $inc}, upsert=True), then again",
    "shared/consumer.py ConsumerStateRepository.record",
)
async def _upsert_max_inc(db: Any, name: str) -> str | None:
    coll = db[name]
    t3, t5, t9 = (datetime(2024, 5, day, tzinfo=UTC) for day in (3, 5, 9))
    first = await coll.update_one(
        {"_id": "d"},
        {
            "$set": {"stream": "S"},
            "$max": {"last_sequence": 5, "last_event_time": t5},
            "$inc": {"applied_total": 3},
        },
        upsert=True,
    )
    expect(first.upserted_id, "d", "upserted_id")
    lower = await coll.update_one(
        {"_id": "d"},
        {
            "$set": {"stream": "S"},
            "$max": {"last_sequence": 3, "last_event_time": t3},
            "$inc": {"applied_total": 2},
        },
        upsert=True,
    )
    expect((lower.matched_count, lower.upserted_id), (1, None), "second call: matched, upserted")
    stored = await coll.find_one({"_id": "d"})
    expect(
        (stored["last_sequence"], stored["last_event_time"], stored["applied_total"]),
        (5, t5, 5),
        "after a lower $max: last_sequence, last_event_time, applied_total",
    )
    await coll.update_one(
        {"_id": "d"}, {"$max": {"last_sequence": 9, "last_event_time": t9}}, upsert=True
    )
    stored = await coll.find_one({"_id": "d"})
    expect((stored["last_sequence"], stored["last_event_time"]), (9, t9), "after a higher $max")
    return None


@check(
    "upsert_set",
    "update_one({_id}, {$set}, upsert=True) creates {_id, …}; a second one updates",
    "shared/consumer.py DeadLetterRepository.add, reporting set_active_generation",
)
async def _upsert_set(db: Any, name: str) -> str | None:
    coll = db[name]
    result = await coll.update_one(
        {"_id": "s:1"}, {"$set": {"status": "failed", "n": 1}}, upsert=True
    )
    expect(result.upserted_id, "s:1", "upserted_id")
    again = await coll.update_one({"_id": "s:1"}, {"$set": {"n": 2}}, upsert=True)
    expect((again.matched_count, again.modified_count), (1, 1), "second: matched, modified")
    expect(await coll.find_one({"_id": "s:1"}), {"_id": "s:1", "status": "failed", "n": 2}, "doc")
    return None


@check(
    "noop_set_counts",
    "update_one whose $set changes nothing → matched 1, modified 0",
    "guarded writes that count modified_count (replica, facts)",
)
async def _noop_set(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "k", "v": 1})
    result = await coll.update_one({"_id": "k"}, {"$set": {"v": 1}})
    expect((result.matched_count, result.modified_count), (1, 0), "matched, modified")
    return None


@check(
    "replace_guarded_lt",
    "replace_one({_id, revision: {$lt: r}}, doc): lower does nothing, higher replaces whole",
    "shared/replica.py apply_latest, reporting apply_facts",
)
async def _replace_guarded(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "k", "revision": 5, "v": "old", "extra": 1})
    lower = await coll.replace_one(
        {"_id": "k", "revision": {"$lt": 4}}, {"_id": "k", "revision": 4, "v": "older"}
    )
    expect((lower.matched_count, lower.modified_count), (0, 0), "lower: matched, modified")
    higher = await coll.replace_one(
        {"_id": "k", "revision": {"$lt": 6}}, {"_id": "k", "revision": 6, "v": "new"}
    )
    expect((higher.matched_count, higher.modified_count), (1, 1), "higher: matched, modified")
    expect(await coll.find_one({"_id": "k"}), {"_id": "k", "revision": 6, "v": "new"}, "doc")
    return None


@check(
    "replace_upsert_positional",
    "replace_one({_id}, doc, True) (upsert positional); find_one(…, {_id: 0})",
    "registry put_client, reporting save_rebuild / rebuild",
)
async def _replace_upsert(db: Any, name: str) -> str | None:
    coll = db[name]
    first = await coll.replace_one({"_id": "rebuild"}, {"_id": "rebuild", "state": "x"}, True)
    if await coll.find_one({"_id": "rebuild"}) is None:
        raise Wrong("upsert given positionally (True) is ignored: nothing is written")
    expect(first.upserted_id, "rebuild", "upserted_id")
    await coll.replace_one({"_id": "rebuild"}, {"_id": "rebuild", "state": "y"}, True)
    expect(await coll.find_one({"_id": "rebuild"}, {"_id": 0}), {"state": "y"}, "projected doc")
    expect(await coll.count_documents({}), 1, "documents")
    return None


@check(
    "update_many_ne_null",
    "update_many({_id: {$ne}, retired_at: None}, {$set}): null matches null and missing",
    "registry retire_signing_keys_except",
)
async def _update_many_null(db: Any, name: str) -> str | None:
    coll = db[name]
    old = datetime(2024, 1, 1, tzinfo=UTC)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    await coll.insert_many(
        [
            {"_id": "k1", "retired_at": None},
            {"_id": "k2"},
            {"_id": "k3", "retired_at": old},
            {"_id": "current"},
        ]
    )
    result = await coll.update_many(
        {"_id": {"$ne": "current"}, "retired_at": None}, {"$set": {"retired_at": now}}
    )
    expect(result.matched_count, 2, "matched (k1 null, k2 missing)")
    stored = await _all(coll)
    retired = {key: row.get("retired_at", "missing") for key, row in stored.items()}
    expect(retired, {"k1": now, "k2": now, "k3": old, "current": "missing"}, "retired_at")
    return None


# --- reads --------------------------------------------------------------------


@check(
    "pending_exists_projection",
    'find({"_outbox.0": {$exists: true}}, {_outbox: 1}).sort("_id", 1).limit(n)',
    "shared/outbox.py _pending, registry pending",
)
async def _pending(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [
            {"_id": "d", "_outbox": [_event("e2")], "x": 1},
            {"_id": "a", "_outbox": [_event("e1")], "x": 1},
            {"_id": "b", "_outbox": [], "x": 1},
            {"_id": "c", "x": 1},
            {"_id": "e", "_outbox": [_event("e3")], "x": 1},
        ]
    )
    rows = (
        await coll.find({"_outbox.0": {"$exists": True}}, {"_outbox": 1})
        .sort("_id", 1)
        .limit(2)
        .to_list(None)
    )
    expect(
        rows,
        [{"_id": "a", "_outbox": [_event("e1")]}, {"_id": "d", "_outbox": [_event("e2")]}],
        "rows",
    )
    return None


@check(
    "exclusion_projection",
    "find_one({_id}, {_outbox: 0}); find(…, {_outbox: 0, history: 0, write_token: 0})",
    "shared/versioned.py, registry get, events get/current/page",
)
async def _exclusion(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one(
        {"_id": "k", "a": 1, "_outbox": [_event("e")], "history": [1], "write_token": "t"}
    )
    expect(
        await coll.find_one({"_id": "k"}, {"_outbox": 0}),
        {"_id": "k", "a": 1, "history": [1], "write_token": "t"},
        "find_one",
    )
    rows = await coll.find({}, {"_outbox": 0, "history": 0, "write_token": 0}).to_list(None)
    expect(rows, [{"_id": "k", "a": 1}], "find")
    return None


@check(
    "in_id_projection",
    "find({_id: {$in}}, {version: 1}); and {_id: {$gte, $lte, $in}} (range-led keys)",
    "reporting apply_facts, shared/replica.py, events current_many",
)
async def _in_id(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [{"_id": key, "version": v, "other": 0} for v, key in enumerate("abcde", start=1)]
    )
    rows = await coll.find({"_id": {"$in": ["a", "c", "zz"]}}, {"version": 1}).to_list(None)
    expect(_by_id(rows), [{"_id": "a", "version": 1}, {"_id": "c", "version": 3}], "$in rows")
    ranged = await coll.find({"_id": {"$gte": "b", "$lte": "d", "$in": ["b", "d", "e"]}}).to_list(
        None
    )
    expect(sorted(row["_id"] for row in ranged), ["b", "d"], "range-led $in ids")
    return None


@check(
    "in_1000_keys",
    "1,000 keys (a full batch): find {_id: {$in}}, range-led {$gte, $lte, $in}, update_many $pull",
    "events current_many / insert_many retry, reporting apply_facts, outbox _mark_sent",
)
async def _in_many(db: Any, name: str) -> str | None:
    coll = db[name]
    keys = [f"k{i:05d}" for i in range(1000)]
    await coll.insert_many([{"_id": key, "_outbox": [_event(key)]} for key in [*keys, "zz"]])
    problems = []
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("$in", {"_id": {"$in": keys}}),
        ("range-led $in", {"_id": {"$gte": keys[0], "$lte": keys[-1], "$in": keys}}),
    ]
    for label, query in shapes:
        try:
            found = len(await coll.find(query).to_list(None))
            if found != 1000:
                problems.append(f"find {label}: {found} of 1000")
        except Exception as error:
            problems.append(f"find {label} raises {type(error).__name__}: {error}"[:160])
    try:
        result = await coll.update_many(shapes[1][1], {"$pull": {"_outbox": {"id": {"$in": keys}}}})
        if result.modified_count != 1000:
            problems.append(f"update_many modified {result.modified_count} of 1000")
    except Exception as error:
        problems.append(f"update_many raises {type(error).__name__}: {error}"[:160])
    if problems:
        raise Wrong("; ".join(problems))
    return None


@check(
    "page_and_or_dotted_sort",
    "events page: $and of $in, dotted range, $or resume; sort [(activity.started_on, 1), (_id, 1)]",
    "services/events/repository.py ActivityRepository.page",
)
async def _page(db: Any, name: str) -> str | None:
    coll = db[name]
    rows_in = [
        ("a1", "P1", "2024-02-01", "active"),
        ("a2", "P1", "2024-02-10", "active"),
        ("a3", "P2", "2024-02-10", "pending_reference"),
        ("a4", "P1", "2024-02-10", "voided"),
        ("a5", "P3", "2024-02-15", "active"),
        ("a6", "P2", "2024-03-01", "active"),
        ("a7", "P1", "2024-04-01", "active"),
        ("a0", "P2", "2024-02-10", "active"),
    ]
    await coll.insert_many(
        [
            {
                "_id": key,
                "province_id": province,
                "status": status,
                "activity": {"started_on": day},
                "history": [],
                "_outbox": [],
                "write_token": "t",
            }
            for key, province, day, status in rows_in
        ]
    )
    query = {
        "$and": [
            {"province_id": {"$in": ["P1", "P2"]}},
            {"activity.started_on": {"$gte": "2024-02-01", "$lte": "2024-03-31"}},
            {"status": {"$in": ["active", "pending_reference"]}},
            {
                "$or": [
                    {"activity.started_on": {"$gt": "2024-02-10"}},
                    {"activity.started_on": "2024-02-10", "_id": {"$gt": "a0"}},
                ]
            },
        ]
    }
    hidden = {"_outbox": 0, "history": 0, "write_token": 0}
    order = [("activity.started_on", ASCENDING), ("_id", ASCENDING)]
    rows = await coll.find(query, hidden).sort(order).limit(3).to_list(None)
    expect([row["_id"] for row in rows], ["a2", "a3", "a6"], "ids in order")
    expect(sorted(rows[0]), ["_id", "activity", "province_id", "status"], "fields returned")
    return None


@check(
    "or_null_missing",
    "find({established_on: {$lte}, $or: [{dissolved_on: None}, {dissolved_on: {$gt}}]})",
    "services/reporting/repository.py clubs_at",
)
async def _or_null(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [
            {"_id": "c1", "established_on": "2024-01-01", "dissolved_on": None, "unit_id": "u"},
            {"_id": "c2", "established_on": "2024-01-01", "unit_id": "u"},
            {"_id": "c3", "established_on": "2024-01-01", "dissolved_on": "2024-06-01"},
            {"_id": "c4", "established_on": "2024-01-01", "dissolved_on": "2024-02-01"},
            {"_id": "c5", "established_on": "2024-05-01", "dissolved_on": None},
        ]
    )
    day = "2024-03-01"
    rows = await coll.find(
        {
            "established_on": {"$lte": day},
            "$or": [{"dissolved_on": None}, {"dissolved_on": {"$gt": day}}],
        },
        {"_id": 1, "unit_id": 1},
    ).to_list(None)
    expect(
        _by_id(rows),
        [{"_id": "c1", "unit_id": "u"}, {"_id": "c2", "unit_id": "u"}, {"_id": "c3"}],
        "rows",
    )
    return None


@check(
    "array_field_match",
    "match on an array field: {lineage: x}, {$or: [{pending: true}, {lineage: {$in}}]}",
    "reporting facts_to_place, flow_groups, activity_counts_by_unit",
)
async def _array_match(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [
            {"_id": "f1", "lineage": ["VN", "P1", "D1"], "pending": False, "version": 1},
            {"_id": "f2", "lineage": ["VN", "P1", "D2"], "pending": False, "version": 1},
            {"_id": "f3", "lineage": ["VN", "P2", "D3"], "pending": True, "version": 1},
            {"_id": "f4", "lineage": ["VN", "P2", "D4"], "pending": False, "version": 1},
        ]
    )
    rows = await coll.find({"lineage": "P1"}).to_list(None)
    expect(sorted(row["_id"] for row in rows), ["f1", "f2"], "{lineage: 'P1'}")
    rows = await coll.find(
        {"$or": [{"pending": True}, {"lineage": {"$in": ["D2", "D9"]}}]}, {"_id": 1, "version": 1}
    ).to_list(None)
    expect(_by_id(rows), [{"_id": "f2", "version": 1}, {"_id": "f3", "version": 1}], "$or rows")
    return None


@check(
    "string_range",
    "range on ISO date strings {on: {$gte, $lte}}; numbers and nulls not in a string range",
    "reporting flow_groups, events page, clubs_at",
)
async def _string_range(db: Any, name: str) -> str | None:
    coll = db[name]
    values: list[Any] = ["2024-01-05", "2023-12-31", "2024-12-31", "2025-01-01", 20240105, None]
    await coll.insert_many(
        [{"_id": f"d{i}", "on": v} for i, v in enumerate(values)] + [{"_id": "d9"}]
    )
    rows = await coll.find({"on": {"$gte": "2024-01-01", "$lte": "2024-12-31"}}).to_list(None)
    expect(sorted(row["_id"] for row in rows), ["d0", "d2"], "ids in range")
    return None


@check(
    "datetime_tz_roundtrip",
    "aware datetimes (UTC and +07:00) stored and read back: aware UTC, millisecond precision",
    "audit, consumer state, dead letters, signing keys, pending_since",
)
async def _datetimes(db: Any, name: str) -> str | None:
    coll = db[name]
    hanoi = timezone(timedelta(hours=7))
    in_utc = datetime(2024, 5, 1, 3, 30, 15, 123456, tzinfo=UTC)
    in_hanoi = datetime(2024, 5, 1, 10, 30, 15, 123456, tzinfo=hanoi)
    await coll.insert_one({"_id": "t", "utc": in_utc, "hanoi": in_hanoi})
    stored = await coll.find_one({"_id": "t"})
    problems: list[str] = []
    for field in ("utc", "hanoi"):
        value = stored[field]
        if not isinstance(value, datetime):
            problems.append(f"{field} comes back as {type(value).__name__}")
            continue
        if value.tzinfo is None:
            problems.append(f"{field} comes back naive ({value.isoformat()})")
            aware = value.replace(tzinfo=UTC)
        else:
            aware = value
            if value.utcoffset() != timedelta(0):
                problems.append(f"{field} keeps offset {value.utcoffset()} (MongoDB returns UTC)")
        if abs(aware - in_utc) >= timedelta(milliseconds=1):
            problems.append(f"{field} is another instant: {value.isoformat()}")
        elif value.microsecond % 1000:
            problems.append(f"{field} keeps microseconds (MongoDB stores milliseconds)")
    if problems:
        raise Wrong("; ".join(problems))
    return None


@check(
    "count_datetime_lt",
    "count_documents({status, pending_since: {$lt: aware datetime}})",
    "events pending_older_than",
)
async def _count_lt(db: Any, name: str) -> str | None:
    coll = db[name]
    base = datetime(2024, 5, 1, tzinfo=UTC)
    await coll.insert_many(
        [
            {"_id": f"a{i}", "status": status, "pending_since": base + timedelta(hours=hours)}
            for i, (status, hours) in enumerate(
                [
                    ("pending_reference", 1),
                    ("pending_reference", 5),
                    ("active", 1),
                    ("pending_reference", 30),
                ]
            )
        ]
    )
    count = await coll.count_documents(
        {"status": "pending_reference", "pending_since": {"$lt": base + timedelta(hours=6)}}
    )
    expect(count, 2, "count")
    return None


@check(
    "sort_by_datetime",
    'find({}).sort("created_at", ASCENDING)',
    "registry signing_keys",
)
async def _sort_datetime(db: Any, name: str) -> str | None:
    coll = db[name]
    base = datetime(2024, 5, 1, tzinfo=UTC)
    await coll.insert_many(
        [{"_id": key, "created_at": base + timedelta(days=d)} for key, d in (("b", 2), ("a", 3))]
        + [{"_id": "c", "created_at": base}]
    )
    rows = await coll.find({}).sort("created_at", ASCENDING).to_list(None)
    expect([row["_id"] for row in rows], ["c", "b", "a"], "order")
    return None


@check(
    "page_gt_sort_limit_async_for",
    'find({status, _id: {$gt}}).sort("_id", 1).limit(n); async for over find(…, {stream: 1})',
    "registry page, audit find, dead letters list/count_by_stream",
)
async def _paging(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many(
        [{"_id": key, "status": "failed", "stream": "S"} for key in "edcba"]
        + [{"_id": "bb", "status": "retried", "stream": "S"}]
    )
    rows = (
        await coll.find({"status": "failed", "_id": {"$gt": "b"}})
        .sort("_id", 1)
        .limit(2)
        .to_list(None)
    )
    expect([row["_id"] for row in rows], ["c", "d"], "page")
    seen = [row async for row in coll.find({"status": "failed"}, {"stream": 1})]
    expect(_by_id(seen)[0], {"_id": "a", "stream": "S"}, "first projected row")
    expect(len(seen), 5, "rows iterated")
    return None


# --- aggregation --------------------------------------------------------------


_FACTS = [
    # _id, province, unit, on, status, type, female, male, v34 shares
    ("f1", "P1", "U1", "2024-02-01", "active", "meeting", 3, 1, [("A", 0.5), ("B", 0.5)]),
    ("f2", "P1", "U1", "2024-03-01", "active", "training", 4, 2, [("A", 1.0)]),
    ("f3", "P1", "U2", "2024-03-05", "active", "meeting", 8, 0, [("B", 0.25), ("C", 0.75)]),
    ("f4", "P1", "U2", "2024-03-05", "voided", "meeting", 100, 100, [("B", 1.0)]),
    ("f5", "P1", "U2", "2025-01-01", "active", "meeting", 100, 100, [("B", 1.0)]),
    ("f6", "P2", "U3", "2024-03-05", "active", "meeting", 100, 100, [("D", 1.0)]),
    ("f7", "P1", "U2", "2024-04-01", "active", "other", 100, 100, [("B", 1.0)]),
]  # fmt: skip


async def _insert_facts(coll: Collection) -> None:
    await coll.insert_many(
        [
            {
                "_id": key,
                "lineage": ["VN", province, unit],
                "r34": ["VN", province, unit],
                "unit_id": unit,
                "on": on,
                "status": status,
                "type": kind,
                "programme": "GE",
                "female": female,
                "male": male,
                "n": 1,
                "v34": [{"u": u, "s": s} for u, s in shares],
            }
            for key, province, unit, on, status, kind, female, male, shares in _FACTS
        ]
    )


def _match(field: str) -> dict[str, Any]:
    return {
        field: "P1",
        "on": {"$gte": "2024-01-01", "$lte": "2024-12-31"},
        "status": "active",
        "type": {"$in": ["meeting", "training"]},
        "programme": "GE",
    }


@check(
    "aggregate_match_group_sum",
    "await aggregate([$match (array field, range, $in), "
    "$group {_id: {u, type}, $sum field, $sum 1}])",
    "reporting flow_groups (as-was), activity_counts_by_unit",
)
async def _group_sum(db: Any, name: str) -> str | None:
    coll = db[name]
    await _insert_facts(coll)
    rows = await _aggregate(
        coll,
        [
            {"$match": _match("lineage")},
            {
                "$group": {
                    "_id": {"u": "$unit_id", "t": "$type"},
                    "female": {"$sum": "$female"},
                    "male": {"$sum": "$male"},
                    "n": {"$sum": 1},
                }
            },
        ],
    )
    got = sorted((r["_id"]["u"], r["_id"]["t"], r["female"], r["male"], r["n"]) for r in rows)
    expect(
        got,
        [("U1", "meeting", 3, 1, 1), ("U1", "training", 4, 2, 1), ("U2", "meeting", 8, 0, 1)],
        "groups (u, type, female, male, n)",
    )
    return None


@check(
    "aggregate_unwind_multiply",
    "await aggregate([$match, $unwind '$v34', $group {_id: {u: '$v34.u'}, $sum: {$multiply}}])",
    "reporting flow_groups (restated)",
)
async def _unwind(db: Any, name: str) -> str | None:
    coll = db[name]
    await _insert_facts(coll)
    rows = await _aggregate(
        coll,
        [
            {"$match": _match("r34")},
            {"$unwind": "$v34"},
            {
                "$group": {
                    "_id": {"u": "$v34.u"},
                    "female": {"$sum": {"$multiply": ["$female", "$v34.s"]}},
                    "n": {"$sum": {"$multiply": ["$n", "$v34.s"]}},
                }
            },
        ],
    )
    got = sorted((r["_id"]["u"], r["female"], r["n"]) for r in rows)
    expect(got, [("A", 5.5, 1.5), ("B", 3.5, 0.75), ("C", 6.0, 0.75)], "groups (u, female, n)")
    return None


@check(
    "aggregate_or_null_group_null_key",
    "await aggregate([$match {$in, $lte, $or null}, "
    "$group {_id: {c, sex, em}, n: {$sum: 1}}]); em None",
    "reporting member_groups",
)
async def _member_groups(db: Any, name: str) -> str | None:
    coll = db[name]
    members = [
        ("m1", "c1", "f", True, "2024-01-01", None),
        ("m2", "c1", "f", True, "2024-01-01", "2024-12-01"),
        ("m3", "c1", "m", None, "2024-01-01", None),
        ("m4", "c1", "f", True, "2024-01-01", "2024-02-01"),
        ("m5", "c2", "f", False, "2024-05-01", None),
        ("m6", "c9", "f", True, "2024-01-01", None),
    ]
    documents = []
    for key, club, sex, em, joined, left in members:
        document = {"_id": key, "club_id": club, "sex": sex, "ethnic_minority": em}
        document["joined_on"] = joined
        if left is not None or key == "m1":
            document["left_on"] = left  # m1: explicit null; m3, m5, m6: missing
        documents.append(document)
    await coll.insert_many(documents)
    day = "2024-03-01"
    rows = await _aggregate(
        coll,
        [
            {
                "$match": {
                    "club_id": {"$in": ["c1", "c2"]},
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
        ],
    )
    got = sorted((r["_id"]["c"], r["_id"]["sex"], repr(r["_id"]["em"]), r["n"]) for r in rows)
    expect(got, [("c1", "f", "True", 2), ("c1", "m", "None", 1)], "groups (club, sex, em, n)")
    return None


@check("count_documents", "count_documents({})", "reporting count_facts")
async def _count_all(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_many([{"_id": f"f{i}"} for i in range(7)])
    expect(await coll.count_documents({}), 7, "count")
    return None


# --- indexes and admin --------------------------------------------------------


def _index_keys(info: dict[str, Any]) -> list[list[tuple[str, int]]]:
    found = []
    for spec in info.values():
        key = spec["key"]
        pairs = key.items() if isinstance(key, dict) else key
        found.append([(field, int(direction)) for field, direction in pairs])
    return found


@check(
    "create_index_compound",
    "create_index([(lineage, 1), (activity.started_on, 1), (_id, 1)]) → name; "
    "in index_information()",
    "events ensure_indexes, reporting create_indexes, audit",
)
async def _compound_index(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "a", "lineage": ["P1"], "activity": {"started_on": "2024"}})
    keys = [("lineage", ASCENDING), ("activity.started_on", ASCENDING), ("_id", ASCENDING)]
    index_name = await coll.create_index(keys)
    expect(index_name, "lineage_1_activity.started_on_1__id_1", "index name")
    info = await coll.index_information()
    if keys not in _index_keys(info):
        raise Wrong(f"accepted, but index_information() lists {sorted(info)}")
    rows = await coll.find({"lineage": "P1", "activity.started_on": "2024"}).to_list(None)
    expect(len(rows), 1, "query on the indexed fields")
    return None


@check(
    "unique_secondary_index",
    "create_index(email, unique=True): insert_one and insert_many(ordered=False) "
    "duplicates → 11000",
    "(not used yet: _id is the only unique key today)",
)
async def _unique_index(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.create_index("email", unique=True)
    await coll.insert_one({"_id": "a", "email": "x@example.vn"})
    try:
        await coll.insert_one({"_id": "b", "email": "x@example.vn"})
    except DuplicateKeyError as error:
        expect(error.code, 11000, "insert_one code")
    except Exception as error:
        raise Wrong(_raised(error, DuplicateKeyError)) from error
    else:
        raise Wrong("a second 'x@example.vn' was accepted")
    try:
        await coll.insert_many(
            [{"_id": "c", "email": "y@example.vn"}, {"_id": "d", "email": "x@example.vn"}],
            ordered=False,
        )
    except BulkWriteError as error:
        codes = [e.get("code") for e in error.details.get("writeErrors", [])]
        expect(codes, [11000], "insert_many writeErrors codes")
    except Exception as error:
        raise Wrong("insert_many: " + _raised(error, BulkWriteError)) from error
    else:
        raise Wrong("insert_many: a second 'x@example.vn' was accepted")
    expect(sorted(await _all(coll)), ["a", "c"], "ids stored")
    return None


@check(
    "drop_collection",
    "db.drop_collection(name) empties it",
    "reporting ReadModels.drop (rebuild generations)",
)
async def _drop_ping(db: Any, name: str) -> str | None:
    coll = db[name]
    await coll.insert_one({"_id": "x"})
    await db.drop_collection(name)
    expect(await db[name].count_documents({}), 0, "documents after drop")
    return None


@check("ping", 'db.command("ping") → {ok: 1}', "shared/mongo.py MongoHandle.ping (/readyz)")
async def _ping(db: Any, name: str) -> str | None:
    reply = await db.command("ping")
    expect(float(reply.get("ok", 0)), 1.0, "ping ok")
    return None


_UNSUPPORTED_WORDS = (
    "not implemented",
    "not supported",
    "does not support",
    "unsupported",
    "notimplemented",
)


def classify(error: BaseException) -> Verdict:
    text = f"{type(error).__module__}.{type(error).__name__}: {error}"
    # Without object addresses, so that two runs read the same.
    text = re.sub(r" at 0x[0-9a-f]+", "", " ".join(text.split()))[:300]
    if isinstance(error, Wrong):
        return Verdict("wrong", str(error)[:400])
    missing_call = isinstance(error, AttributeError) and "NoneType" not in text
    if (
        isinstance(error, NotImplementedError)
        or missing_call
        or any(word in text.lower() for word in _UNSUPPORTED_WORDS)
    ):
        return Verdict("unsupported", text)
    return Verdict("wrong", "raises " + text)


async def run_checks(db: Any, timeout: float = 30.0) -> dict[str, Verdict]:
    verdicts: dict[str, Verdict] = {}
    for number, item in enumerate(CHECKS):
        try:
            note = await asyncio.wait_for(item.run(db, f"fidelity_{number:02d}"), timeout)
            verdicts[item.key] = Verdict("ok", note or "")
        except TimeoutError:
            verdicts[item.key] = Verdict("wrong", f"no answer within {timeout:.0f} s")
        except Exception as error:
            verdicts[item.key] = classify(error)
    return verdicts
