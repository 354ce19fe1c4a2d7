"""Skip the demo data when it is already there (it takes seconds to send and settle).

After a full load, `$BDG_DATA_DIR/demo-data.json` records a fingerprint of the demo
loader's source files, how many demo activities and clubs it put, and the first day on
which a demo activity not yet due becomes due. At the next start the load is skipped
when the fingerprint is the same, that day has not come, and the services themselves
still hold that many demo activities and at least that many clubs (so a wiped or
different database is loaded again). Any doubt means a full load: the calls are
idempotent PUTs, so loading twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Final

from deploy.demo.api import Api, DemoDataError
from deploy.demo.settle import activity_statuses
from deploy.local.datadir import write_private

DEMO_SOURCES: Final = Path(__file__).resolve().parents[1] / "demo"
DEMO_LOADER: Final = Path(__file__).resolve().parents[1] / "demo_data.py"


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [DEMO_LOADER, *sorted(DEMO_SOURCES.glob("*.py"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class DemoMarker:
    fingerprint: str
    activities: int
    clubs: int
    next_due: str | None  # ISO date of the next demo activity to become due

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> DemoMarker | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                fingerprint=str(raw["fingerprint"]),
                activities=int(raw["activities"]),
                clubs=int(raw["clubs"]),
                next_due=None if raw.get("next_due") is None else str(raw["next_due"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def already_loaded(
    marker: DemoMarker | None, today: date, api: Api, source_systems: list[str]
) -> bool:
    """Whether the services still hold the demo data the marker describes."""
    if marker is None or marker.fingerprint != fingerprint():
        return False
    if marker.next_due is not None and today >= date.fromisoformat(marker.next_due):
        return False
    try:
        statuses = activity_statuses(api, source_systems)
        clubs = len(api.items("registry", "/v1/clubs"))
    except DemoDataError:
        return False
    return (
        sum(statuses.values()) == marker.activities
        and statuses["pending_reference"] == 0
        and clubs >= marker.clubs
    )
