"""MongoDB client factory: a real server when a URL is given, else the in-process emulation."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.logging import get_logger

Document = dict[str, Any]
Database = AsyncDatabase[Document]

EMULATION_WARNING = (
    "*** BDG_MONGODB_URL is not set: using the IN-MEMORY MongoDB EMULATION. "
    "Nothing is kept when this process stops. Set BDG_MONGODB_URL for real data. ***"
)


class MongoKind(enum.StrEnum):
    SERVER = "mongodb"
    EMULATION = "emulation (pymongo-async-mock, in memory)"


class MongoHandle:
    """One client and the service's own database on it."""

    def __init__(self, url: str | None, database: str, app_name: str) -> None:
        self.kind = MongoKind.SERVER if url else MongoKind.EMULATION
        self._client: AsyncMongoClient[Document]
        if url:
            self._client = AsyncMongoClient(
                url,
                appname=app_name,
                tz_aware=True,
                serverSelectionTimeoutMS=5000,
                w="majority",
            )
        else:
            get_logger(__name__).warning(EMULATION_WARNING)
            self._client = _emulated_client()
        # Taken explicitly: the emulation's get_default_database() is unwrapped.
        self.db: Database = self._client[database]

    @property
    def emulated(self) -> bool:
        return self.kind is MongoKind.EMULATION

    async def ping(self) -> None:
        await self.db.command("ping")

    async def close(self) -> None:
        if self.emulated:
            # The emulation's close() is synchronous.
            self._client.close()  # type: ignore[unused-coroutine]
        else:
            await self._client.close()


def _emulated_client() -> AsyncMongoClient[Document]:
    from pymongo_async_mock import AsyncMongoMockClient

    _install_bulk_update_shim()

    client: AsyncMongoClient[Document] = AsyncMongoMockClient(tz_aware=True)
    return client


def _install_bulk_update_shim() -> None:
    """Install once the emulation's bulk-update adapter under the name it checks for.

    pymongo-async-mock 0.1.3 wraps mongomock's `add_update` again for every new
    collection: its guard looks for the name `add_update_compat`, which
    `functools.wraps` replaces, so the wrappers pile up until, after some hundreds
    of collections in one process, a bulk update exceeds the recursion limit.
    """
    from mongomock.collection import BulkOperationBuilder

    original: Callable[..., Any] = BulkOperationBuilder.add_update
    if getattr(original, "__name__", "") == "add_update_compat":
        return

    def add_update_compat(*args: Any, **kwargs: Any) -> Any:
        # PyMongo's bulk updates accept `sort`; mongomock's do not.
        kwargs.pop("sort", None)
        return original(*args, **kwargs)

    BulkOperationBuilder.add_update = add_update_compat  # type: ignore[method-assign]
