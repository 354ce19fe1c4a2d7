"""The collection operations, run synchronously on one SQLite connection.

Reads run the plan of query.py (an index walk when the filter names `_id` or an
indexed path) and check each candidate with mongomock's matcher unless the plan was
exact; a find projecting some top-level fields has SQLite read only those. Updates of
top-level fields on a document named by `_id` are tried as patches first (patches.py:
SQLite changes the stored text), the others decode, apply and encode the document.
Writes run inside the caller's transaction (engine.py), so
each call is atomic; results and errors have PyMongo's types and shapes (`UpdateResult`,
`BulkWriteError` with `writeErrors[i]["op"]`, `DuplicateKeyError` code 11000, …).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from bson import ObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from shared.embedded import codec, patches
from shared.embedded.engine import (
    IndexSpec,
    SqliteFile,
    entries,
    key_named,
    rows_of_keys,
    table_of,
)
from shared.embedded.query import JSON_ARROW, Plan, plain_field, plan, project
from shared.embedded.semantics import matches, run_pipeline, sort_key
from shared.embedded.updates import apply_update, replacement, upserted, working_copy

Document = dict[str, Any]
Sort = Sequence[tuple[str, int]]
DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Find:
    query: Mapping[str, Any] | None = None
    projection: Mapping[str, Any] | None = None
    sort: Sort = ()
    skip: int = 0
    limit: int = 0


def _python_sort(documents: list[Document], sort: Sort) -> list[Document]:
    for path, direction in reversed(sort):
        documents.sort(key=partial(_key_at, path), reverse=direction < 0)
    return documents


def _key_at(path: str, document: Document) -> Any:
    return sort_key(path, document)


class Row(NamedTuple):
    key: Any
    document: Document


def select(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    find: Find,
    fields: Sequence[str] | None = None,
) -> list[Row]:
    """`(key, document)` pairs matching `find`, sorted, skipped and limited, unprojected
    (`fields`: only those top-level fields of each document, read by SQLite).

    Rows are read lazily: when they come in the requested order, the walk stops as soon
    as the limit is reached, so its cost follows the answer, not the collection."""
    info = store.info(collection)
    if not info.exists:
        return []
    chosen = plan(collection, info, find.query, find.sort)
    wanted = find.skip + find.limit if find.limit and chosen.ordered else None
    seen: set[Any] = set()
    found: list[Row] = []
    for key, *texts in connection.execute(chosen.selecting(fields), chosen.params):
        if chosen.may_repeat:
            if key in seen:
                continue
            seen.add(key)
        if fields is None:
            document = codec.loads(texts[0])
        else:
            document = {
                name: codec.loads_value(text)
                for name, text in zip(fields, texts, strict=True)
                if text is not None
            }
        if chosen.residual is not None and not matches(chosen.residual, document):
            continue
        found.append(Row(key, document))
        if wanted is not None and len(found) >= wanted:
            break
    if find.sort and not chosen.ordered:
        by_document = {id(row.document): row for row in found}
        ordered = _python_sort([row.document for row in found], find.sort)
        found = [by_document[id(document)] for document in ordered]
    end = find.skip + find.limit if find.limit else None
    return found[find.skip : end]


def _fields_read(spec: Find) -> list[str] | None:
    """The top-level fields a find needs, when its projection names only some and
    SQLite can read them alone: those it includes, and those its filter (what the index
    leaves to check) and its sort are on. None to read whole documents."""
    projection = spec.projection
    if not JSON_ARROW or not projection or not all(projection.values()):
        return None
    if not all(plain_field(path) for path in projection):
        return None
    paths = [*projection, *(path for path, _ in spec.sort)]
    for path in spec.query or {}:
        paths.append(path)
    roots = {"_id": None} | {str(path).split(".", 1)[0]: None for path in paths}
    return list(roots) if all(plain_field(root) for root in roots) else None


def find(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, spec: Find
) -> list[Document]:
    fields = _fields_read(spec)
    if fields is not None:
        try:
            rows = select(store, connection, collection, spec, fields)
        except sqlite3.OperationalError as exc:
            if "malformed JSON" not in str(exc):
                raise
        else:
            return [project(row.document, spec.projection) for row in rows]
    return [
        project(row.document, spec.projection)
        for row in select(store, connection, collection, spec)
    ]


def count(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, query: Mapping[str, Any]
) -> int:
    info = store.info(collection)
    if not info.exists:
        return 0
    chosen = plan(collection, info, query, ())
    if chosen.exact:
        return int(connection.execute(chosen.count, chosen.params).fetchone()[0])
    return len(select(store, connection, collection, Find(query)))


def explain(store: SqliteFile, connection: sqlite3.Connection, collection: str, find: Find) -> Plan:
    """The plan `find` would run: which index serves it, and whether it is exact."""
    return plan(collection, store.info(collection), find.query, find.sort)


def aggregate(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    pipeline: Sequence[Mapping[str, Any]],
) -> list[Document]:
    """A leading `$match` selects through the indexes; mongomock runs the stages."""
    stages = list(pipeline)
    query: Mapping[str, Any] = {}
    if stages and set(stages[0]) == {"$match"}:
        query = stages.pop(0)["$match"]
    documents = [row.document for row in select(store, connection, collection, Find(query))]
    if any(set(stage) & {"$lookup", "$graphLookup", "$out", "$merge"} for stage in stages):
        raise OperationFailure("the embedded store runs pipelines within one collection only")
    return run_pipeline(documents, stages)


# --- writes ---------------------------------------------------------------------------


def _duplicate(
    store: SqliteFile, collection: str, exc: sqlite3.IntegrityError, document: Document
) -> DuplicateKeyError:
    index = store.index_name_of(collection, str(exc))
    paths = next(
        (spec.paths for spec in store.info(collection).indexes if spec.name == index), ("_id",)
    )
    key_value = {path: _lookup(document, path) for path in paths}
    message = (
        f"E11000 duplicate key error collection: {store.path.stem}.{collection} "
        f"index: {index} dup key: {key_value}"
    )
    return DuplicateKeyError(
        message, DUPLICATE_KEY, {"code": DUPLICATE_KEY, "errmsg": message, "keyValue": key_value}
    )


def _lookup(document: Document, path: str) -> Any:
    current: Any = document
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _add_entries(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, document: Document
) -> None:
    key = codec.key_of(document["_id"])
    for spec in store.info(collection).indexes:
        store.add_entries(connection, collection, spec, [entries(spec, document, key)])


def insert(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, document: Document
) -> None:
    store.ensure_table(connection, collection)
    if "_id" not in document:
        document["_id"] = ObjectId()
    connection.execute("SAVEPOINT insert_one")
    try:
        connection.execute(
            f"INSERT INTO {table_of(collection)} (id, doc) VALUES (?, ?)",
            (codec.key_of(document["_id"]), codec.dumps(document)),
        )
        _add_entries(store, connection, collection, document)
    except sqlite3.IntegrityError as exc:
        connection.execute("ROLLBACK TO insert_one")
        connection.execute("RELEASE insert_one")
        raise _duplicate(store, collection, exc, document) from exc
    except BaseException:
        connection.execute("ROLLBACK TO insert_one")
        connection.execute("RELEASE insert_one")
        raise
    connection.execute("RELEASE insert_one")


def _store(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    key: Any,
    old: Document,
    new: Document,
) -> None:
    """Replace a stored document and move its index entries to the new values.

    Only a unique index can refuse the change (a duplicate key, which a bulk write
    reports and goes on after): the change runs inside a savepoint when one of those
    moves. Any other failure undoes the whole write (`SqliteFile.write`)."""
    changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    moves = []
    for spec in store.info(collection).indexes:
        if spec.roots.isdisjoint(changed):
            continue  # none of its fields changed: its entries stay as they are
        before, after = entries(spec, old, key), entries(spec, new, key)
        if before != after:
            moves.append((spec, before, after))
    text = codec.dumps(new)
    if not any(spec.unique for spec, _, _ in moves):
        _move(store, connection, collection, key, text, moves)
        return
    connection.execute("SAVEPOINT store_one")
    try:
        _move(store, connection, collection, key, text, moves)
    except sqlite3.IntegrityError as exc:
        connection.execute("ROLLBACK TO store_one")
        connection.execute("RELEASE store_one")
        raise _duplicate(store, collection, exc, new) from exc
    except BaseException:
        connection.execute("ROLLBACK TO store_one")
        connection.execute("RELEASE store_one")
        raise
    connection.execute("RELEASE store_one")


def _move(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    key: Any,
    text: str,
    moves: list[tuple[IndexSpec, set[tuple[Any, ...]], set[tuple[Any, ...]]]],
) -> None:
    connection.execute(f"UPDATE {table_of(collection)} SET doc = ? WHERE id = ?", (text, key))
    for spec, before, after in moves:
        store.remove_entries(connection, collection, spec, before - after)
        store.add_entries(connection, collection, spec, [after - before], complete=[after])


@dataclass
class Outcome:
    matched: int = 0
    modified: int = 0
    upserted_id: Any = None
    upserted: bool = False
    deleted: int = 0
    errors: list[Document] = field(default_factory=list)

    def raw(self) -> Document:
        raw: Document = {"n": self.matched + int(self.upserted), "nModified": self.modified}
        if self.upserted:
            raw["upserted"] = self.upserted_id
        return raw


def update(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    query: Mapping[str, Any],
    change: Mapping[str, Any],
    *,
    many: bool,
    upsert: bool,
    replace: bool,
    targets: list[Row] | None = None,
) -> Outcome:
    """`targets`: the documents `query` selects, when the caller has read them."""
    store.ensure_table(connection, collection)
    outcome = Outcome()
    patch = None if targets is not None or many or replace else patches.patch_of(query, change)
    if patch is not None:
        [applied] = patches.apply(store, connection, collection, [patch])
        if applied is not None and (applied.matched or not upsert):
            return Outcome(int(applied.matched), int(applied.modified))
    if targets is None:
        targets = select(store, connection, collection, Find(query, limit=0 if many else 1))
    for key, document in targets:
        if replace:
            new = replacement(document, change)
        else:
            # The unchanged `document` is what its index entries were.
            new = apply_update(
                working_copy(document, change), change, inserting=False, in_place=True
            )
        outcome.matched += 1
        if new != document:
            _store(store, connection, collection, key, document, new)
            outcome.modified += 1
    if not targets and upsert:
        new = upserted(query, change)
        insert(store, connection, collection, new)
        outcome.upserted, outcome.upserted_id = True, new["_id"]
    return outcome


def delete(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    query: Mapping[str, Any],
    *,
    many: bool,
    targets: list[Row] | None = None,
) -> int:
    """`targets`: the documents `query` selects, when the caller has read them."""
    if targets is None:
        targets = select(store, connection, collection, Find(query, limit=0 if many else 1))
    table = table_of(collection)
    connection.executemany(f"DELETE FROM {table} WHERE id = ?", [(row.key,) for row in targets])
    for spec in store.info(collection).indexes:
        rows = [entry for row in targets for entry in entries(spec, row.document, row.key)]
        store.remove_entries(connection, collection, spec, rows)
    return len(targets)


def insert_many(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    documents: Sequence[Document],
    *,
    ordered: bool,
) -> tuple[list[Any], BulkWriteError | None]:
    """Insert all it can (up to the first failure when `ordered`), as MongoDB does; the
    caller commits those and then raises the returned `BulkWriteError`, if any."""
    for document in documents:
        if "_id" not in document:
            document["_id"] = ObjectId()
    if _inserted_together(store, connection, collection, documents):
        return [d["_id"] for d in documents], None
    # Someone is there already: insert one by one to tell which.
    inserted: list[Any] = []
    errors: list[Document] = []
    for index, document in enumerate(documents):
        try:
            insert(store, connection, collection, document)
        except DuplicateKeyError as error:
            errors.append(_write_error(index, error, document))
            if ordered:
                break
        else:
            inserted.append(document["_id"])
    if errors:
        return inserted, BulkWriteError(_bulk_result(nInserted=len(inserted), writeErrors=errors))
    return inserted, None


def _inserted_together(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    documents: Sequence[Document],
) -> bool:
    """Insert documents (each with its `_id`) in one statement per table; False, with
    nothing inserted, when a unique index refuses any of them."""
    info = store.ensure_table(connection, collection)
    connection.execute("SAVEPOINT insert_together")
    try:
        keys = [codec.key_of(d["_id"]) for d in documents]
        connection.executemany(
            f"INSERT INTO {table_of(collection)} (id, doc) VALUES (?, ?)",
            [(key, codec.dumps(d)) for key, d in zip(keys, documents, strict=True)],
        )
        for spec in info.indexes:
            store.add_entries(
                connection,
                collection,
                spec,
                [entries(spec, d, key) for key, d in zip(keys, documents, strict=True)],
            )
    except sqlite3.IntegrityError:
        connection.execute("ROLLBACK TO insert_together")
        connection.execute("RELEASE insert_together")
        return False
    except BaseException:
        connection.execute("ROLLBACK TO insert_together")
        connection.execute("RELEASE insert_together")
        raise
    connection.execute("RELEASE insert_together")
    return True


def _write_error(index: int, error: DuplicateKeyError, op: Document) -> Document:
    return {
        "index": index,
        "code": error.code,
        "errmsg": str(error),
        "keyValue": (error.details or {}).get("keyValue"),
        "op": op,
    }


def _bulk_result(**counts: Any) -> Document:
    result: Document = {
        "writeErrors": [],
        "writeConcernErrors": [],
        "nInserted": 0,
        "nUpserted": 0,
        "nMatched": 0,
        "nModified": 0,
        "nRemoved": 0,
        "upserted": [],
    }
    result.update(counts)
    return result


@dataclass
class BulkOp:
    kind: str
    query: Mapping[str, Any] = field(default_factory=dict)
    document: Mapping[str, Any] = field(default_factory=dict)
    many: bool = False
    upsert: bool = False


class BulkCollector:
    """Receives PyMongo's write models through their `_add_to_bulk` visitor."""

    def __init__(self) -> None:
        self.ops: list[BulkOp] = []

    def add_insert(self, document: Document) -> None:
        self.ops.append(BulkOp("insert", document=document))

    def add_update(
        self, selector: Mapping[str, Any], update: Any, multi: bool, upsert: Any = False, **_: Any
    ) -> None:
        if not isinstance(update, Mapping):
            raise OperationFailure("the embedded store does not run update pipelines")
        self.ops.append(BulkOp("update", selector, update, bool(multi), bool(upsert)))

    def add_replace(
        self,
        selector: Mapping[str, Any],
        replacement: Mapping[str, Any],
        upsert: Any = False,
        **_: Any,
    ) -> None:
        self.ops.append(BulkOp("replace", selector, replacement, False, bool(upsert)))

    def add_delete(self, selector: Mapping[str, Any], limit: int, **_: Any) -> None:
        self.ops.append(BulkOp("delete", selector, many=limit == 0))


def bulk_write(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    ops: Iterable[BulkOp],
    *,
    ordered: bool,
) -> tuple[Document, BulkWriteError | None]:
    """Apply `ops` in order; write errors are returned, to be raised after the commit."""
    ops = list(ops)
    counts = _bulk_result()
    applied = _patched(store, connection, collection, ops)
    left = [op for op, done in zip(ops, applied, strict=True) if done is None]
    read = _read_targets(store, connection, collection, left)
    # Upserts of an `_id` no document has, in a bulk that goes on past errors with each
    # op on its own `_id`, on a collection without other unique indexes: inserted
    # together at the end, since no op can meet another's document and nothing can
    # refuse them.
    defer = not ordered and not any(spec.unique for spec in store.info(collection).indexes)
    creating: list[tuple[int, Document]] = []
    for index, op in enumerate(ops):
        try:
            done = applied[index]
            if done is not None:
                counts["nMatched"] += int(done.matched)
                counts["nModified"] += int(done.modified)
            elif op.kind == "insert":
                document = op.document if isinstance(op.document, dict) else dict(op.document)
                insert(store, connection, collection, document)
                counts["nInserted"] += 1
            elif op.kind == "delete":
                counts["nRemoved"] += delete(
                    store,
                    connection,
                    collection,
                    op.query,
                    many=op.many,
                    targets=None if read is None else read.targets(op),
                )
            else:
                if read is not None and op.upsert and defer and read.absent(op):
                    creating.append((index, upserted(op.query, op.document)))
                    continue
                outcome = update(
                    store,
                    connection,
                    collection,
                    op.query,
                    op.document,
                    many=op.many,
                    upsert=op.upsert,
                    replace=op.kind == "replace",
                    targets=None if read is None else read.targets(op),
                )
                counts["nMatched"] += outcome.matched
                counts["nModified"] += outcome.modified
                if outcome.upserted:
                    counts["nUpserted"] += 1
                    counts["upserted"].append({"index": index, "_id": outcome.upserted_id})
        except DuplicateKeyError as exc:
            counts["writeErrors"].append(_write_error(index, exc, dict(op.document)))
            if ordered:
                break
    _create(store, connection, collection, creating, counts)
    return counts, BulkWriteError(counts) if counts["writeErrors"] else None


def _create(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    creating: list[tuple[int, Document]],
    counts: Document,
) -> None:
    """Insert the documents an unordered bulk's upserts create, together."""
    if not creating:
        return
    documents = [document for _, document in creating]
    if not _inserted_together(store, connection, collection, documents):
        raise RuntimeError("an upsert of a document read as absent was refused")
    for index, document in creating:
        counts["nUpserted"] += 1
        counts["upserted"].append({"index": index, "_id": document["_id"]})
    counts["upserted"].sort(key=lambda entry: entry["index"])


def _patched(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, ops: list[BulkOp]
) -> list[patches.Applied | None]:
    """For a bulk of updates each aimed at its own `_id` (the outbox relay marking what
    it published), what applying them as patches did; None for each op left to the
    general path (all of them for any other bulk)."""
    found = [
        patches.patch_of(op.query, op.document)
        if op.kind == "update" and not op.many and not op.upsert
        else None
        for op in ops
    ]
    keys = [patch.key for patch in found if patch is not None]
    if len(keys) < len(ops) or len(set(keys)) != len(keys):
        return [None] * len(ops)
    return patches.apply(store, connection, collection, [p for p in found if p is not None])


@dataclass(frozen=True)
class _Read:
    """The documents a bulk's ops name by `_id`, read in one pass."""

    rows: dict[Any, Row]
    keys: dict[int, Any]  # id(op) → the key it names

    def targets(self, op: BulkOp) -> list[Row]:
        """What `op`'s filter selects."""
        row = self.rows.get(self.keys[id(op)])
        return [row] if row is not None and matches(op.query, row.document) else []

    def absent(self, op: BulkOp) -> bool:
        """No document has the `_id` `op` names."""
        return self.keys[id(op)] not in self.rows


def _read_targets(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, ops: list[BulkOp]
) -> _Read | None:
    """For a bulk of updates, replacements (upserts too) and deletes each aimed at its
    own `_id` (the revisions of a batch, the updates no patch could decide, reporting's
    cells), every targeted document read in one pass instead of one query per op;
    `None` for any other bulk. No op can change, create or remove another's document,
    so reading them first selects what reading each in turn would; an upsert finding
    nothing inserts (or meets the stored `_id`), as it would have.
    """
    keys: list[Any] = []
    for op in ops:
        key = key_named(op.query)
        if op.kind not in ("update", "replace", "delete") or op.many or key is None:
            return None
        keys.append(key)
    if not store.info(collection).exists or len(set(keys)) != len(keys):
        return None
    rows = {
        key: Row(key, codec.loads(text))
        for key, text in rows_of_keys(connection, collection, "doc", keys)
    }
    return _Read(rows, dict(zip(map(id, ops), keys, strict=True)))


def create_index(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, spec: IndexSpec
) -> None:
    store.create_index(connection, collection, spec)
