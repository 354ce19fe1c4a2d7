"""Wait until the loaded records show in reporting.

Right after `make up` starts, the events service may not have received the national
reference and the new clubs yet: it keeps such activities as `pending_reference` and
counts them once the registry's events arrive. Waiting here means that the figures are
complete when the launcher says it is ready.
"""

from __future__ import annotations

import time
from collections import Counter

from deploy.demo.api import Api, DemoDataError


def activity_statuses(api: Api, source_systems: list[str]) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for source_system in source_systems:
        for item in api.items(
            "events", "/v1/activities", source_system=source_system, status="all"
        ):
            statuses[item["status"]] += 1
    return statuses


def pending_count(api: Api, source_systems: list[str]) -> int:
    return sum(
        len(api.items("events", "/v1/activities", source_system=source, status="pending_reference"))
        for source in source_systems
    )


def reporting_caught_up(api: Api) -> bool:
    streams = api.get("reporting", "/v1/status")["streams"]
    return all(
        stream["pending"] == 0 and stream["last_sequence"] >= stream["stream_last_sequence"]
        for stream in streams
    )


def wait_until_counted(api: Api, source_systems: list[str], timeout: float) -> Counter[str]:
    """Wait (at most `timeout` s) for no activity to be pending and reporting to be caught
    up; return the activities' statuses. A rejected activity is an error."""
    deadline = time.monotonic() + timeout
    pause = 0.1
    while pending_count(api, source_systems) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)
    # Twice in a row, so that events published meanwhile are seen too.
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        quiet = quiet + 1 if reporting_caught_up(api) else 0
        time.sleep(0.1)
    statuses = activity_statuses(api, source_systems)
    if statuses["rejected"]:
        rejected = [
            f"{item['source_system']}/{item['external_id']}: {item.get('rejection')}"
            for source in source_systems
            for item in api.items(
                "events", "/v1/activities", source_system=source, status="rejected"
            )
        ]
        raise DemoDataError("demo activities were rejected: " + "; ".join(rejected[:10]))
    return statuses
