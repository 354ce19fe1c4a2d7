"""Work that must happen once among a service's replicas runs under a lease.

A lease is one document in the service's database: who holds it, until when, and an
`epoch` that grows at every change of holder (a fencing token). A replica takes a
free or expired lease with one compare-and-set, renews it well before it expires,
and stops the work as soon as a renewal fails or finds another holder. Two holders at
once are possible only for the time a stalled holder takes to notice (at most the
lease's time to live); the work done under leases here (publishing the outbox,
projecting the streams, rebuilding, expiring pending activities) is idempotent, so
that overlap can repeat work but never double-count it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.logging import get_logger
from shared.mongo import Database, Document
from shared.tasks import cancel_and_wait

LEASES = "leases"
HELD = Gauge("bdg_lease_held", "1 while this process holds the lease", ["service", "lease"])

log = get_logger(__name__)


def holder_id() -> str:
    """This process, as leases name it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """One named lease; `held` says whether this process may do the work now."""

    def __init__(
        self,
        db: Database,
        name: str,
        *,
        service: str,
        holder: str | None = None,
        ttl_seconds: float = 10.0,
    ) -> None:
        self._collection: AsyncCollection[Document] = db[LEASES]
        self.name = name
        self.holder = holder or holder_id()
        self._service = service
        self._ttl = ttl_seconds
        self.epoch = 0
        self._held_until: datetime | None = None

    @property
    def held(self) -> bool:
        return self._held_until is not None and datetime.now(UTC) < self._held_until

    async def try_acquire(self) -> bool:
        """Take the lease if it is free, expired or already ours; renew it if ours."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self._ttl)
        current = await self._collection.find_one({"_id": self.name})
        if current is not None and current.get("holder") != self.holder:
            expires = current.get("expires_at")
            if expires is not None and _aware(expires) > now:
                self._lost()
                return False
        epoch = int(current.get("epoch", 0)) if current else 0
        mine = current is not None and current.get("holder") == self.holder
        new_epoch = epoch if mine else epoch + 1
        document = {"holder": self.holder, "expires_at": until, "epoch": new_epoch}
        if current is None:
            try:
                await self._collection.insert_one({"_id": self.name, **document})
            except DuplicateKeyError:
                self._lost()
                return False
        else:
            # Compare-and-set on what was read: another taker in between makes this miss.
            result = await self._collection.update_one(
                {"_id": self.name, "holder": current.get("holder"), "epoch": epoch},
                {"$set": document},
            )
            if result.modified_count != 1:
                self._lost()
                return False
        if not mine:
            log.info("lease taken", lease=self.name, holder=self.holder, epoch=new_epoch)
        self.epoch = new_epoch
        self._held_until = until - timedelta(seconds=self._ttl / 3)
        HELD.labels(self._service, self.name).set(1)
        return True

    async def release(self) -> None:
        if self._held_until is None:
            return
        self._lost()
        with contextlib.suppress(Exception):
            await self._collection.update_one(
                {"_id": self.name, "holder": self.holder},
                {"$set": {"expires_at": datetime.now(UTC)}},
            )

    def _lost(self) -> None:
        if self._held_until is not None:
            log.info("lease lost", lease=self.name, holder=self.holder)
        self._held_until = None
        HELD.labels(self._service, self.name).set(0)


class LeasedWork:
    """Runs `begin` when the lease is taken and `end` when it is lost or released,
    trying to take it every third of its time to live."""

    def __init__(
        self,
        lease: Lease,
        begin: Callable[[], Awaitable[None]],
        end: Callable[[], Awaitable[None]],
        *,
        every_seconds: float | None = None,
    ) -> None:
        self.lease = lease
        self._begin = begin
        self._end = end
        self._every = every_seconds if every_seconds is not None else lease._ttl / 3
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"lease-{self.lease.name}")

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._task)
        if self._running:
            self._running = False
            await self._end()
        await self.lease.release()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                held = await self.lease.try_acquire()
            except Exception as exc:  # the database away: the lease runs out by itself
                log.warning("lease not renewed", lease=self.lease.name, error=repr(exc))
                held = self.lease.held
            if held and not self._running:
                self._running = True
                await self._begin()
            elif not held and self._running:
                self._running = False
                await self._end()
            await asyncio.sleep(self._every)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
