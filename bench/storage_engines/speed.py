"""Throughput and latency on activity-shaped documents at 10,000 and 100,000 documents.

The documents look like the events service's activities (about 25 fields: dates,
the nested activity, lineage, history, one pending event). They are laid out so that
every query shape has the same answer size at every collection size: document `i`
is in province `i % 50` (region `province // 5`) and starts on day `i // 250`, so a
province has 5 activities a day and a region 25. The equality + range query (one
province, 20 days) returns 100 documents and the `$match` + `$group` (one region,
40 days) groups 1,000, at 10,000 documents as at 100,000: a cost that grows between
the two grows with the collection, not with the answer.

The collection gets the events service's indexes before the load (as
`ensure_indexes` does at start); an engine that refuses one is noted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import ASCENDING

Emit = Callable[[dict[str, Any]], None]

PROVINCES = 50
PER_PROVINCE_DAY = 5
DOCS_PER_DAY = PROVINCES * PER_PROVINCE_DAY
RANGE_DAYS = 20  # x 5 a day: 100 documents of one province
GROUP_DAYS = 40  # x 25 a day: 1,000 documents of one region
TYPES = ("meeting", "training_course", "support_delivery", "communication")
DAY0 = date(2024, 1, 1)
CREATED = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)

_ORDER = [("activity.started_on", ASCENDING), ("_id", ASCENDING)]
INDEXES: list[list[tuple[str, int]]] = [
    [("id", ASCENDING)],
    [("lineage", ASCENDING), *_ORDER],
    [("province_id", ASCENDING), *_ORDER],
    [("status", ASCENDING), ("pending_on", ASCENDING)],
    _ORDER,
]


def key_of(i: int) -> str:
    """Storage keys in no particular order, as derived keys are."""
    return hashlib.blake2b(str(i).encode(), digest_size=12).hexdigest()


def day_of(day: int) -> str:
    return (DAY0 + timedelta(days=day)).isoformat()


def activity(i: int) -> dict[str, Any]:
    province = i % PROVINCES
    region = province // 5
    commune = f"P{province:02d}-C{(i // PROVINCES) % 12:02d}"
    started = day_of(i // DOCS_PER_DAY)
    female, male = i % 17, i % 13
    at = CREATED + timedelta(seconds=i)
    activity_id = str(uuid.UUID(int=i + (1 << 100)))
    return {
        "_id": key_of(i),
        "id": activity_id,
        "source_system": "bench",
        "external_id": f"ext-{i:08d}",
        "version": 1,
        "revision": 1,
        "status": "active",
        "activity": {
            "type": TYPES[(i // PROVINCES) % len(TYPES)],
            "programme": "GE-2024",
            "title": f"Sinh hoạt câu lạc bộ {i}",
            "unit_id": commune,
            "club_id": f"CLB-{commune}",
            "site_id": None,
            "started_on": started,
            "ended_on": started,
            "participants": {
                "female": female,
                "male": male,
                "ethnic_minority": i % 5,
                "total": female + male,
            },
            "budget_vnd": 1_000_000 + (i % 97) * 10_000,
            "notes": "Nội dung: bình đẳng giới trong gia đình.",
        },
        "province_id": f"P{province:02d}",
        "lineage": ["VN", f"R{region}", f"P{province:02d}", commune],
        "pending_on": None,
        "pending_since": None,
        "rejection": None,
        "void": None,
        "counted": True,
        "created_at": at,
        "updated_at": at,
        "write_token": uuid.UUID(int=i).hex,
        "history": [{"version": 1, "at": at, "by": "client-bench", "change": "created"}],
        "_outbox": [
            {
                "id": str(uuid.UUID(int=i + (1 << 120))),
                "type": "bdg.activity.recorded.v1",
                "source": "events",
                "subject": activity_id,
                "time": at.isoformat(),
                "data": {"id": activity_id, "version": 1, "province_id": f"P{province:02d}"},
            }
        ],
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": _ms(statistics.median(ordered)),
        "p95_ms": _ms(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]),
        "max_ms": _ms(ordered[-1]),
        "mean_ms": _ms(statistics.fmean(ordered)),
    }


class Limits:
    def __init__(self, op_cap: float, series_budget: float, load_budget: float) -> None:
        self.op_cap = op_cap
        self.series_budget = series_budget
        self.load_budget = load_budget


async def series(
    name: str,
    operation: Callable[[int], Awaitable[str | None]],
    reps: int,
    limits: Limits,
    emit: Emit,
    size: int,
    *,
    budget_factor: float = 1.0,
) -> dict[str, Any]:
    """Time `operation(r)` up to `reps` times or until the time budget is spent;
    `operation` returns a problem with its answer, if any (wrong count, not found)."""
    emit({"event": "start", "measure": name, "size": size})
    samples: list[float] = []
    problems: list[str] = []
    started = time.perf_counter()
    over_cap = False
    error: str | None = None
    for rep in range(reps):
        t0 = time.perf_counter()
        try:
            problem = await operation(rep)
        except Exception as failure:
            error = f"{type(failure).__module__}.{type(failure).__name__}: {failure}"[:300]
            break
        elapsed = time.perf_counter() - t0
        emit({"event": "tick", "s": round(elapsed, 4)})
        samples.append(elapsed)
        if problem and len(problems) < 3:
            problems.append(problem)
        if elapsed > limits.op_cap:
            over_cap = True
            break
        spent = time.perf_counter() - started
        # Enough samples once the budget is spent; a slow shape stops at the op cap.
        if spent > limits.series_budget * budget_factor and (rep >= 4 or spent > limits.op_cap):
            break
    result: dict[str, Any] = {"measure": name, "size": size, "over_cap": over_cap}
    result.update(summary(samples) if samples else {"n": 0})
    result["problems"] = problems
    result["error"] = error
    emit({"event": "series", **result})
    return result


async def thread_hop(samples: int = 2000) -> dict[str, Any]:
    """What one `asyncio.to_thread` round trip costs here (an adapter over a sync engine)."""
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        await asyncio.to_thread(int)
        times.append(time.perf_counter() - t0)
    return summary(times)


def _disk_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed meanwhile
                total += os.path.getsize(os.path.join(root, name))
    return total


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def create_indexes(coll: Any, emit: Emit) -> list[str]:
    notes = []
    for keys in INDEXES:
        try:
            await coll.create_index(keys)
        except Exception as error:
            text = f"{type(error).__name__}: {error}"[:160]
            try:
                await coll.create_index(keys[:1])
                notes.append(f"{keys}: refused ({text}); created {keys[:1]} instead")
            except Exception:
                notes.append(f"{keys}: refused ({text})")
    emit({"event": "indexes", "notes": notes})
    return notes


class Workload:
    def __init__(self, coll: Any, loaded: int, rng: random.Random, attempt: int) -> None:
        self.coll = coll
        self.loaded = loaded
        self.rng = rng
        self.revisions: dict[str, int] = {}
        # Each process updates its own eighth of the documents, so a resumed run never
        # guards on a revision an earlier process already moved.
        self.update_residue = attempt % 8

    def random_key(self) -> str:
        return key_of(self.rng.randrange(self.loaded))

    async def find_one_id(self, _: int) -> str | None:
        key = self.random_key()
        found = await self.coll.find_one({"_id": key})
        return None if found and found["_id"] == key else f"{key} not found"

    async def find_in(self, _: int) -> str | None:
        keys = [key_of(i) for i in self.rng.sample(range(self.loaded), 1000)]
        rows = await self.coll.find({"_id": {"$in": keys}}).to_list(None)
        return None if len(rows) == 1000 else f"returned {len(rows)} of 1000"

    async def guarded_update(self, _: int) -> str | None:
        while True:
            index = self.rng.randrange(self.loaded // 8) * 8 + self.update_residue
            key = key_of(index)
            if key not in self.revisions:
                break
        revision = self.revisions.get(key, 1)
        now = datetime.now(UTC)
        result = await self.coll.update_one(
            {"_id": key, "revision": revision},
            {
                "$set": {
                    "updated_at": now,
                    "write_token": uuid.uuid4().hex,
                    "revision": revision + 1,
                },
                "$push": {
                    "_outbox": {"$each": [{"id": str(uuid.uuid4()), "time": now.isoformat()}]}
                },
            },
        )
        self.revisions[key] = revision + 1
        return None if result.modified_count == 1 else f"modified {result.modified_count}"

    async def province_range(self, _: int) -> str | None:
        days = self.loaded // DOCS_PER_DAY
        first = self.rng.randrange(max(1, days - RANGE_DAYS + 1))
        province = f"P{self.rng.randrange(PROVINCES):02d}"
        query = {
            "province_id": province,
            "activity.started_on": {
                "$gte": day_of(first),
                "$lte": day_of(first + RANGE_DAYS - 1),
            },
        }
        cursor = self.coll.find(query, {"_outbox": 0, "history": 0}).sort(_ORDER)
        rows = await cursor.to_list(None)
        expected = PER_PROVINCE_DAY * min(RANGE_DAYS, days)
        return None if len(rows) == expected else f"returned {len(rows)}, expected {expected}"

    async def region_group(self, _: int) -> str | None:
        days = self.loaded // DOCS_PER_DAY
        first = self.rng.randrange(max(1, days - GROUP_DAYS + 1))
        region = f"R{self.rng.randrange(PROVINCES // 5)}"
        pipeline = [
            {
                "$match": {
                    "lineage": region,
                    "activity.started_on": {
                        "$gte": day_of(first),
                        "$lte": day_of(first + GROUP_DAYS - 1),
                    },
                    "status": "active",
                }
            },
            {
                "$group": {
                    "_id": {"u": "$activity.unit_id", "t": "$activity.type"},
                    "n": {"$sum": 1},
                    "female": {"$sum": "$activity.participants.female"},
                    "male": {"$sum": "$activity.participants.male"},
                }
            },
        ]
        rows = await (await self.coll.aggregate(pipeline)).to_list(None)
        counted = sum(row["n"] for row in rows)
        expected = 5 * PER_PROVINCE_DAY * min(GROUP_DAYS, days)
        return None if counted == expected else f"grouped {counted}, expected {expected}"


# (measure, reps, budget factor): the budget is per series (see Limits).
QUERIES: list[tuple[str, int, float]] = [
    ("find_one_id", 400, 1.0),
    ("find_in_1000", 30, 1.0),
    ("update_guarded", 400, 1.0),
    ("province_range_100", 150, 1.0),
    ("region_group_1000", 40, 1.5),
]


@dataclass(frozen=True)
class Resume:
    """Go on in a new process after one operation ran over the cap (persistent stores)."""

    loaded: int
    attempt: int
    done: frozenset[str]


async def run_speed(
    store: Any,
    store_path: Path,
    emit: Emit,
    sizes: list[int],
    limits: Limits,
    seed: int,
    resume: Resume | None = None,
    batch: int = 1000,
) -> None:
    coll = store.db("bench")["activities"]
    # Beside the store: the batch timings and whether the load stopped, for a resumed run.
    progress_file = store_path.parent / f"{store_path.name}-load.json"
    if resume is None:
        await create_indexes(coll, emit)
        loaded, batch_seconds, stopped = 0, [], None
    else:
        saved = json.loads(await asyncio.to_thread(progress_file.read_text))
        loaded, batch_seconds, stopped = resume.loaded, saved["batch_seconds"], saved["stopped"]
    attempt = 0 if resume is None else resume.attempt
    workload = Workload(coll, loaded, random.Random(seed + attempt), attempt)
    for size in sizes:
        if resume is not None and size < resume.loaded:
            continue  # measured before the restart
        if loaded < size and stopped is None:
            emit({"event": "start", "measure": "insert_many", "size": size})
            while loaded < size and stopped is None:
                documents = [activity(i) for i in range(loaded, loaded + batch)]
                t0 = time.perf_counter()
                await coll.insert_many(documents, ordered=False)
                elapsed = time.perf_counter() - t0
                emit({"event": "tick", "s": round(elapsed, 4)})
                batch_seconds.append(elapsed)
                loaded += batch
                if elapsed > limits.op_cap:
                    stopped = f"one batch of {batch} took {elapsed:.0f} s (> {limits.op_cap:.0f} s)"
                elif sum(batch_seconds) > limits.load_budget:
                    stopped = f"load time over {limits.load_budget:.0f} s at {loaded:,} documents"
                if len(batch_seconds) % 10 == 0:
                    emit({"event": "progress", "loaded": loaded, "seconds": sum(batch_seconds)})
            state = {"batch_seconds": batch_seconds, "stopped": stopped}
            await asyncio.to_thread(progress_file.write_text, json.dumps(state))
            emit(
                {
                    "event": "insert",
                    "size": size,
                    "loaded": loaded,
                    "seconds": round(sum(batch_seconds), 3),
                    "docs_per_s": round(loaded / sum(batch_seconds), 1),
                    "batch": batch,
                    "first_10k_docs_per_s": _rate(batch_seconds[: 10_000 // batch], batch),
                    "last_10k_docs_per_s": _rate(batch_seconds[-(10_000 // batch) :], batch),
                    "stopped": stopped,
                    "store_mb": round(_disk_bytes(store_path) / 1e6, 1),
                    "rss_mb": _rss_mb(),
                }
            )
        workload.loaded = loaded
        for measure, reps, factor in QUERIES:
            if resume is not None and loaded == resume.loaded and measure in resume.done:
                continue
            operation = getattr(workload, _METHODS[measure])
            await series(measure, operation, reps, limits, emit, loaded, budget_factor=factor)
        if stopped is not None:
            break


_METHODS = {
    "find_one_id": "find_one_id",
    "find_in_1000": "find_in",
    "update_guarded": "guarded_update",
    "province_range_100": "province_range",
    "region_group_1000": "region_group",
}


def _rate(seconds: list[float], batch: int) -> float | None:
    return round(len(seconds) * batch / sum(seconds), 1) if seconds else None
