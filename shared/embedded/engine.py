"""One SQLite file holding a database's collections, their indexes and the catalogue.

Each collection is a table `(id, doc)` with a unique index on `id`: `id` the `_id`
(strings and numbers as themselves, so they sort as in MongoDB), `doc` the document as
JSON (codec.py). (Files of the first layout, whose collection tables were WITHOUT ROWID
tables keyed by `id`, are moved to this one when opened.) Each MongoDB index is a
table of *entries* — one row per value of its keys in a document, a document with an
array in an indexed path having one row per element, as MongoDB's multikey indexes
do — kept as a WITHOUT ROWID table whose primary key is the entry (the keys, then the
document's `id`), so an entry lookup, a range and an ordered walk are operations on
one B-tree of SQLite; a missing or null value is held as `NULL_KEY`. A unique index
adds SQLite's `UNIQUE` on the keys; a partial index holds entries only for the
documents meeting its filter. The `_bdg_indexes` catalogue records every index (its
keys, options, and whether it has met an array) so that every process opening the
file plans with the same indexes. Entry tables of the earlier layout (a rowid table
and an index on it, NULL for a missing value) are moved to this one when opened.

Durability: write-ahead log with `synchronous=FULL`, so a write is on disk when its
call returns and survives a crash or `kill -9` of the process, or of the machine.
Every write runs in one `BEGIN IMMEDIATE` transaction: the document and its index
entries change together, a bulk write or an `update_many` is atomic, and writes of
all processes on the file are serialised — which lets the replicas of a service
share one store, and keeps a compare-and-set (`{"_id": k, "revision": r}`) one.

Connections are per thread (an SQLite connection is not shared between threads);
the catalogue is cached per process and reloaded when SQLite's schema version says
that another process changed it.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

from pymongo.errors import AutoReconnect, ExecutionTimeout, OperationFailure, WriteError

from shared.embedded import codec, semantics

T = TypeVar("T")
Document = dict[str, Any]
CATALOGUE = "_bdg_indexes"
_TABLE_PREFIX = "c_"
# An entry's key for a missing or null value (entry tables take no SQL NULL): minus
# infinity, which sorts before every number and text as null sorts first in MongoDB,
# and which no stored value can have (the codec stores infinities and NaN as null).
NULL_KEY = float("-inf")
NULL_KEY_SQL = "-9e999"
_BUSY_TIMEOUT_MS = 30_000
# Pages the log may hold before a commit copies them into the file (SQLite's default
# is 1,000, 4 MB). A page written by several commits in between (the cells, the upper
# levels of the index trees) is copied once instead of at every checkpoint
# (docs/storage.md "Figures"). The log (up to about 40 MB) is reused, not grown.
_CHECKPOINT_PAGES = 10_000


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_of(collection: str) -> str:
    return quoted(_TABLE_PREFIX + collection)


KEYS_PER_READ = 500  # keys in one `id IN (...)` list


def key_named(query: Mapping[str, Any]) -> Any:
    """The key column value of the one document a filter names by its `_id` (a string
    or a number), else None."""
    target = query.get("_id")
    if isinstance(target, bool) or not isinstance(target, (str, int, float)):
        return None
    return codec.key_of(target)


def rows_of_keys(
    connection: sqlite3.Connection, collection: str, columns: str, keys: Sequence[Any]
) -> Iterator[tuple[Any, ...]]:
    """`(id, *columns)` of the stored documents with these keys, read a chunk at a time."""
    table = table_of(collection)
    for start in range(0, len(keys), KEYS_PER_READ):
        chunk = keys[start : start + KEYS_PER_READ]
        marks = ", ".join("?" for _ in chunk)
        yield from connection.execute(
            f"SELECT id, {columns} FROM {table} WHERE id IN ({marks})", chunk
        )


@dataclass(frozen=True)
class IndexSpec:
    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    multikey: bool = False
    # A partial index's filter: equalities `(path, value)` a document must meet to have
    # entries (MongoDB's `partialFilterExpression`); empty for an index of every document.
    partial: tuple[tuple[str, Any], ...] = ()

    @cached_property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.keys)

    @cached_property
    def roots(self) -> frozenset[str]:
        """The top-level fields its keys and its filter are in."""
        paths = [*self.paths, *(path for path, _ in self.partial)]
        return frozenset(path.split(".", 1)[0] for path in paths)

    @cached_property
    def _partial_parts(self) -> tuple[tuple[tuple[str, ...], Any], ...]:
        return tuple((tuple(path.split(".")), value) for path, value in self.partial)

    @cached_property
    def partial_filter(self) -> dict[str, Any]:
        return dict(self.partial)

    def covers(self, document: Document) -> bool:
        """Whether the document has entries in this index (meets its partial filter)."""
        for parts, wanted in self._partial_parts:
            found = _scalar_at(document, parts)
            if found is None:  # missing or null; a filter never asks for null
                return False
            if found is _ARRAY or type(found) is not type(wanted):
                # Arrays, and numbers of another type: MongoDB's equality decides.
                return semantics.matches(self.partial_filter, document)
            if found != wanted:
                return False
        return True

    @cached_property
    def parts(self) -> tuple[tuple[str, ...] | None, ...]:
        """Each key path split at its dots (`None` for `_id`, the document's key)."""
        return tuple(None if path == "_id" else tuple(path.split(".")) for path in self.paths)

    def table_name(self, collection: str) -> str:
        return f"x_{collection}__{self.name}"

    def table(self, collection: str) -> str:
        return quoted(self.table_name(collection))

    @cached_property
    def columns(self) -> list[str]:
        return [f"k{position}" for position in range(len(self.keys))]


@dataclass(frozen=True)
class CollectionInfo:
    exists: bool
    indexes: tuple[IndexSpec, ...] = ()


class StoreError(OperationFailure):
    """The store file cannot be used as asked (disk full, I/O error, corrupt file)."""


# --- index entries of a document ---------------------------------------------------------


def _values_at(value: Any, parts: Sequence[str]) -> list[Any]:
    """The values a path reaches, through arrays as MongoDB does (`a.b` over `[{b: 1}]`)."""
    if not parts:
        return list(value) if isinstance(value, list) and value else [value]
    if isinstance(value, list):
        return [found for item in value for found in _values_at(item, parts)] or [None]
    if isinstance(value, dict) and parts[0] in value:
        return _values_at(value[parts[0]], parts[1:])
    return [None]


def index_key(value: Any) -> Any:
    """An entry's key column value: scalars as SQLite compares them, others as JSON."""
    kind = type(value)
    if kind is str:
        return codec.TAG + value if value.startswith(codec.TAG) else value
    if value is None:
        return NULL_KEY
    if kind is int:
        return codec.sql_scalar(value)
    if kind is float:
        return value if math.isfinite(value) else NULL_KEY  # stored as null
    if isinstance(value, (dict, list)):
        return codec.TAG + "J" + json.dumps(codec.encode_value(value), sort_keys=True)
    return codec.sql_scalar(value)


def _scalar_at(document: Document, parts: tuple[str, ...]) -> Any:
    """The value at a path that reaches no array on its way, else `_ARRAY`."""
    value: Any = document
    for part in parts:
        if not isinstance(value, dict):
            return _ARRAY if isinstance(value, list) else None
        value = value.get(part)
    return _ARRAY if isinstance(value, list) else value


_ARRAY = object()


def entries(spec: IndexSpec, document: Document, key: Any = None) -> set[tuple[Any, ...]]:
    """The rows `(k0, …, id)` that index `spec` holds for `document` (`key`: the
    document's key column value, when the caller has it already)."""
    if spec.partial and not spec.covers(document):
        return set()
    if key is None:
        key = codec.key_of(document["_id"])
    row: list[Any] = []
    for parts in spec.parts:
        if parts is None:
            row.append(key)
            continue
        value = _scalar_at(document, parts)
        if value is _ARRAY:
            return _entries_through_arrays(spec, document, key)
        row.append(index_key(value))
    row.append(key)
    return {tuple(row)}


def _entries_through_arrays(spec: IndexSpec, document: Document, key: Any) -> set[tuple[Any, ...]]:
    per_path = []
    arrays = 0
    for parts in spec.parts:
        if parts is None:
            per_path.append([key])
            continue
        values = _values_at(document, parts)
        if len(values) > 1 or (values and isinstance(values[0], list)):
            arrays += 1
        per_path.append([index_key(value) for value in values])
    if arrays > 1:
        raise WriteError(f"cannot index parallel arrays {list(spec.paths)}", 171)
    return {(*combination, key) for combination in itertools.product(*per_path)}


def _create_collection_table(connection: sqlite3.Connection, table: str, collection: str) -> None:
    """A collection's documents: a rowid table with a unique index on the key. (Not a
    WITHOUT ROWID table keyed by `id`: SQLite keeps those efficient only for rows well
    under a twentieth of a page, and documents run to kilobytes — such a table took
    twice the file and five times the insert time.)"""
    connection.execute(f"CREATE TABLE IF NOT EXISTS {table} (id NOT NULL, doc TEXT NOT NULL)")
    connection.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {quoted(f'k_{collection}')} ON {table} (id)"
    )


def _create_entry_table(connection: sqlite3.Connection, collection: str, spec: IndexSpec) -> None:
    """An index's entries: a WITHOUT ROWID table whose primary key is the entry itself
    (keys, then the document's `id`), so that adding, removing and walking entries is
    one B-tree's work. A unique index adds SQLite's uniqueness on the keys, for entries
    with no missing key (as before: documents missing a unique field do not collide)."""
    table = spec.table(collection)
    columns = spec.columns
    connection.execute(
        f"CREATE TABLE {table} ({', '.join(f'{c} NOT NULL' for c in columns)}, id NOT NULL, "
        f"PRIMARY KEY ({', '.join(columns)}, id)) WITHOUT ROWID"
    )
    if spec.unique:
        present = " AND ".join(f"{column} <> {NULL_KEY_SQL}" for column in columns)
        connection.execute(
            f"CREATE UNIQUE INDEX {quoted(f'u_{collection}__{spec.name}')} "
            f"ON {table} ({', '.join(columns)}) WHERE {present}"
        )


def _earlier_tables(connection: sqlite3.Connection, prefix: str, without_rowid: bool) -> list[str]:
    """Tables named `prefix…` still in an earlier layout, to be moved to the current one:
    collection tables (`c_`) that are WITHOUT ROWID tables keyed by `id` (the first
    layout), entry tables (`x_`) that are rowid tables with an index, NULL for a
    missing value."""
    return [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\' "
            f"AND sql {'' if without_rowid else 'NOT '}LIKE '%WITHOUT ROWID%'",
            (prefix.replace("_", "\\_") + "%",),
        )
    ]


def _keyed_tables(connection: sqlite3.Connection) -> list[str]:
    return _earlier_tables(connection, _TABLE_PREFIX, without_rowid=True)


def _rowid_entry_tables(connection: sqlite3.Connection) -> list[str]:
    return _earlier_tables(connection, "x_", without_rowid=False)


def _rebuild(
    connection: sqlite3.Connection, name: str, create: Callable[[], None], columns: str
) -> None:
    """Move a table's rows into a new layout: the table is renamed, `create()` makes
    its successor under the name, `columns` (SQL over the former table) fill it."""
    former = quoted(f"former_{name}")
    connection.execute(f"ALTER TABLE {quoted(name)} RENAME TO {former}")
    create()
    # OR IGNORE: two entries that only differed by a NULL and minus infinity are one now.
    connection.execute(f"INSERT OR IGNORE INTO {quoted(name)} SELECT {columns} FROM {former}")
    connection.execute(f"DROP TABLE {former}")


def _catalogue_has_partial(connection: sqlite3.Connection) -> bool:
    return any(row[1] == "partial" for row in connection.execute(f"PRAGMA table_info({CATALOGUE})"))


def _add_partial_column(connection: sqlite3.Connection) -> None:
    """A catalogue written before partial indexes gets their column (every index it
    holds is a full one), once, whichever process opening the file comes first."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if not _catalogue_has_partial(connection):
            connection.execute(
                f"ALTER TABLE {CATALOGUE} ADD COLUMN partial TEXT NOT NULL DEFAULT '[]'"
            )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


class SqliteFile:
    """This process's connections to one store file, and its cached catalogue."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        self._schema_version = -1
        self._collections: dict[str, CollectionInfo] = {}
        try:
            connection = self._open()
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {CATALOGUE} (collection TEXT NOT NULL, "
                "name TEXT NOT NULL, keys TEXT NOT NULL, is_unique INTEGER NOT NULL, "
                "multikey INTEGER NOT NULL DEFAULT 0, partial TEXT NOT NULL DEFAULT '[]', "
                "PRIMARY KEY (collection, name))"
            )
            if not _catalogue_has_partial(connection):
                _add_partial_column(connection)
        except sqlite3.Error as exc:
            raise _mapped(exc) from exc
        if self.read(_keyed_tables):
            self.write(self._upgrade_keyed_tables)
        if self.read(_rowid_entry_tables):
            self.write(self._upgrade_entry_tables)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
        connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        with self._lock:
            self._connections.append(connection)
        return connection

    def _open(self) -> sqlite3.Connection:
        """This thread's connection."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    # --- running operations -----------------------------------------------------------

    def read(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._open()
        try:
            self._refresh(connection)
            return operation(connection)
        except sqlite3.Error as exc:
            raise _mapped(exc) from exc

    def write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run `operation` in one immediate transaction: all of it or nothing.

        Writers of this process take turns on a lock first, so that one waiting for
        another is woken as soon as it commits; SQLite's busy handler, which polls
        with growing sleeps, is left to arbitrate between processes."""
        with self._writer:
            return self._write(operation)

    def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _mapped(exc) from exc
        try:
            self._refresh(connection)
            result = operation(connection)
            connection.execute("COMMIT")
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self._schema_version = -1  # a rolled-back DDL must not stay cached
            if isinstance(exc, sqlite3.Error):
                raise _mapped(exc) from exc
            raise
        return result

    # --- catalogue ----------------------------------------------------------------------

    def info(self, collection: str) -> CollectionInfo:
        return self._collections.get(collection, CollectionInfo(exists=False))

    def collection_names(self) -> list[str]:
        return sorted(name for name, info in self._collections.items() if info.exists)

    def _refresh(self, connection: sqlite3.Connection) -> None:
        (version,) = connection.execute("PRAGMA schema_version").fetchone()
        if version == self._schema_version:
            return
        tables = [
            name[len(_TABLE_PREFIX) :]
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'c\\_%' "
                "ESCAPE '\\'"
            )
        ]
        indexes: dict[str, list[IndexSpec]] = {}
        for collection, name, keys, unique, multikey, equalities in connection.execute(
            f"SELECT collection, name, keys, is_unique, multikey, partial FROM {CATALOGUE} "
            "ORDER BY name"
        ):
            spec = IndexSpec(
                name,
                tuple((p, int(d)) for p, d in json.loads(keys)),
                bool(unique),
                bool(multikey),
                tuple((p, v) for p, v in json.loads(equalities)),
            )
            indexes.setdefault(collection, []).append(spec)
        with self._lock:
            self._collections = {
                name: CollectionInfo(True, tuple(indexes.get(name, ()))) for name in tables
            }
            self._schema_version = version

    def ensure_table(self, connection: sqlite3.Connection, collection: str) -> CollectionInfo:
        """Inside a write: create the collection's table if it is not there yet."""
        if not self.info(collection).exists:
            _create_collection_table(connection, table_of(collection), collection)
            self._refresh(connection)
        return self.info(collection)

    def _upgrade_keyed_tables(self, connection: sqlite3.Connection) -> None:
        """Move the documents of collection tables written by the first layout (a
        WITHOUT ROWID table keyed by `id`) into the current one, in one transaction."""
        for table in _keyed_tables(connection):
            collection = table[len(_TABLE_PREFIX) :]
            _rebuild(
                connection,
                table,
                partial(_create_collection_table, connection, quoted(table), collection),
                "id, doc",
            )
        self._refresh(connection)

    def _upgrade_entry_tables(self, connection: sqlite3.Connection) -> None:
        """Move the entries of tables written by earlier layouts into WITHOUT ROWID
        tables, a missing value's NULL becoming `NULL_KEY`, in one transaction."""
        pending = set(_rowid_entry_tables(connection))
        for collection, info in self._collections.items():
            for spec in info.indexes:
                if spec.table_name(collection) not in pending:
                    continue
                # The former table's indexes go with it; their names are free again.
                for kind in ("i", "u"):
                    index = quoted(f"{kind}_{collection}__{spec.name}")
                    connection.execute(f"DROP INDEX IF EXISTS {index}")
                _rebuild(
                    connection,
                    spec.table_name(collection),
                    partial(_create_entry_table, connection, collection, spec),
                    ", ".join(f"coalesce({c}, {NULL_KEY_SQL})" for c in spec.columns) + ", id",
                )
        self._refresh(connection)

    def create_index(
        self, connection: sqlite3.Connection, collection: str, spec: IndexSpec
    ) -> None:
        info = self.ensure_table(connection, collection)
        for index in info.indexes:
            if index.name != spec.name:
                continue
            if (index.keys, index.unique, index.partial) != (spec.keys, spec.unique, spec.partial):
                raise OperationFailure(
                    f"an index named {spec.name!r} exists with other keys or options", 85
                )
            return
        _create_entry_table(connection, collection, spec)
        connection.execute(
            f"INSERT INTO {CATALOGUE} VALUES (?, ?, ?, ?, 0, ?)",
            (
                collection,
                spec.name,
                json.dumps(spec.keys),
                int(spec.unique),
                json.dumps([list(equality) for equality in spec.partial]),
            ),
        )
        self._refresh(connection)
        built = self.info(collection)
        spec = next(index for index in built.indexes if index.name == spec.name)
        for (text,) in connection.execute(f"SELECT doc FROM {table_of(collection)}").fetchall():
            self.add_entries(connection, collection, spec, [entries(spec, codec.loads(text))])

    def add_entries(
        self,
        connection: sqlite3.Connection,
        collection: str,
        spec: IndexSpec,
        per_document: Iterable[set[tuple[Any, ...]]],
        *,
        complete: Iterable[set[tuple[Any, ...]]] | None = None,
    ) -> None:
        """Add entries of some documents (a set of rows per document). `complete`: all
        the entries of those documents, when only some of them are added."""
        row_sets = list(per_document)
        whole = row_sets if complete is None else list(complete)
        if not spec.multikey and any(len(rows) > 1 for rows in whole):
            self._mark_multikey(connection, collection, spec)
        parameters = ", ".join("?" for _ in range(len(spec.keys) + 1))
        connection.executemany(
            f"INSERT INTO {spec.table(collection)} VALUES ({parameters})",
            [row for rows in row_sets for row in rows],
        )

    def _mark_multikey(
        self, connection: sqlite3.Connection, collection: str, spec: IndexSpec
    ) -> None:
        if spec.unique:
            raise WriteError(f"the unique index {spec.name!r} cannot index arrays", 2)
        connection.execute(
            f"UPDATE {CATALOGUE} SET multikey = 1 WHERE collection = ? AND name = ?",
            (collection, spec.name),
        )
        # A schema change (an empty marker view), so that every process re-reads the
        # catalogue: an index holding arrays may return a document once per element, is
        # not used to sort, nor trusted to decide a range alone.
        marker = quoted(f"multikey_{collection}__{spec.name}")
        connection.execute(f"CREATE VIEW IF NOT EXISTS {marker} AS SELECT 1")
        self._refresh(connection)

    def remove_entries(
        self,
        connection: sqlite3.Connection,
        collection: str,
        spec: IndexSpec,
        rows: Iterable[tuple[Any, ...]],
    ) -> None:
        condition = " AND ".join(f"{column} = ?" for column in [*spec.columns, "id"])
        connection.executemany(f"DELETE FROM {spec.table(collection)} WHERE {condition}", rows)

    def drop_index(self, connection: sqlite3.Connection, collection: str, name: str) -> None:
        spec = next((index for index in self.info(collection).indexes if index.name == name), None)
        if spec is None:
            raise OperationFailure(f"index not found with name [{name}]", 27)
        self._drop_entries(connection, collection, spec)
        connection.execute(
            f"DELETE FROM {CATALOGUE} WHERE collection = ? AND name = ?", (collection, name)
        )
        self._refresh(connection)

    def _drop_entries(
        self, connection: sqlite3.Connection, collection: str, spec: IndexSpec
    ) -> None:
        connection.execute(f"DROP TABLE IF EXISTS {spec.table(collection)}")
        marker = quoted(f"multikey_{collection}__{spec.name}")
        connection.execute(f"DROP VIEW IF EXISTS {marker}")

    def drop(self, connection: sqlite3.Connection, collection: str) -> None:
        for spec in self.info(collection).indexes:
            self._drop_entries(connection, collection, spec)
        connection.execute(f"DROP TABLE IF EXISTS {table_of(collection)}")
        connection.execute(f"DELETE FROM {CATALOGUE} WHERE collection = ?", (collection,))
        self._refresh(connection)

    def index_name_of(self, collection: str, message: str) -> str:
        """Which index an SQLite uniqueness error is about: `_id_` for the key."""
        for index in self.info(collection).indexes:
            if f"x_{collection}__{index.name}." in message:
                return index.name
        return "_id_"


def _mapped(exc: sqlite3.Error) -> Exception:
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return ExecutionTimeout(f"embedded store busy for {_BUSY_TIMEOUT_MS} ms: {message}", 50)
    if isinstance(exc, sqlite3.OperationalError) and (
        "disk" in message or "unable to open" in message or "I/O" in message
    ):
        return AutoReconnect(f"embedded store unavailable: {message}")
    return StoreError(f"embedded store: {message}")
