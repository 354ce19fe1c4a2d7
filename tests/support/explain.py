"""Which index serves each query the services run: asked of a MongoDB server with `explain`.

The embedded store's planner is checked by tests/support/plans.py; on a MongoDB server
the server plans, so this module records the real commands instead:

- `record_commands()` registers (once, globally) a PyMongo command listener, so every
  client created afterwards reports its commands; while the block runs they are kept as
  `Operation`s: the reads and the filters of writes (`find`, `aggregate` (which
  `count_documents` sends), `count`, `distinct`, `update` and `delete` statements,
  `findAndModify`), each with its `Shape` (command, collection without the reporting
  generation suffix, filter paths with their operators, sort) and an `explain` command
  (verbosity `executionStats`) that asks the same of the server without its session,
  transaction and write-concern fields.
- `explain_recorded()` runs, per shape, one recorded command through `explain`, and
  `judge()` says why a result is not served by an index: a `COLLSCAN` anywhere in the
  winning plan, no index stage at all, or more documents examined than
  `EXAMINED_PER_RETURNED` * returned + `EXAMINED_SLACK`.

Reads of a whole collection (an empty filter: the services load their reference copies
at start) are excepted, as plans.py excepts them. An aggregation is explained as a
`find` of its leading `$match` (with a `$sort`, `$skip` and `$limit` that follow it):
that is the part an index serves, and its `nReturned` counts the matching documents,
where the pipeline's own would count the groups.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import PyMongoError

from tests.support.plans import filter_shape

Document = dict[str, Any]

# A query examining more documents than this is not served by its index, whatever plan
# the server chose: 4 per document returned, plus a little for short lists.
EXAMINED_PER_RETURNED = 4
EXAMINED_SLACK = 10

# Stages that read an index (IXSCAN; the `_id` lookups IDHACK before MongoDB 8.0 and
# the EXPRESS stages from 8.0, which look up an equality on `_id` or on an index's
# first field; counts and distincts over an index).
INDEX_STAGES = frozenset(
    {
        "IXSCAN",
        "IDHACK",
        "COUNT_SCAN",
        "DISTINCT_SCAN",
        "EXPRESS_IXSCAN",
        "EXPRESS_CLUSTERED_IXSCAN",
        "EXPRESS_UPDATE",
        "EXPRESS_DELETE",
    }
)
# The plan of a query the server can answer without reading anything (`$in: []`).
NOTHING_READ = "EOF"
# Stages that write what their input stage found.
WRITE_STAGES = frozenset({"UPDATE", "DELETE", "BATCHED_DELETE", "EXPRESS_UPDATE", "EXPRESS_DELETE"})
# What a recorded command carries that belongs to its session, transaction or client
# rather than to the query; none of it is sent with the explain.
TRANSPORT_FIELDS = frozenset(
    {
        "lsid",
        "$db",
        "$clusterTime",
        "$readPreference",
        "txnNumber",
        "startTransaction",
        "autocommit",
        "readConcern",
        "writeConcern",
        "maxTimeMS",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
    }
)
VERBOSITY = "executionStats"
# The reporting service keeps its read models per generation (`facts_g1`, `facts_g2`).
_GENERATION = re.compile(r"^(?P<name>.+)_g(?P<number>\d+)$")
_SYSTEM_DATABASES = frozenset({"admin", "config", "local"})


def sort_shape(sort: Mapping[str, Any] | None) -> str:
    return ",".join(f"{path}:{direction}" for path, direction in (sort or {}).items())


def base_collection(name: str) -> str:
    """A collection's name without the reporting generation (`facts_g2` → `facts`)."""
    found = _GENERATION.match(name)
    return found["name"] if found else name


@dataclass(frozen=True, order=True)
class Shape:
    command: str
    collection: str
    filter: str
    sort: str

    @property
    def whole_collection(self) -> bool:
        return self.filter == "{}"

    def __str__(self) -> str:
        sort = f" sort {self.sort}" if self.sort else ""
        return f"{self.command} {self.collection} {self.filter}{sort}"


@dataclass(frozen=True)
class Operation:
    """One query as a service sent it, and the explain that asks the server about it."""

    database: str
    collection: str
    shape: Shape
    explain: Document

    @property
    def namespace(self) -> str:
        return f"{self.database}.{self.collection}"

    def on(self, collection: str) -> Operation:
        """The same operation on another collection (another generation of it)."""
        explain = copy.deepcopy(self.explain)
        inner: Document = explain["explain"]
        inner[next(iter(inner))] = collection
        return Operation(self.database, collection, self.shape, explain)


def _without_transport(command: Mapping[str, Any]) -> Document:
    return {
        key: copy.deepcopy(value) for key, value in command.items() if key not in TRANSPORT_FIELDS
    }


def _explain(inner: Document) -> Document:
    return {"explain": inner, "verbosity": VERBOSITY}


def _optional(source: Mapping[str, Any], *names: str) -> Document:
    return {name: copy.deepcopy(source[name]) for name in names if name in source}


def operations(command_name: str, command: Mapping[str, Any], database: str) -> list[Operation]:
    """The queries in one command sent to `database`: one per `update` or `delete`
    statement (explain takes one at a time), one for a read; none for commands
    without a filter (inserts, index builds, `getMore`, handshakes)."""
    if database in _SYSTEM_DATABASES or command_name not in command:
        return []
    collection = command[command_name]
    if not isinstance(collection, str):
        return []

    def operation(query: Any, sort: Any, inner: Document) -> Operation:
        shape = Shape(
            command_name,
            base_collection(collection),
            filter_shape(query if isinstance(query, Mapping) else None),
            sort_shape(sort if isinstance(sort, Mapping) else None),
        )
        return Operation(database, collection, shape, _explain(inner))

    if command_name in ("find", "findAndModify"):
        query = command.get("filter" if command_name == "find" else "query")
        return [operation(query, command.get("sort"), _without_transport(command))]
    if command_name in ("count", "distinct"):
        inner = {"find": collection, "filter": copy.deepcopy(command.get("query") or {})}
        inner.update(_optional(command, "limit", "skip", "hint", "collation"))
        return [operation(command.get("query"), None, inner)]
    if command_name == "aggregate":
        return [_aggregate(command, collection, operation)]
    if command_name in ("update", "delete"):
        field_name = "updates" if command_name == "update" else "deletes"
        found = []
        for statement in command.get(field_name) or []:
            inner = {command_name: collection, field_name: [copy.deepcopy(dict(statement))]}
            inner.update(_optional(command, "let", "bypassDocumentValidation"))
            found.append(operation(statement.get("q"), statement.get("sort"), inner))
        return found
    return []


def _aggregate(
    command: Mapping[str, Any],
    collection: str,
    operation: Callable[[Any, Any, Document], Operation],
) -> Operation:
    """An aggregation as the `find` of its leading `$match` and the `$sort`, `$skip`
    and `$limit` right after it; without a leading `$match` it reads everything."""
    pipeline: Sequence[Mapping[str, Any]] = command.get("pipeline") or []
    inner: Document = {"find": collection}
    query: Any = None
    sort: Any = None
    rest = list(pipeline)
    if rest and "$match" in rest[0]:
        query = rest.pop(0)["$match"]
        inner["filter"] = copy.deepcopy(query)
        for stage in rest:
            if "$sort" in stage and not inner.keys() & {"sort", "skip", "limit"}:
                sort = stage["$sort"]
                inner["sort"] = copy.deepcopy(sort)
            elif "$skip" in stage and not inner.keys() & {"skip", "limit"}:
                inner["skip"] = stage["$skip"]
            elif "$limit" in stage and "limit" not in inner:
                inner["limit"] = stage["$limit"]
            else:
                break
    inner.update(_optional(command, "hint", "collation", "let"))
    return operation(query, sort, inner)


@dataclass
class CommandRecorder:
    """The operations seen, per shape the last one on each namespace, latest last."""

    seen: dict[Shape, dict[str, Operation]] = field(default_factory=dict)
    # Commands the recorder could not read (PyMongo would only log a listener's error).
    errors: list[str] = field(default_factory=list)

    def note(self, command_name: str, command: Mapping[str, Any], database: str) -> None:
        for found in operations(command_name, command, database):
            by_namespace = self.seen.setdefault(found.shape, {})
            by_namespace.pop(found.namespace, None)
            by_namespace[found.namespace] = found

    def to_explain(self) -> list[tuple[Shape, list[Operation]]]:
        """Each shape with a filter and its operations, the latest first."""
        return [
            (shape, list(reversed(by_namespace.values())))
            for shape, by_namespace in sorted(self.seen.items())
            if not shape.whole_collection
        ]


class _Forwarder(monitoring.CommandListener):
    """The one listener registered with PyMongo: it hands started commands to the
    recorder of the `record_commands()` block running, if any."""

    def __init__(self) -> None:
        self.recorder: CommandRecorder | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        recorder = self.recorder
        if recorder is None or not event.command:
            return
        try:
            recorder.note(event.command_name, event.command, event.database_name)
        except Exception as error:
            recorder.errors.append(f"{event.command_name} on {event.database_name}: {error!r}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_forwarder: _Forwarder | None = None


@contextmanager
def record_commands() -> Iterator[CommandRecorder]:
    """Record the queries of every PyMongo client created from here on (PyMongo gives
    a client the listeners registered when it is created): enter before the services
    start. Registered once per process, the listener records nothing outside a block."""
    global _forwarder
    if _forwarder is None:
        _forwarder = _Forwarder()
        monitoring.register(_forwarder)
    recorder = CommandRecorder()
    _forwarder.recorder = recorder
    try:
        yield recorder
    finally:
        _forwarder.recorder = None


# --- judging an explain result ---------------------------------------------------------


def _winning_plans(document: Any) -> list[Mapping[str, Any]]:
    """Every `winningPlan` in an explain result (one; one per shard on a cluster; the
    `$cursor` stage's for an aggregation), not looking into rejected plans."""
    found: list[Mapping[str, Any]] = []
    if isinstance(document, Mapping):
        for key, value in document.items():
            if key == "winningPlan" and isinstance(value, Mapping):
                found.append(value)
            elif key not in ("rejectedPlans", "allPlansExecution"):
                found.extend(_winning_plans(value))
    elif isinstance(document, list):
        for item in document:
            found.extend(_winning_plans(item))
    return found


def plan_stages(plan: Any) -> list[str]:
    """The stage names of a plan tree, root first (`queryPlan` of a slot-based plan
    included, its internal `slotBasedPlan` not)."""
    stages: list[str] = []
    if isinstance(plan, Mapping):
        stage = plan.get("stage")
        if isinstance(stage, str):
            stages.append(stage)
        for key, value in plan.items():
            if key not in ("stage", "slotBasedPlan", "rejectedPlans"):
                stages.extend(plan_stages(value))
    elif isinstance(plan, list):
        for item in plan:
            stages.extend(plan_stages(item))
    return stages


def _execution_stats(document: Any) -> Mapping[str, Any] | None:
    if isinstance(document, Mapping):
        stats = document.get("executionStats")
        if isinstance(stats, Mapping):
            return stats
        values: Any = document.values()
    elif isinstance(document, list):
        values = document
    else:
        return None
    for value in values:
        found = _execution_stats(value)
        if found is not None:
            return found
    return None


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def documents_returned(stats: Mapping[str, Any]) -> int:
    """Documents the query found: `nReturned`, or for a write (which returns nothing)
    what its write stage matched and what the stage below it handed up."""
    returned = _count(stats.get("nReturned"))
    stage = stats.get("executionStages")
    while isinstance(stage, Mapping):
        if stage.get("stage") in WRITE_STAGES:
            below = stage.get("inputStage")
            found = [stage.get("nMatched"), stage.get("nWouldDelete")]
            if isinstance(below, Mapping):
                found.append(below.get("nReturned"))
            return max([returned, *(_count(value) for value in found)])
        stage = stage.get("inputStage")
    return returned


def judge(result: Mapping[str, Any]) -> str | None:
    """Why an explain result (verbosity executionStats) is not served by an index, or
    None when it is."""
    plans = _winning_plans(result)
    if not plans:
        return "the explain result has no winning plan"
    stages = [stage for plan in plans for stage in plan_stages(plan)]
    path = " > ".join(stages)
    if "COLLSCAN" in stages:
        return f"collection scan (winning plan {path})"
    if not INDEX_STAGES.intersection(stages) and NOTHING_READ not in stages:
        return f"no index in the winning plan ({path})"
    stats = _execution_stats(result)
    if stats is None or "totalDocsExamined" not in stats:
        return "the explain result has no executionStats (verbosity executionStats?)"
    examined = _count(stats["totalDocsExamined"])
    returned = documents_returned(stats)
    if examined > EXAMINED_PER_RETURNED * returned + EXAMINED_SLACK:
        return f"examined {examined} documents to return {returned} (winning plan {path})"
    return None


# --- asking the server -----------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    shape: Shape
    namespace: str
    reason: str | None

    def __str__(self) -> str:
        return f"{self.shape} on {self.namespace}: {self.reason or 'served by an index'}"


async def _collection_now(
    client: AsyncMongoClient[Document], operation: Operation, known: dict[str, set[str]]
) -> str | None:
    """The operation's collection if it still exists, else the newest generation of it
    (a rebuild drops the previous one), else None."""
    if operation.database not in known:
        listed = await client[operation.database].list_collection_names()
        known[operation.database] = set(listed)
    names = known[operation.database]
    if operation.collection in names:
        return operation.collection
    base = base_collection(operation.collection)
    generations = []
    for name in names:
        found = _GENERATION.match(name)
        if found and found["name"] == base:
            generations.append((int(found["number"]), name))
    return max(generations)[1] if generations else None


async def explain_recorded(
    client: AsyncMongoClient[Document], recorder: CommandRecorder
) -> list[Verdict]:
    """Explain one recorded operation of each shape (the latest whose collection is
    still there) and judge its plan."""
    verdicts = []
    known: dict[str, set[str]] = {}
    for shape, candidates in recorder.to_explain():
        chosen: Operation | None = None
        for candidate in candidates:
            collection = await _collection_now(client, candidate, known)
            if collection is not None:
                chosen = (
                    candidate if collection == candidate.collection else candidate.on(collection)
                )
                break
        if chosen is None:
            gone = ", ".join(candidate.namespace for candidate in candidates)
            verdicts.append(Verdict(shape, gone, "not explained: the collection is gone"))
            continue
        try:
            result = await client[chosen.database].command(copy.deepcopy(chosen.explain))
        except PyMongoError as error:
            verdicts.append(Verdict(shape, chosen.namespace, f"explain failed: {error}"))
            continue
        verdicts.append(Verdict(shape, chosen.namespace, judge(result)))
    return verdicts
