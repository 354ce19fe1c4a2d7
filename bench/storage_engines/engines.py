"""The candidate stores, each opened on a directory and used through PyMongo's async shapes.

An engine is a name, the interpreter it runs under, the distributions whose versions
the report names, and a coroutine that opens a store in a directory. Adding one is a
few lines: write its `_open_…` function and add an `Engine` to `ENGINES`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage_engines.shim import AsyncDatabaseShim, Caller

REPOSITORY = Path(__file__).resolve().parents[2]


class Store:
    """An open store: databases by name, and how to close it."""

    def __init__(
        self,
        database: Callable[[str], Any],
        close: Callable[[], Awaitable[None]],
        *,
        client: Any = None,
    ) -> None:
        self._database = database
        self._close = close
        self.client = client

    def db(self, name: str) -> Any:
        return self._database(name)

    async def close(self) -> None:
        await self._close()


Opener = Callable[[Path, bool], Awaitable[Store]]


@dataclass(frozen=True)
class Engine:
    name: str
    # Which interpreter runs it: "default" (the bench venv), "py313", or "project" (.venv).
    interpreter: str
    distributions: tuple[str, ...]
    persistent: bool
    # How the harness reaches it (native async API, or sync calls through the shim).
    access: str
    open: Opener
    sync: bool = False


async def _noop() -> None:
    return None


# --- tinymongo (SQLite table backend, native async client) ---------------------


async def _open_tinymongo(path: Path, in_thread: bool) -> Store:
    from tinymongo import AsyncMongoClient

    client = AsyncMongoClient(tinymongo_folder=str(path), backend="sqlite", tz_aware=True)

    async def close() -> None:
        outcome = client.close()
        if hasattr(outcome, "__await__"):
            await outcome

    return Store(lambda name: client[name], close, client=client)


# --- montydb (sqlite or lightning/LMDB storage, sync only) ---------------------


def _choose_montydb_storage(path: Path, storage: str, options: dict[str, Any]) -> None:
    """The storage is chosen once per repository, in its config file."""
    from montydb import set_storage

    if not os.path.exists(path / "monty.storage.cfg"):
        os.makedirs(path, exist_ok=True)
        set_storage(str(path), storage=storage, **options)


def _montydb(storage: str, **options: Any) -> Opener:
    async def open_montydb(path: Path, in_thread: bool) -> Store:
        from montydb import MontyClient

        _choose_montydb_storage(path, storage, options)
        client = MontyClient(str(path), tz_aware=True)
        call = Caller(in_thread)

        async def close() -> None:
            client.close()

        return Store(lambda name: AsyncDatabaseShim(call, client[name]), close, client=client)

    return open_montydb


# --- mongita (disk engine, sync only) ------------------------------------------


async def _open_mongita(path: Path, in_thread: bool) -> Store:
    from mongita import MongitaClientDisk

    client = MongitaClientDisk(host=str(path))
    call = Caller(in_thread)

    async def close() -> None:
        client.close()

    return Store(lambda name: AsyncDatabaseShim(call, client[name]), close, client=client)


# --- mongomock through pymongo-async-mock (the current in-memory emulation) ---------


def _install_bulk_update_shim() -> None:
    """The same shim `shared/mongo.py` installs before making the emulated client:
    pymongo-async-mock re-wraps mongomock's `add_update` per collection (the wrappers
    pile up), and mongomock's bulk updates reject PyMongo's `sort` argument."""
    from mongomock.collection import BulkOperationBuilder

    original: Callable[..., Any] = BulkOperationBuilder.add_update
    if getattr(original, "__name__", "") == "add_update_compat":
        return

    def add_update_compat(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("sort", None)
        return original(*args, **kwargs)

    BulkOperationBuilder.add_update = add_update_compat  # type: ignore[method-assign]


async def _open_mongomock(path: Path, in_thread: bool) -> Store:
    from pymongo_async_mock import AsyncMongoMockClient

    _install_bulk_update_shim()
    client = AsyncMongoMockClient(tz_aware=True)

    async def close() -> None:
        client.close()

    return Store(lambda name: client[name], close, client=client)


# --- mongoeco (SQLite engine, native async client; Python >= 3.13) -------------


async def _open_mongoeco(path: Path, in_thread: bool) -> Store:
    from mongoeco import AsyncMongoClient, CodecOptions
    from mongoeco.engines import SQLiteEngine

    os.makedirs(path, exist_ok=True)
    client = AsyncMongoClient(
        SQLiteEngine(str(path / "store.sqlite")), codec_options=CodecOptions(tz_aware=True)
    )
    # The SQLite engine connects when the client is entered.
    await client.__aenter__()

    async def close() -> None:
        await client.close()

    return Store(lambda name: client[name], close, client=client)


# --- the project's own store (shared/embedded: SQLite + mongomock semantics) -------


def _embedded_tree() -> Path:
    """Where `shared/embedded` is imported from: this repository, or another version's
    tree to compare two versions, in a directory named after its commit:
    `git archive <commit> shared | tar -x -C /tmp/bdg-embedded-<commit>`."""
    return Path(os.environ.get("BDG_BENCH_EMBEDDED_TREE", REPOSITORY))


async def _open_embedded(path: Path, in_thread: bool) -> Store:
    tree = str(_embedded_tree())
    if tree not in sys.path:
        sys.path.insert(0, tree)
    from shared.embedded import EmbeddedClient

    # As shared/mongo.py opens it: one SQLite file per database in the directory.
    client = EmbeddedClient(path)
    return Store(lambda name: client[name], client.close, client=client)


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine(
            "tinymongo-sqlite",
            "default",
            ("tinymongo", "tinydb", "pymongo"),
            True,
            "native AsyncMongoClient (its storage work runs in a thread pool)",
            _open_tinymongo,
        ),
        Engine(
            "montydb-sqlite",
            "default",
            ("montydb", "pymongo"),
            True,
            "sync MontyClient, called through the harness shim",
            _montydb("sqlite"),
            sync=True,
        ),
        Engine(
            "montydb-lightning",
            "default",
            ("montydb", "lmdb", "pymongo"),
            True,
            "sync MontyClient, called through the harness shim",
            # LMDB's map is a size limit fixed at open; montydb's default is 10 MiB.
            _montydb("lightning", map_size=8 << 30),
            sync=True,
        ),
        Engine(
            "mongita-disk",
            "default",
            ("mongita", "pymongo"),
            True,
            "sync MongitaClientDisk, called through the harness shim",
            _open_mongita,
            sync=True,
        ),
        Engine(
            "mongomock",
            "default",
            ("mongomock", "pymongo-async-mock", "pymongo"),
            False,
            "AsyncMongoMockClient (sync mongomock inside coroutines), as shared/mongo.py "
            "made it before shared/embedded",
            _open_mongomock,
        ),
        Engine(
            "bdg-embedded",
            "project",
            ("pymongo", "mongomock"),
            True,
            "shared/embedded EmbeddedClient, as shared/mongo.py opens it (thread pool inside)",
            _open_embedded,
        ),
        Engine(
            "mongoeco-sqlite",
            "py313",
            ("mongoeco", "pymongo"),
            True,
            "native AsyncMongoClient over SQLiteEngine (its own executor threads)",
            _open_mongoeco,
        ),
    )
}


def versions(engine: Engine) -> dict[str, str]:
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for distribution in engine.distributions:
        try:
            found[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            found[distribution] = "not installed"
    if engine.interpreter == "project":
        tree = _embedded_tree()
        found["shared/embedded"] = (
            _commit_of("shared/embedded") if tree == REPOSITORY else tree.name.rsplit("-", 1)[-1]
        )
    return found


def _commit_of(path: str) -> str:
    """The last commit that changed `path`, with a mark when the work tree differs."""
    git = ["git", "-C", str(REPOSITORY)]
    try:
        commit = subprocess.run(
            [*git, "log", "-1", "--format=%h", "--", path], capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run([*git, "status", "--porcelain", "--", path], capture_output=True)
    except OSError:
        return "unknown"
    return (commit or "unknown") + (" + local changes" if changed.stdout.strip() else "")
