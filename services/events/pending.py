"""Activities waiting for a reference: resolved when it arrives, rejected when it does not.

The registry handler calls `resolve` with the references a batch of registry events
made known; the sweep runs every `BDG_EVENTS_PENDING_SWEEP_SECONDS`, checks every
pending activity again (which also catches one written while its reference was
arriving) and rejects those still unresolved after `BDG_EVENTS_PENDING_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from prometheus_client import Counter

from services.events.ingestion import locked_error
from services.events.items import ACTIVITY_ADAPTER
from services.events.replica import RegistryReplica
from services.events.repository import ActivityRepository
from services.events.transitions import Change, decide_recheck
from services.events.validation import Verdict, validate
from shared.logging import get_logger
from shared.mongo import Document
from shared.tasks import cancel_and_wait

log = get_logger(__name__)
RECHECKED = Counter(
    "bdg_events_pending_rechecked_total",
    "Pending activities checked again, by the status they went to",
    ["status"],
)


class PendingResolver:
    def __init__(
        self,
        activities: ActivityRepository,
        replica: RegistryReplica,
        *,
        timeout: timedelta,
        wake: Callable[[], None],
        today: Callable[[], date],
        now: Callable[[], datetime],
    ) -> None:
        self._activities = activities
        self._replica = replica
        self._timeout = timeout
        self._wake = wake
        self._today = today
        self._now = now

    async def resolve(self, references: Sequence[str]) -> int:
        """Check again the pending activities waiting for any of these references."""
        if not references:
            return 0
        return await self._recheck(await self._activities.pending(references))

    async def sweep(self) -> int:
        """Check every pending activity; reject those waiting longer than the timeout."""
        pending = await self._activities.pending()
        if pending:
            await self._replica.read_through(
                key for document in pending for key in document.get("pending_on") or []
            )
        return await self._recheck(pending)

    async def _recheck(self, documents: Sequence[Document]) -> int:
        now, today = self._now(), self._today()
        changes: list[Change] = []
        for document in documents:
            activity = ACTIVITY_ADAPTER.validate_python(document["activity"])
            verdict = validate(activity, self._replica.cache, today)
            if verdict.valid:
                # Resolved into a period locked meanwhile: it would change locked
                # figures, so it is rejected instead, naming the lock.
                cache = self._replica.cache
                lock = cache.locks.covering(document["activity"], cache.units)
                if lock is not None:
                    verdict = Verdict(errors=[locked_error(lock, document["id"])])
            change = decide_recheck(document, verdict, now, self._timeout)
            if change is not None:
                changes.append(change)
        missed = await self._activities.update_many(changes)
        written = [change for change in changes if change.document["_id"] not in missed]
        if any(change.events for change in written):
            self._wake()
        for change in written:
            RECHECKED.labels(change.document["status"]).inc()
            log.info(
                "pending activity checked again",
                activity_id=change.document["id"],
                status=change.document["status"],
            )
        return len(written)


class PendingSweeper:
    """Runs `PendingResolver.sweep` every `interval` seconds while the service runs."""

    def __init__(self, resolver: PendingResolver, interval: float) -> None:
        self._resolver = resolver
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="events-pending-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._resolver.sweep()
            except Exception as exc:  # MongoDB away: try again next round.
                log.warning("pending sweep failed", error=repr(exc))
            await asyncio.sleep(self._interval)
