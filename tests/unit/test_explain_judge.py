"""The MongoDB explain check's pure parts: which plans count as served by an index,
which commands are recorded under which shape, and the explain sent for each.

The explain results are laid out as MongoDB's "Explain Results" reference shows them
(explainVersion, queryPlanner.winningPlan as a tree of stages, executionStats with its
totals and executionStages; `queryPlan` under the winning plan for the slot-based
engine; EXPRESS stages from 8.0)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import OperationFailure

from tests.support.explain import (
    CommandRecorder,
    Shape,
    explain_recorded,
    judge,
    operations,
    record_commands,
)
from tests.support.plans import filter_shape

Doc = dict[str, Any]
NS = "test_reporting_0123456789.facts_g1"
SESSION = {
    "lsid": {"id": "a-session"},
    "$clusterTime": {"clusterTime": 7, "signature": {"keyId": 0}},
    "$db": "test_reporting_0123456789",
    "maxTimeMS": 19_990,
}


def explained(winning_plan: Doc, execution: Doc | None, **totals: int) -> Doc:
    """An explain result as the server sends it (executionStats when `execution`)."""
    result: Doc = {
        "explainVersion": "1",
        "queryPlanner": {
            "namespace": NS,
            "indexFilterSet": False,
            "parsedQuery": {"unit_id": {"$eq": "vn63:20"}},
            "queryHash": "5C26AA14",
            "planCacheKey": "B0C1E3A8",
            "maxIndexedOrSolutionsReached": False,
            "maxIndexedAndSolutionsReached": False,
            "maxScansToExplodeReached": False,
            "winningPlan": winning_plan,
            "rejectedPlans": [],
        },
        "command": {"find": "facts_g1", "filter": {"unit_id": "vn63:20"}, "$db": NS[:25]},
        "serverInfo": {"host": "mongo", "port": 27017, "version": "7.0.14"},
        "ok": 1.0,
    }
    if execution is not None:
        result["executionStats"] = {
            "executionSuccess": True,
            "nReturned": totals["returned"],
            "executionTimeMillis": 0,
            "totalKeysExamined": totals.get("keys", 0),
            "totalDocsExamined": totals["docs"],
            "executionStages": execution,
        }
    return result


def ixscan(index: str = "unit_id_1_on_1", **stats: Any) -> Doc:
    keys = dict.fromkeys(index.removesuffix("_1").split("_1_"), 1)
    return {
        "stage": "IXSCAN",
        "keyPattern": keys,
        "indexName": index,
        "isMultiKey": False,
        "multiKeyPaths": {key: [] for key in keys},
        "isUnique": False,
        "isSparse": False,
        "isPartial": False,
        "indexVersion": 2,
        "direction": "forward",
        "indexBounds": {key: ["[MinKey, MaxKey]"] for key in keys},
        **stats,
    }


def fetch(below: Doc, **stats: Any) -> Doc:
    return {"stage": "FETCH", **stats, "inputStage": below}


def run_stats(returned: int, **stats: Any) -> Doc:
    return {
        "nReturned": returned,
        "executionTimeMillisEstimate": 0,
        "works": returned + 1,
        "advanced": returned,
        "needTime": 0,
        "needYield": 0,
        "saveState": 0,
        "restoreState": 0,
        "isEOF": 1,
        **stats,
    }


# --- judging -------------------------------------------------------------------------


def test_an_index_scan_with_a_fetch_is_served() -> None:
    result = explained(
        fetch(ixscan()),
        fetch(ixscan(**run_stats(3, keysExamined=3)), **run_stats(3, docsExamined=3)),
        returned=3,
        keys=3,
        docs=3,
    )
    assert judge(result) is None


def test_a_collection_scan_is_not_served() -> None:
    collscan = {"stage": "COLLSCAN", "filter": {"unit_id": {"$eq": "vn63:20"}}}
    result = explained(
        collscan,
        {**collscan, **run_stats(3, docsExamined=500), "direction": "forward"},
        returned=3,
        docs=500,
    )
    assert judge(result) == "collection scan (winning plan COLLSCAN)"


def test_an_index_scan_examining_10000_documents_to_return_3_is_not_served() -> None:
    filtered = {"on": {"$gte": "2023-01-01"}}
    result = explained(
        fetch(ixscan("status_1"), filter=filtered),
        fetch(
            ixscan("status_1", **run_stats(10_000, keysExamined=10_000)),
            filter=filtered,
            **run_stats(3, docsExamined=10_000),
        ),
        returned=3,
        keys=10_000,
        docs=10_000,
    )
    assert judge(result) == ("examined 10000 documents to return 3 (winning plan FETCH > IXSCAN)")


@pytest.mark.parametrize(("docs", "served"), [(22, True), (23, False)])
def test_examined_documents_may_be_up_to_four_per_returned_plus_ten(
    docs: int, served: bool
) -> None:
    result = explained(
        fetch(ixscan()),
        fetch(ixscan(**run_stats(docs, keysExamined=docs)), **run_stats(3, docsExamined=docs)),
        returned=3,
        keys=docs,
        docs=docs,
    )
    assert (judge(result) is None) is served


@pytest.mark.parametrize(
    ("winning_plan", "execution"),
    [
        # Before MongoDB 8.0: the `_id` fast path.
        ({"stage": "IDHACK"}, {"stage": "IDHACK", **run_stats(1, keysExamined=1, docsExamined=1)}),
        # From 8.0: the express path, which bypasses planning.
        (
            {
                "isCached": False,
                "stage": "EXPRESS_IXSCAN",
                "keyPattern": "{ _id: 1 }",
                "indexName": "_id_",
            },
            {"stage": "EXPRESS_IXSCAN", **run_stats(1, keysExamined=1, docsExamined=1)},
        ),
    ],
)
def test_an_id_lookup_is_served(winning_plan: Doc, execution: Doc) -> None:
    assert judge(explained(winning_plan, execution, returned=1, keys=1, docs=1)) is None


def test_an_express_update_by_id_is_served() -> None:
    plan = {"isCached": False, "stage": "EXPRESS_UPDATE", "keyPattern": "{ _id: 1 }"}
    execution = {
        "stage": "EXPRESS_UPDATE",
        "nReturned": 0,
        "keysExamined": 1,
        "docsExamined": 1,
        "nMatched": 1,
        "nWouldModify": 1,
        "nWouldUpsert": 0,
    }
    assert judge(explained(plan, execution, returned=0, keys=1, docs=1)) is None


def update_over(below: Doc, below_run: Doc, matched: int) -> tuple[Doc, Doc]:
    plan = {"stage": "UPDATE", "inputStage": below}
    execution = {
        "stage": "UPDATE",
        **run_stats(0),
        "nMatched": matched,
        "nWouldModify": matched,
        "nWouldUpsert": 0,
        "inputStage": below_run,
    }
    return plan, execution


def test_a_multi_update_is_judged_by_the_documents_it_matched() -> None:
    # An update returns nothing: its 40 matches, not nReturned 0, are what it found.
    plan, execution = update_over(
        fetch(ixscan("published_1")),
        fetch(ixscan("published_1", **run_stats(40)), **run_stats(40, docsExamined=40)),
        matched=40,
    )
    assert judge(explained(plan, execution, returned=0, keys=40, docs=40)) is None


def test_an_update_over_a_collection_scan_is_not_served() -> None:
    plan, execution = update_over(
        {"stage": "COLLSCAN", "direction": "forward"},
        {"stage": "COLLSCAN", **run_stats(1, docsExamined=300)},
        matched=1,
    )
    reason = judge(explained(plan, execution, returned=0, docs=300))
    assert reason == "collection scan (winning plan UPDATE > COLLSCAN)"


def test_a_slot_based_plan_is_read_from_its_query_plan() -> None:
    def sbe(leaf: Doc) -> Doc:
        return {
            "queryPlan": {"stage": "GROUP", "planNodeId": 3, "inputStage": leaf},
            "slotBasedPlan": {"slots": "$$RESULT=s9", "stages": "[3] group [s7] ..."},
        }

    # Slot-based execution stages use their own names; the totals are what counts.
    sbe_stages = {"stage": "group", "planNodeId": 3, "nReturned": 2, "opens": 1}
    indexed = explained(sbe(fetch(ixscan(), planNodeId=2)), sbe_stages, returned=2, keys=6, docs=6)
    assert judge(indexed) is None
    scanned = explained(
        sbe({"stage": "COLLSCAN", "planNodeId": 1}), sbe_stages, returned=2, docs=900
    )
    assert judge(scanned) == "collection scan (winning plan GROUP > COLLSCAN)"


def test_an_or_of_indexed_branches_is_served_and_an_unindexed_aggregation_is_not() -> None:
    branches = {"stage": "OR", "inputStages": [ixscan("left_on_1"), ixscan("joined_on_1")]}
    result = explained(fetch(branches), {"stage": "FETCH", **run_stats(4)}, returned=4, docs=4)
    assert judge(result) is None
    # An aggregation that cannot be turned into a query keeps its plan in `$cursor`.
    cursor = explained(
        {"stage": "PROJECTION_SIMPLE", "inputStage": {"stage": "COLLSCAN"}},
        {"stage": "COLLSCAN", **run_stats(4, docsExamined=4)},
        returned=4,
        docs=4,
    )
    aggregation = {"explainVersion": "1", "stages": [{"$cursor": cursor}, {"$group": {}}]}
    assert judge(aggregation) == ("collection scan (winning plan PROJECTION_SIMPLE > COLLSCAN)")


def test_a_query_that_reads_nothing_is_served() -> None:
    result = explained({"stage": "EOF"}, {"stage": "EOF", **run_stats(0)}, returned=0, docs=0)
    assert judge(result) is None


def test_incomplete_explain_results_are_reported() -> None:
    assert judge({"ok": 1.0}) == "the explain result has no winning plan"
    planner_only = explained(fetch(ixscan()), None)
    assert judge(planner_only) == (
        "the explain result has no executionStats (verbosity executionStats?)"
    )
    no_index = explained({"stage": "SORT", "inputStage": {"stage": "QUEUED_DATA"}}, None)
    assert judge(no_index) == "no index in the winning plan (SORT > QUEUED_DATA)"


# --- shapes ---------------------------------------------------------------------------


def test_filter_shapes_keep_paths_and_operators_and_drop_values() -> None:
    query = {
        "lineage": {"$in": ["vn63:20", "vn63:186"]},
        "on": {"$gte": "2023-01-01", "$lte": "2023-12-31"},
        "$or": [{"left_on": None}, {"left_on": {"$gt": "2023-12-31"}}],
        "status": "active",
        "v34": {"u": "vn34:20"},
    }
    assert filter_shape(query) == (
        "{$or[{left_on:=}|{left_on:$gt}],lineage:$in,on:$gte+$lte,status:=,v34:=}"
    )
    other_values = {**query, "lineage": {"$in": ["vn"]}, "status": "voided"}
    assert filter_shape(other_values) == filter_shape(query)
    assert filter_shape({}) == filter_shape(None) == "{}"


# --- commands to explains ---------------------------------------------------------------


def test_each_update_statement_becomes_an_explain_of_that_update() -> None:
    first = {"q": {"_id": "e1", "published": False}, "u": {"$set": {"published": True}}}
    second = {"q": {"_id": "e2", "published": False}, "u": {"$set": {"published": True}}}
    command = {
        "update": "outbox",
        "ordered": True,
        **SESSION,
        "txnNumber": 4,
        "writeConcern": {"w": "majority"},
        "updates": [first, second],
    }
    found = operations("update", command, "test_events_0123456789")
    assert [op.explain for op in found] == [
        {"explain": {"update": "outbox", "updates": [first]}, "verbosity": "executionStats"},
        {"explain": {"update": "outbox", "updates": [second]}, "verbosity": "executionStats"},
    ]
    assert {op.shape for op in found} == {Shape("update", "outbox", "{_id:=,published:=}", "")}
    assert found[0].namespace == "test_events_0123456789.outbox"


def test_a_find_is_explained_as_sent_less_its_session_fields() -> None:
    command = {
        "find": "facts_g2",
        "filter": {"_id": {"$in": ["a", "b"]}},
        "sort": {"on": -1},
        "projection": {"unit_id": 1},
        "limit": 5,
        **SESSION,
        "$readPreference": {"mode": "primary"},
        "readConcern": {"level": "majority"},
    }
    (found,) = operations("find", command, "test_reporting_0123456789")
    assert found.explain == {
        "explain": {
            "find": "facts_g2",
            "filter": {"_id": {"$in": ["a", "b"]}},
            "sort": {"on": -1},
            "projection": {"unit_id": 1},
            "limit": 5,
        },
        "verbosity": "executionStats",
    }
    # Generations of one read model are one shape.
    assert found.shape == Shape("find", "facts", "{_id:$in}", "on:-1")
    assert str(found.shape) == "find facts {_id:$in} sort on:-1"


def test_an_aggregation_is_explained_as_the_find_of_its_leading_match() -> None:
    # count_documents sends $match, $skip, $limit and a $group.
    command = {
        "aggregate": "members_g1",
        "pipeline": [
            {"$match": {"club_id": {"$in": ["K1"]}, "joined_on": {"$lte": "2023-12-31"}}},
            {"$skip": 2},
            {"$limit": 10},
            {"$group": {"_id": 1, "n": {"$sum": 1}}},
        ],
        "cursor": {},
        **SESSION,
    }
    (found,) = operations("aggregate", command, "test_reporting_0123456789")
    assert found.explain["explain"] == {
        "find": "members_g1",
        "filter": {"club_id": {"$in": ["K1"]}, "joined_on": {"$lte": "2023-12-31"}},
        "skip": 2,
        "limit": 10,
    }
    assert found.shape == Shape("aggregate", "members", "{club_id:$in,joined_on:$lte}", "")
    # A $sort after a $skip changes what is sorted: it stays out of the find.
    later = {**command, "pipeline": [{"$match": {"a": 1}}, {"$skip": 1}, {"$sort": {"b": 1}}]}
    (found,) = operations("aggregate", later, "db")
    assert found.explain["explain"] == {"find": "members_g1", "filter": {"a": 1}, "skip": 1}
    grouped = {**command, "pipeline": [{"$group": {"_id": "$unit_id"}}]}
    (found,) = operations("aggregate", grouped, "db")
    assert found.shape.whole_collection


def test_deletes_and_find_and_modify_are_explained_with_their_filter_and_sort() -> None:
    delete = {"delete": "rollup_todo", "deletes": [{"q": {"_id": {"$in": ["t1"]}}, "limit": 0}]}
    (deleted,) = operations("delete", {**delete, **SESSION}, "db")
    assert deleted.explain["explain"] == delete
    assert deleted.shape == Shape("delete", "rollup_todo", "{_id:$in}", "")
    claim = {
        "findAndModify": "leases",
        "query": {"_id": "relay", "until": {"$lt": 5}},
        "update": {"$set": {"owner": "me"}},
        "sort": {"until": 1},
        "new": True,
    }
    (claimed,) = operations("findAndModify", {**claim, **SESSION, "txnNumber": 9}, "db")
    assert claimed.explain["explain"] == claim
    assert claimed.shape == Shape("findAndModify", "leases", "{_id:=,until:$lt}", "until:1")


@pytest.mark.parametrize(
    ("name", "command", "database"),
    [
        ("insert", {"insert": "facts_g1", "documents": [{"_id": 1}]}, "db"),
        ("getMore", {"getMore": 12, "collection": "facts_g1"}, "db"),
        ("createIndexes", {"createIndexes": "facts_g1", "indexes": []}, "db"),
        ("hello", {"hello": 1}, "admin"),
        ("find", {"find": "system.version", "filter": {"_id": 1}}, "admin"),
    ],
)
def test_commands_without_a_query_of_a_service_are_not_recorded(
    name: str, command: Doc, database: str
) -> None:
    assert operations(name, command, database) == []


def test_the_recorder_keeps_the_latest_of_each_shape_and_skips_whole_collection_reads() -> None:
    recorder = CommandRecorder()
    for generation, unit in (("g1", "a"), ("g2", "b"), ("g1", "c")):
        command = {"find": f"facts_{generation}", "filter": {"unit_id": unit}}
        recorder.note("find", command, "db")
    recorder.note("find", {"find": "units", "filter": {}}, "db")
    ((shape, latest_first),) = recorder.to_explain()
    assert shape == Shape("find", "facts", "{unit_id:=}", "")
    assert [(op.collection, op.explain["explain"]["filter"]) for op in latest_first] == [
        ("facts_g1", {"unit_id": "c"}),
        ("facts_g2", {"unit_id": "b"}),
    ]
    assert latest_first[0].on("facts_g3").explain["explain"]["find"] == "facts_g3"
    assert latest_first[0].explain["explain"]["find"] == "facts_g1"


async def test_clients_made_while_recording_report_their_commands_and_only_then() -> None:
    def started(client: AsyncMongoClient[Doc], command: Doc) -> None:
        event = monitoring.CommandStartedEvent(command, "db", 1, ("127.0.0.1", 27017), 1)
        for listener in client.options.event_listeners:
            if isinstance(listener, monitoring.CommandListener):
                listener.started(event)

    def find(unit: str) -> Doc:
        return {"find": "facts_g1", "filter": {"unit_id": unit}, "$db": "db"}

    with record_commands() as recorder:
        client: AsyncMongoClient[Doc] = AsyncMongoClient("mongodb://127.0.0.1:1", connect=False)
        started(client, find("during"))
        # A command the recorder cannot read is kept as an error, not lost in a log.
        started(client, {"update": "facts_g1", "updates": [5], "$db": "db"})
    started(client, find("after"))
    with record_commands() as next_recorder:
        pass
    await client.close()
    ((_, (operation,)),) = recorder.to_explain()
    assert operation.explain["explain"]["filter"] == {"unit_id": "during"}
    assert len(recorder.errors) == 1
    assert recorder.errors[0].startswith("update on db: TypeError(")
    assert next_recorder.to_explain() == []


# --- asking a server (a stand-in for one) ------------------------------------------------


class Server:
    """Answers `listCollections` and `explain` as a database of a server would."""

    def __init__(self, collections: set[str], results: dict[str, Doc | Exception]) -> None:
        self.collections = collections
        self.results = results
        self.sent: list[Doc] = []

    def __getitem__(self, database: str) -> Server:
        return self

    async def list_collection_names(self) -> list[str]:
        return sorted(self.collections)

    async def command(self, command: Doc) -> Doc:
        self.sent.append(command)
        result = self.results[command["explain"]["find"]]
        if isinstance(result, Exception):
            raise result
        return result


async def test_each_shape_is_explained_on_a_collection_that_is_still_there() -> None:
    served = explained(fetch(ixscan()), {"stage": "FETCH", **run_stats(1)}, returned=1, docs=1)
    scanned = explained({"stage": "COLLSCAN"}, {"stage": "COLLSCAN"}, returned=1, docs=80)
    recorder = CommandRecorder()
    # facts_g1 was dropped by a rebuild: the newest generation stands in for it.
    recorder.note("find", {"find": "facts_g1", "filter": {"unit_id": "a"}}, "db")
    recorder.note("find", {"find": "clubs_g1", "filter": {"kind": "school"}}, "db")
    recorder.note("find", {"find": "gone", "filter": {"x": 1}}, "db")
    recorder.note("find", {"find": "units", "filter": {"parent": "vn"}}, "db")
    server = Server(
        {"facts_g2", "facts_g3", "clubs_g1", "units"},
        {"facts_g3": served, "clubs_g1": scanned, "units": OperationFailure("bad hint")},
    )
    verdicts = await explain_recorded(server, recorder)  # type: ignore[arg-type]
    assert [str(verdict) for verdict in verdicts] == [
        "find clubs {kind:=} on db.clubs_g1: collection scan (winning plan COLLSCAN)",
        "find facts {unit_id:=} on db.facts_g3: served by an index",
        "find gone {x:=} on db.gone: not explained: the collection is gone",
        "find units {parent:=} on db.units: explain failed: bad hint",
    ]
    assert server.sent[1] == {
        "explain": {"find": "facts_g3", "filter": {"unit_id": "a"}},
        "verbosity": "executionStats",
    }
