"""The active generation of read models and, during a rebuild, the one being built.

Live consumers write every event to the active generation and, while a rebuild runs,
to the new one as well, so that nothing published during the replay is missing when
queries switch over. The switch waits for batches in flight to finish.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence

from services.reporting.projection import Projection
from services.reporting.repository import MetaRepository, ReadModels
from shared.contracts import CloudEvent
from shared.mongo import Database


def next_generation(current: str) -> str:
    match = re.fullmatch(r"g(\d+)", current)
    return f"g{int(match[1]) + 1}" if match else "g1"


class Generations:
    def __init__(self, db: Database, meta: MetaRepository) -> None:
        self._db = db
        self._meta = meta
        self.active = Projection(ReadModels(db, "g1"))
        self.building: Projection | None = None
        self._gate = asyncio.Lock()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def load(self) -> None:
        """Open the generation recorded as active (the first one on a new database)."""
        self.active = Projection(ReadModels(self._db, await self._meta.active_generation()))
        await self.active.load()

    def models(self, generation: str) -> ReadModels:
        return ReadModels(self._db, generation)

    async def _each(self, apply: Callable[[Projection], Awaitable[None]]) -> None:
        async with self._gate:
            targets = [self.active] if self.building is None else [self.active, self.building]
            self._in_flight += 1
            self._idle.clear()
        try:
            for projection in targets:
                await apply(projection)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def apply_registry(self, events: Sequence[CloudEvent]) -> None:
        await self._each(lambda projection: projection.apply_registry(events))

    async def apply_activities(self, events: Sequence[CloudEvent]) -> None:
        await self._each(lambda projection: projection.apply_activities(events))

    def begin(self, projection: Projection) -> None:
        self.building = projection

    def abandon(self) -> None:
        self.building = None

    async def switch(self) -> Projection:
        """Make the generation being built the active one; returns the previous one."""
        if self.building is None:
            raise RuntimeError("no generation is being built")
        async with self._gate:
            await self._idle.wait()
            await self._meta.set_active_generation(self.building.generation)
            previous, self.active, self.building = self.active, self.building, None
        return previous
