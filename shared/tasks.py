"""Stopping background tasks for sure.

On Python 3.11 a cancellation can be lost: `asyncio.wait_for` (used throughout the NATS
client) swallows it when the awaited call completes at the same moment, and the task
goes on as if nothing had been asked. A stop that cancels once and then waits can
therefore wait forever. `cancel_and_wait` cancels again until the task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

_RETRY_SECONDS = 0.5


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait until it has ended, cancelling again if a cancel was lost.

    The task's own exception (if it ended by one) is left to the caller to read.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=_RETRY_SECONDS)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
