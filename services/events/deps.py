"""What the events service's routes depend on: the assembled service, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from services.events.config import EventsSettings
from services.events.service import ActivityService
from shared.auth.http import Caller
from shared.runtime import ServiceRuntime

__all__ = ["AllowPending", "Caller", "EventsApp", "EventsDep"]


class EventsApp:
    """What the routes reach: the use cases, the runtime and the settings."""

    def __init__(
        self, runtime: ServiceRuntime, activities: ActivityService, settings: EventsSettings
    ) -> None:
        self.runtime = runtime
        self.activities = activities
        self.settings = settings


def events_app(request: Request) -> EventsApp:
    found: EventsApp = request.app.state.service
    return found


EventsDep = Annotated[EventsApp, Depends(events_app)]
AllowPending = Annotated[
    bool,
    Query(
        description="Accept references the events service has not seen yet (a club "
        "registered a moment ago): the activity waits as `pending_reference` (PUT answers "
        "202) and counts once they arrive, or is rejected after 24 hours. Without it, an "
        "unknown unit, programme, club or site is refused at once (422 naming the field)."
    ),
]
