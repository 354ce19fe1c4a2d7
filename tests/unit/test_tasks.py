"""A stop ends its background task even when a cancellation is lost on the way."""

from __future__ import annotations

import asyncio
import contextlib

from shared.lease import Lease, LeasedWork
from shared.tasks import cancel_and_wait


async def _swallows_first_cancel(ended: asyncio.Event) -> None:
    # What `asyncio.wait_for` does on 3.11 when its call completes as the cancel arrives.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    try:
        await asyncio.sleep(3600)
    finally:
        ended.set()


async def test_a_lost_cancellation_is_repeated_until_the_task_ends() -> None:
    ended = asyncio.Event()
    task = asyncio.create_task(_swallows_first_cancel(ended))
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task), timeout=5)
    assert ended.is_set()
    assert task.done()


async def test_a_task_that_ended_by_an_error_is_waited_for_without_raising() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert isinstance(task.exception(), RuntimeError)
    await cancel_and_wait(None)


class _SwallowingDatabase:
    """A lease collection whose every call loses the cancellation that reaches it."""

    def __init__(self) -> None:
        self.renewing = asyncio.Event()

    def __getitem__(self, name: str) -> _SwallowingDatabase:
        return self

    async def find_one(self, query: dict[str, object]) -> None:
        self.renewing.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)

    async def insert_one(self, document: dict[str, object]) -> None:
        return None

    async def update_one(self, *args: object) -> None:
        return None


async def test_leased_work_stops_although_its_lease_call_lost_the_cancellation() -> None:
    database = _SwallowingDatabase()
    began, ended = asyncio.Event(), asyncio.Event()

    async def begin() -> None:
        began.set()

    async def end() -> None:
        ended.set()

    lease = Lease(database, "work", service="test", ttl_seconds=0.3)  # type: ignore[arg-type]
    work = LeasedWork(lease, begin, end, every_seconds=0.01)
    work.start()
    await asyncio.wait_for(began.wait(), timeout=5)
    database.renewing.clear()
    await asyncio.wait_for(database.renewing.wait(), timeout=5)  # stop it mid-renewal
    await asyncio.wait_for(work.stop(), timeout=5)
    assert ended.is_set()
    assert not lease.held
