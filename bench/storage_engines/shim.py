"""The PyMongo async call shapes over an engine that only has a synchronous API.

Only the calls the project's repositories make are exposed. Nothing is translated:
arguments go to the engine as given, its results and its exceptions come back as
they are, so a fidelity check sees the engine's own behaviour. Each call runs either
directly in the coroutine (the engine's own cost; it blocks the event loop while it
runs) or in a worker thread (what an adapter inside a service would have to do).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class Caller:
    """Runs one synchronous engine call, directly or in a thread."""

    def __init__(self, in_thread: bool) -> None:
        self.in_thread = in_thread

    async def __call__(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.in_thread:
            return await asyncio.to_thread(function, *args, **kwargs)
        return function(*args, **kwargs)


class AsyncCursorShim:
    """`find()` / `aggregate()` results: chainable, `to_list`, `async for`."""

    def __init__(self, call: Caller, cursor: Any) -> None:
        self._call = call
        self._cursor = cursor
        self._rows: list[Any] | None = None

    def sort(self, *args: Any, **kwargs: Any) -> AsyncCursorShim:
        self._cursor = self._cursor.sort(*args, **kwargs) or self._cursor
        return self

    def limit(self, count: int) -> AsyncCursorShim:
        self._cursor = self._cursor.limit(count) or self._cursor
        return self

    def skip(self, count: int) -> AsyncCursorShim:
        self._cursor = self._cursor.skip(count) or self._cursor
        return self

    async def to_list(self, length: int | None = None) -> list[Any]:
        rows: list[Any] = await self._call(_materialise, self._cursor)
        return rows if length is None else rows[:length]

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        for row in await self.to_list(None):
            yield row


def _materialise(cursor: Iterable[Any]) -> list[Any]:
    return list(cursor)


class AsyncCollectionShim:
    def __init__(self, call: Caller, collection: Any) -> None:
        self._call = call
        self._collection = collection
        self.name: str = getattr(collection, "name", "?")

    def find(self, *args: Any, **kwargs: Any) -> AsyncCursorShim:
        return AsyncCursorShim(self._call, self._collection.find(*args, **kwargs))

    async def aggregate(self, pipeline: list[Any], **kwargs: Any) -> AsyncCursorShim:
        cursor = await self._call(self._collection.aggregate, pipeline, **kwargs)
        return AsyncCursorShim(self._call, cursor)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._collection, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._call(method, *args, **kwargs)

        return call


class AsyncDatabaseShim:
    def __init__(self, call: Caller, database: Any) -> None:
        self._call = call
        self._database = database

    def __getitem__(self, name: str) -> AsyncCollectionShim:
        return AsyncCollectionShim(self._call, self._database[name])

    async def drop_collection(self, name: str) -> Any:
        return await self._call(self._database.drop_collection, name)

    async def list_collection_names(self) -> list[str]:
        names: list[str] = await self._call(self._database.list_collection_names)
        return names

    async def command(self, *args: Any, **kwargs: Any) -> Any:
        # Some engines answer any unknown attribute with a collection of that name.
        method = getattr(type(self._database), "command", None)
        if not callable(method):
            raise NotImplementedError(f"{type(self._database).__name__} has no command()")
        return await self._call(self._database.command, *args, **kwargs)
