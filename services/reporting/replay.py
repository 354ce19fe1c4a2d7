"""Replaying a stream from sequence 1, and the rebuild that uses it.

A rebuild reads both streams from the start with its own consumer into a fresh
generation of collections while queries keep answering from the active one. Its
goal per stream is the last sequence at the moment it started; events published
after that reach the new generation through the live consumers, which write to both
generations during a rebuild. When both goals are reached the service switches to
the new generation (recorded in `reporting_meta`, so a restart reads it) and drops
the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from services.reporting.generations import Generations, next_generation
from services.reporting.projection import Projection
from services.reporting.repository import MetaRepository, RebuildRunning
from shared.consumer_state import DeadLetterRepository
from shared.contracts import ACTIVITIES, REGISTRY, CloudEvent, EnvelopeError, parse_envelope
from shared.contracts.streams import StreamSpec
from shared.logging import get_logger
from shared.tasks import cancel_and_wait
from shared.unavailable import is_unavailable

log = get_logger(__name__)

ApplyBatch = Callable[[Sequence[CloudEvent]], Awaitable[None]]
Progress = Callable[[int], Awaitable[None]]
_ATTEMPTS = 3
# New starts of one rebuild after NATS or the database failed it, before it is failed.
_MAX_RESTARTS = 100


async def last_sequence(js: JetStreamContext, stream: StreamSpec) -> int:
    info = await js.stream_info(stream.name)
    return int(info.state.last_seq)


class Replayer:
    """Reads one stream from sequence 1 up to a goal and applies it in batches."""

    def __init__(
        self,
        js: JetStreamContext,
        dead_letters: DeadLetterRepository,
        *,
        batch_size: int = 256,
        consumer_name: str,
    ) -> None:
        self._js = js
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._name = consumer_name

    async def replay(
        self, stream: StreamSpec, apply: ApplyBatch, goal: int, progress: Progress | None = None
    ) -> int:
        """Apply every message up to sequence `goal`; returns how many were applied."""
        if goal <= 0:
            return 0
        durable = f"{self._name}-{stream.name.lower()}"
        with contextlib.suppress(NotFoundError):
            await self._js.delete_consumer(stream.name, durable)
        subscription = await self._js.pull_subscribe(
            stream.subjects[0],
            durable=durable,
            stream=stream.name,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.ALL,
                max_ack_pending=-1,
                inactive_threshold=300.0,
            ),
        )
        applied = 0
        reached = 0
        try:
            while reached < goal:
                try:
                    messages = await subscription.fetch(self._batch_size, timeout=1.0)
                except TimeoutError:  # nats' own TimeoutError is a subclass
                    info = await subscription.consumer_info()
                    if not info.num_pending and not info.num_ack_pending:
                        break  # the goal is past the last message still kept
                    continue
                messages = [m for m in messages if m.metadata.sequence.stream <= goal]
                if not messages:
                    break
                applied += await self._apply(stream, apply, messages)
                reached = max(m.metadata.sequence.stream for m in messages)
                await messages[-1].ack()
                if progress is not None:
                    await progress(reached)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(stream.name, durable)
        return applied

    async def _apply(self, stream: StreamSpec, apply: ApplyBatch, messages: list[Msg]) -> int:
        parsed: list[tuple[Msg, CloudEvent]] = []
        for msg in messages:
            try:
                parsed.append((msg, parse_envelope(msg.data)))
            except EnvelopeError as exc:
                await self._dead_letter(stream, msg, str(exc))
        try:
            await apply([event for _, event in parsed])
            return len(parsed)
        except Exception:
            log.warning("replay batch failed, applying one by one", stream=stream.name)
        applied = 0
        for msg, event in parsed:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    await apply([event])
                    applied += 1
                    break
                except Exception as exc:
                    if attempt == _ATTEMPTS:
                        await self._dead_letter(stream, msg, f"{type(exc).__name__}: {exc}")
                    else:
                        await asyncio.sleep(0.2 * attempt)
        return applied

    async def _dead_letter(self, stream: StreamSpec, msg: Msg, error: str) -> None:
        await self._dead_letters.add(
            stream=stream.name,
            sequence=msg.metadata.sequence.stream,
            subject=msg.subject,
            body=msg.data,
            error=error,
            deliveries=msg.metadata.num_delivered,
        )


def _passing(exc: BaseException) -> bool:
    """A failure of NATS or of the database rather than of the data: worth a new start."""
    return isinstance(exc, (NatsError, OSError, TimeoutError)) or is_unavailable(exc)


class Rebuilder:
    """Runs one rebuild at a time in the background; its progress is in `reporting_meta`."""

    def __init__(
        self,
        js: Callable[[], JetStreamContext],
        generations: Generations,
        meta: MetaRepository,
        dead_letters: DeadLetterRepository,
        batch_size: int,
    ) -> None:
        self._js = js
        self._generations = generations
        self._meta = meta
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def recover(self) -> None:
        """A rebuild interrupted by a stop (its replica killed or its lease lost) starts
        again from the beginning on the replica that projects now: its partial
        generation is dropped and the request stands again, so the generation watch
        starts it at its next look. What was asked for is finished, never forgotten."""
        state = await self._meta.rebuild()
        if state and state.get("status") == "running":
            generation = str(state["generation"])
            await self._generations.models(generation).drop()
            log.warning("rebuild interrupted: starting it again", generation=generation)
            await self._meta.save_rebuild(
                {
                    "status": "requested",
                    "generation": generation,
                    "requested_at": state.get("started_at") or datetime.now(UTC),
                    "restarts": int(state.get("restarts", 0)) + 1,
                }
            )

    async def start(self) -> dict[str, Any]:
        if self.running:
            raise RebuildRunning
        js = self._js()
        generation = next_generation(self._generations.active.generation)
        asked = await self._meta.rebuild() or {}
        restarts = int(asked.get("restarts", 0)) if asked.get("status") == "requested" else 0
        models = self._generations.models(generation)
        await models.drop()
        projection = Projection(models)
        await projection.load()
        # Live consumers write to the new generation before the goals are measured, so
        # every event after a goal reaches it through them.
        self._generations.begin(projection)
        state: dict[str, Any] = {
            "status": "running",
            "generation": generation,
            "previous_generation": self._generations.active.generation,
            "started_at": datetime.now(UTC),
            "finished_at": None,
            "error": None,
            "restarts": restarts,
            "streams": {},
        }
        for stream in (REGISTRY, ACTIVITIES):
            goal = await last_sequence(js, stream)
            state["streams"][stream.name] = {"goal_sequence": goal, "applied_sequence": 0}
        await self._meta.save_rebuild(state)
        self._task = asyncio.create_task(self._run(js, projection, state), name="rebuild")
        return state

    async def _run(
        self, js: JetStreamContext, projection: Projection, state: dict[str, Any]
    ) -> None:
        replayer = Replayer(
            js,
            self._dead_letters,
            batch_size=self._batch_size,
            consumer_name=f"reporting-rebuild-{projection.generation}",
        )
        try:
            for stream, apply in (
                (REGISTRY, projection.apply_registry),
                (ACTIVITIES, projection.apply_activities),
            ):
                progress_of: dict[str, Any] = state["streams"][stream.name]

                async def progress(sequence: int, mine: dict[str, Any] = progress_of) -> None:
                    mine["applied_sequence"] = sequence
                    await self._meta.save_rebuild(state)

                await replayer.replay(stream, apply, progress_of["goal_sequence"], progress)
            previous = await self._generations.switch()
            await previous.models.drop()
            state.update(status="completed", finished_at=datetime.now(UTC))
        except Exception as exc:
            self._generations.abandon()
            await projection.models.drop()
            restarts = int(state.get("restarts", 0))
            if _passing(exc) and restarts < _MAX_RESTARTS:
                # NATS or the database away for a moment: asked again, so the
                # generation watch starts it from the beginning once they answer.
                log.warning(
                    "rebuild interrupted: starting it again",
                    generation=projection.generation,
                    error=repr(exc),
                )
                await self._meta.save_rebuild(
                    {
                        "status": "requested",
                        "generation": projection.generation,
                        "requested_at": state["started_at"],
                        "restarts": restarts + 1,
                    }
                )
                return
            log.exception("rebuild failed", generation=projection.generation)
            state.update(status="failed", finished_at=datetime.now(UTC), error=str(exc))
        await self._meta.save_rebuild(state)

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            await cancel_and_wait(self._task)
