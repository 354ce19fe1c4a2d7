"""The events service's HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.events.repository import ReferenceRepository
from shared.runtime import ServiceRuntime
from shared.status import ServiceStatus, service_status

router = APIRouter(prefix="/v1")


class EventsApp:
    """What the routes reach."""

    def __init__(self, runtime: ServiceRuntime, references: ReferenceRepository) -> None:
        self.runtime = runtime
        self.references = references


def events_app(request: Request) -> EventsApp:
    found: EventsApp = request.app.state.service
    return found


EventsDep = Annotated[EventsApp, Depends(events_app)]


@router.get("/status", response_model=ServiceStatus, tags=["operations"])
async def status(app: EventsDep) -> ServiceStatus:
    """How far the registry replica has applied `REGISTRY`."""
    return await service_status(app.runtime)
