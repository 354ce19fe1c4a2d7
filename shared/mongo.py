"""The service's database: a MongoDB server when a URL is given, else the embedded store.

Both are reached through PyMongo's asynchronous API, so repositories have one code
path. The embedded store (shared/embedded, docs/storage.md) keeps each database in
`<data_dir>/store/<database>.sqlite3`: data survives stops, crashes and `kill -9`,
and the replicas of one service on one machine share the file.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from shared.embedded import EmbeddedClient

Document = dict[str, Any]
Database = AsyncDatabase[Document]
# MongoDB's code for a duplicate key: the one write error that means "already there".
DUPLICATE_KEY = 11000
# What dropping an index answers when it, or its collection, is not there.
_NOTHING_TO_DROP = frozenset({26, 27})  # NamespaceNotFound, IndexNotFound


async def create_partial_index(
    collection: AsyncCollection[Document],
    keys: Sequence[tuple[str, int]],
    *,
    name: str,
    only: Document,
    replaces: Sequence[str] = (),
) -> None:
    """An index holding only the documents that meet `only` (MongoDB's
    `partialFilterExpression`), replacing the indexes `replaces` an earlier version made
    on the same keys for every document. Those are dropped first, as a MongoDB server
    before 7.1 refuses a second index on the same keys differing only in its filter;
    another process starting beside this one may have dropped them already."""
    for former in replaces:
        try:
            await collection.drop_index(former)
        except OperationFailure as exc:
            if exc.code not in _NOTHING_TO_DROP:
                raise
    await collection.create_index(list(keys), name=name, partialFilterExpression=only)


class MongoKind(enum.StrEnum):
    SERVER = "mongodb"
    EMBEDDED = "embedded"


def store_directory(data_dir: Path) -> Path:
    return data_dir / "store"


class MongoHandle:
    """One client and the service's own database on it."""

    def __init__(
        self,
        url: str | None,
        database: str,
        app_name: str,
        *,
        data_dir: Path = Path(".data"),
        server_selection_timeout_ms: int = 30_000,
        timeout_ms: int = 20_000,
    ) -> None:
        self.kind = MongoKind.SERVER if url else MongoKind.EMBEDDED
        self._server: AsyncMongoClient[Document] | None = None
        self._embedded: EmbeddedClient | None = None
        if url:
            # Selection longer than an election (10-12 s); every operation bounded, so
            # a failover answers 503 instead of hanging (shared/http.py).
            self._server = AsyncMongoClient(
                url,
                appname=app_name,
                tz_aware=True,
                serverSelectionTimeoutMS=server_selection_timeout_ms,
                timeoutMS=timeout_ms,
                w="majority",
                retryWrites=True,
            )
            self.db: Database = self._server[database]
            self.location = url
        else:
            self._embedded = EmbeddedClient(store_directory(data_dir))
            self.db = cast(Database, self._embedded[database])
            self.location = str(store_directory(data_dir) / f"{database}.sqlite3")

    async def ping(self) -> None:
        await self.db.command("ping")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
        if self._embedded is not None:
            await self._embedded.close()
