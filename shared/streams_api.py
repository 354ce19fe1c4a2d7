"""The operator's decision after a stream gap: adopt the stream as it now is.

When a consumer finds that its stream no longer holds what its database needs (the
JetStream store was wiped, recreated or cut short), the service stops applying it and
is not ready (shared/positions.py). Restoring the store from a backup lets it go on by
itself; when that is not possible, an admin adopts the stream as it is: the consumer
counts from its first sequence on, and `/readyz` is ready again. Events published
before the loss and never applied stay missing: docs/operations.md says how to bring
them back (a rebuild of reporting, a re-send by the provinces' systems).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from shared.auth.http import Caller, require_admin
from shared.edge import problems
from shared.runtime import ServiceRuntime


class Adopted(BaseModel):
    stream: str
    consumer: str
    from_sequence: int
    gap: str | None


def streams_router() -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["operations"])

    @router.post(
        "/streams/{stream}/adopt",
        response_model=Adopted,
        summary="Count from the stream as it now is, after a loss (admins only)",
    )
    async def adopt(stream: str, request: Request, caller: Caller) -> Adopted:
        """After `/v1/status` shows a `gap` for this stream: the service's consumer
        starts counting from the stream's current first sequence."""
        require_admin(caller)
        runtime: ServiceRuntime = request.app.state.runtime
        consumer = runtime.consumers.get(stream)
        if consumer is None:
            raise problems.missing("stream", stream)
        if not runtime.streams_ready.is_set():
            raise problems.nats_unavailable(5)
        await consumer.adopt()
        position = await runtime.consumer_state.recorded(consumer.durable)
        return Adopted(
            stream=stream,
            consumer=consumer.durable,
            from_sequence=(position.last_sequence if position else 0) + 1,
            gap=consumer.gap,
        )

    return router
