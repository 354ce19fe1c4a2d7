"""The active generation of read models and, during a rebuild, the one being built.

Live consumers write every event to the active generation and, while a rebuild runs,
to the new one as well, so that nothing published during the replay is missing when
queries switch over. The switch waits for batches in flight to finish.

With several replicas, one projects (it holds the `projection` lease: its consumers,
its rebuilds) and all answer queries from the shared database. The others follow:
their unit hierarchy from their own follower of unit events, and the active
generation from `reporting_meta`, read every second, so a switch made by the
projecting replica is seen by all.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from services.reporting.projection import Projection
from services.reporting.repository import MetaRepository, ReadModels
from shared.contracts import CloudEvent
from shared.logging import get_logger
from shared.mongo import Database, Document
from shared.runtime import ServiceRuntime
from shared.tasks import cancel_and_wait

PROJECTION = "projection"  # the lease of the replica that projects and rebuilds
_WATCH_SECONDS = 1.0

log = get_logger(__name__)


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

    async def follow(self) -> None:
        """Take up the generation `reporting_meta` names, when another replica switched."""
        generation = await self._meta.active_generation()
        if generation == self.active.generation:
            return
        projection = Projection(ReadModels(self._db, generation))
        await projection.load()
        async with self._gate:
            if generation != self.active.generation:
                self.active = projection

    def follow_units(self, documents: Sequence[Document]) -> None:
        for projection in (self.active, self.building):
            if projection is not None:
                projection.follow_units(documents)

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


class RebuildStarter(Protocol):
    @property
    def running(self) -> bool: ...

    async def start(self) -> dict[str, Any]: ...


class GenerationWatcher:
    """Every second: a replica that does not project takes up the generation the
    projecting one switched to; the projecting one starts a rebuild another replica was
    asked for (`reporting_meta` holds the request)."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        generations: Generations,
        meta: MetaRepository,
        rebuilder: RebuildStarter,
    ) -> None:
        self._runtime = runtime
        self._generations = generations
        self._meta = meta
        self._rebuilder = rebuilder
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="generation-watch")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(_WATCH_SECONDS)
            try:
                if not self._runtime.holds(PROJECTION):
                    await self._generations.follow()
                    continue
                state = await self._meta.rebuild()
                if state and state.get("status") == "requested" and not self._rebuilder.running:
                    log.info("starting the rebuild another replica was asked for")
                    await self._rebuilder.start()
            except Exception as exc:  # the database away: try again next time
                log.warning("generation watch", error=repr(exc))
