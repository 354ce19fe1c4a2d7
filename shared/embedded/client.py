"""The part of PyMongo's asynchronous API the repositories use, over SQLite store files.

`EmbeddedClient(directory)[name]` is the database kept in `directory/name.sqlite3`;
its collections answer `find`, `find_one`, `insert_one`, `insert_many`, `update_one`,
`update_many`, `replace_one`, `delete_one`, `delete_many`, `bulk_write`, `aggregate`,
`count_documents`, `estimated_document_count`, `create_index` (partial indexes of
equalities too), `create_indexes`, `drop_index`, `index_information`, `drop` with
PyMongo's results and errors. Each call runs on a small thread pool of the
process (SQLite calls block), so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pymongo import IndexModel
from pymongo.errors import OperationFailure
from pymongo.results import (
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
)

from shared.embedded import operations as ops
from shared.embedded.engine import IndexSpec, SqliteFile

T = TypeVar("T")
Document = dict[str, Any]
_WORKERS = 4


def _equalities(expression: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A partial index's filter as `(path, value)` equalities: the shapes the embedded
    store takes are `{path: value}` and `{path: {"$eq": value}}`, value a string, a
    number or a boolean."""
    found = []
    for path, condition in expression.items():
        value = condition
        if isinstance(condition, Mapping) and list(condition) == ["$eq"]:
            value = condition["$eq"]
        if path.startswith("$") or not isinstance(value, (str, int, float)):
            raise OperationFailure(
                "the embedded store's partial indexes take equalities on a field with a "
                f"string, number or boolean: not {path!r}: {condition!r}",
                67,
            )
        found.append((path, value))
    return tuple(sorted(found))


def _sort_spec(key_or_list: Any, direction: int | None = None) -> list[tuple[str, int]]:
    if key_or_list is None:
        return []
    if isinstance(key_or_list, str):
        return [(key_or_list, direction or 1)]
    if isinstance(key_or_list, Mapping):
        return [(str(k), int(v)) for k, v in key_or_list.items()]
    return [(str(k), int(v)) for k, v in key_or_list]


class EmbeddedClient:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, SqliteFile] = {}
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="store")

    def __getitem__(self, name: str) -> EmbeddedDatabase:
        return self.get_database(name)

    def get_database(self, name: str) -> EmbeddedDatabase:
        if name not in self._files:
            self._files[name] = SqliteFile(self.directory / f"{name}.sqlite3")
        return EmbeddedDatabase(self, name, self._files[name])

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        for file in self._files.values():
            file.close()


class EmbeddedDatabase:
    def __init__(self, client: EmbeddedClient, name: str, file: SqliteFile) -> None:
        self.client = client
        self.name = name
        self.file = file

    def __getitem__(self, name: str) -> EmbeddedCollection:
        return EmbeddedCollection(self, name)

    def get_collection(self, name: str) -> EmbeddedCollection:
        return EmbeddedCollection(self, name)

    async def command(self, command: str | Mapping[str, Any], **_: Any) -> Document:
        name = command if isinstance(command, str) else next(iter(command))
        if name != "ping":
            raise OperationFailure(f"the embedded store does not run the {name!r} command")
        await self.client.run(lambda: self.file.read(lambda c: c.execute("SELECT 1").fetchone()))
        return {"ok": 1.0}

    async def list_collection_names(self, **_: Any) -> list[str]:
        return await self.client.run(
            lambda: self.file.read(lambda _c: self.file.collection_names())
        )

    async def drop_collection(self, name: str, **_: Any) -> None:
        await self.client.run(lambda: self.file.write(lambda c: self.file.drop(c, name)))


class EmbeddedCursor:
    """A `find` cursor: options first, then `to_list` or `async for`."""

    def __init__(self, collection: EmbeddedCollection, spec: ops.Find) -> None:
        self._collection = collection
        self._spec = spec
        self._loaded: list[Document] | None = None

    def sort(self, key_or_list: Any, direction: int | None = None) -> EmbeddedCursor:
        self._spec = ops.Find(
            self._spec.query,
            self._spec.projection,
            _sort_spec(key_or_list, direction),
            self._spec.skip,
            self._spec.limit,
        )
        return self

    def skip(self, count: int) -> EmbeddedCursor:
        s = self._spec
        self._spec = ops.Find(s.query, s.projection, s.sort, count, s.limit)
        return self

    def limit(self, count: int) -> EmbeddedCursor:
        s = self._spec
        self._spec = ops.Find(s.query, s.projection, s.sort, s.skip, count)
        return self

    def batch_size(self, _size: int) -> EmbeddedCursor:
        return self

    async def to_list(self, length: int | None = None) -> list[Document]:
        if self._loaded is None:
            self._loaded = await self._collection._read(
                lambda file, c: ops.find(file, c, self._collection.name, self._spec)
            )
        return self._loaded if length is None else self._loaded[:length]

    async def __aiter__(self) -> AsyncIterator[Document]:
        for document in await self.to_list():
            yield document


class EmbeddedCommandCursor:
    def __init__(self, documents: list[Document]) -> None:
        self._documents = documents

    async def to_list(self, length: int | None = None) -> list[Document]:
        return self._documents if length is None else self._documents[:length]

    async def __aiter__(self) -> AsyncIterator[Document]:
        for document in self._documents:
            yield document


class EmbeddedCollection:
    def __init__(self, database: EmbeddedDatabase, name: str) -> None:
        self.database = database
        self.name = name
        self.full_name = f"{database.name}.{name}"

    async def _read(self, call: Callable[[SqliteFile, Any], T]) -> T:
        file = self.database.file
        return await self.database.client.run(lambda: file.read(lambda c: call(file, c)))

    async def _write(self, call: Callable[[SqliteFile, Any], T]) -> T:
        file = self.database.file
        return await self.database.client.run(lambda: file.write(lambda c: call(file, c)))

    # --- reads ----------------------------------------------------------------------

    def find(
        self,
        filter: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | None = None,
        *,
        sort: Any = None,
        skip: int = 0,
        limit: int = 0,
        **_: Any,
    ) -> EmbeddedCursor:
        return EmbeddedCursor(self, ops.Find(filter, projection, _sort_spec(sort), skip, limit))

    async def find_one(
        self,
        filter: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | None = None,
        *,
        sort: Any = None,
        **_: Any,
    ) -> Document | None:
        found = await self.find(filter, projection, sort=sort, limit=1).to_list()
        return found[0] if found else None

    async def count_documents(self, filter: Mapping[str, Any], **_: Any) -> int:
        return await self._read(lambda file, c: ops.count(file, c, self.name, filter))

    async def estimated_document_count(self, **_: Any) -> int:
        return await self.count_documents({})

    async def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], **_: Any
    ) -> EmbeddedCommandCursor:
        documents = await self._read(lambda file, c: ops.aggregate(file, c, self.name, pipeline))
        return EmbeddedCommandCursor(documents)

    # --- writes ---------------------------------------------------------------------

    async def insert_one(self, document: Document, **_: Any) -> InsertOneResult:
        await self._write(lambda file, c: ops.insert(file, c, self.name, document))
        return InsertOneResult(document["_id"], True)

    async def insert_many(
        self, documents: Sequence[Document], ordered: bool = True, **_: Any
    ) -> InsertManyResult:
        documents = list(documents)
        ids, error = await self._write(
            lambda file, c: ops.insert_many(file, c, self.name, documents, ordered=ordered)
        )
        if error is not None:  # raised once what could be inserted is committed
            raise error
        return InsertManyResult(ids, True)

    async def _update(
        self, query: Mapping[str, Any], change: Mapping[str, Any], **options: Any
    ) -> UpdateResult:
        outcome = await self._write(
            lambda file, c: ops.update(file, c, self.name, query, change, **options)
        )
        return UpdateResult(outcome.raw(), True)

    async def update_one(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any],
        upsert: bool = False,
        **_: Any,
    ) -> UpdateResult:
        return await self._update(filter, update, many=False, upsert=upsert, replace=False)

    async def update_many(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any],
        upsert: bool = False,
        **_: Any,
    ) -> UpdateResult:
        return await self._update(filter, update, many=True, upsert=upsert, replace=False)

    async def replace_one(
        self,
        filter: Mapping[str, Any],
        replacement: Mapping[str, Any],
        upsert: bool = False,
        **_: Any,
    ) -> UpdateResult:
        return await self._update(filter, replacement, many=False, upsert=upsert, replace=True)

    async def delete_one(self, filter: Mapping[str, Any], **_: Any) -> DeleteResult:
        deleted = await self._write(
            lambda file, c: ops.delete(file, c, self.name, filter, many=False)
        )
        return DeleteResult({"n": deleted}, True)

    async def delete_many(self, filter: Mapping[str, Any], **_: Any) -> DeleteResult:
        deleted = await self._write(
            lambda file, c: ops.delete(file, c, self.name, filter, many=True)
        )
        return DeleteResult({"n": deleted}, True)

    async def bulk_write(
        self, requests: Sequence[Any], ordered: bool = True, **_: Any
    ) -> BulkWriteResult:
        collector = ops.BulkCollector()
        for request in requests:
            request._add_to_bulk(collector)
        result, error = await self._write(
            lambda file, c: ops.bulk_write(file, c, self.name, collector.ops, ordered=ordered)
        )
        if error is not None:  # raised once the operations before it are committed
            raise error
        return BulkWriteResult(result, True)

    # --- indexes and the collection itself ------------------------------------------

    async def create_index(
        self,
        keys: Any,
        *,
        name: str | None = None,
        unique: bool = False,
        partialFilterExpression: Mapping[str, Any] | None = None,  # noqa: N803 (PyMongo's)
        **_options: Any,
    ) -> str:
        if partialFilterExpression and unique:
            raise OperationFailure("the embedded store has no partial unique indexes", 67)
        spec_keys = tuple(_sort_spec(keys))
        index_name = name or "_".join(f"{path}_{direction}" for path, direction in spec_keys)
        if [path for path, _ in spec_keys] == ["_id"]:
            return "_id_"
        spec = IndexSpec(
            index_name, spec_keys, unique, partial=_equalities(partialFilterExpression or {})
        )
        await self._write(lambda file, c: ops.create_index(file, c, self.name, spec))
        return index_name

    async def drop_index(self, index_or_name: str, **_: Any) -> None:
        """Drop an index by name (`OperationFailure` code 27 when there is none)."""
        if index_or_name == "_id_":
            raise OperationFailure("cannot drop _id index", 72)
        await self._write(lambda file, c: file.drop_index(c, self.name, index_or_name))

    async def create_indexes(self, indexes: Sequence[IndexModel], **_: Any) -> list[str]:
        names = []
        for model in indexes:
            document = model.document
            options = {k: v for k, v in document.items() if k not in ("key", "name", "unique")}
            names.append(
                await self.create_index(
                    list(document["key"].items()),
                    name=document.get("name"),
                    unique=bool(document.get("unique")),
                    **options,
                )
            )
        return names

    async def index_information(self) -> dict[str, Any]:
        info = await self._read(lambda file, _c: file.info(self.name))
        indexes: dict[str, Any] = {"_id_": {"key": [("_id", 1)]}}
        for spec in info.indexes:
            indexes[spec.name] = {"key": list(spec.keys), "unique": spec.unique}
            if spec.partial:
                indexes[spec.name]["partialFilterExpression"] = spec.partial_filter
        return indexes

    async def drop(self, **_: Any) -> None:
        await self.database.drop_collection(self.name)
