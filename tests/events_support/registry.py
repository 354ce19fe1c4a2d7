"""Registry events as the registry would publish them, for the events service's tests.

A few real units of Lạng Sơn and Hà Giang in both editions (codes from the national
reference): Xã Vân Nham (`vn63:06433`) became part of `vn34:06415`, which reuses the
code of the old Xã Minh Tiến; Hà Giang (`vn63:02`) went into Tuyên Quang (`vn34:08`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import httpx

from services.events.reference_cache import ReferenceCache
from shared.contracts import (
    CLUB_UPSERTED,
    PROGRAMME_UPSERTED,
    SITE_UPSERTED,
    UNIT_UPSERTED,
    CloudEvent,
    ClubUpserted,
    ProgrammeUpserted,
    SiteUpserted,
    UnitUpserted,
)
from shared.contracts.catalogue import EventKind
from tests.support.apps import eventually
from tests.support.events import publish_events

# (id, name, level, parent, successors)
UNIT_ROWS: list[tuple[str, str, str, str | None, list[str]]] = [
    ("vn", "Việt Nam", "nation", None, []),
    ("vn63:20", "Tỉnh Lạng Sơn", "province", "vn", ["vn34:20"]),
    ("vn63:186", "Huyện Hữu Lũng", "district", "vn63:20", []),
    ("vn63:06433", "Xã Vân Nham", "commune", "vn63:186", ["vn34:06415"]),
    ("vn63:06436", "Xã Đồng Tiến", "commune", "vn63:186", ["vn34:06436"]),
    ("vn63:06415", "Xã Minh Tiến", "commune", "vn63:186", ["vn34:06415"]),
    ("vn63:02", "Tỉnh Hà Giang", "province", "vn", ["vn34:08"]),
    ("vn63:032", "Huyện Hoàng Su Phì", "district", "vn63:02", []),
    ("vn63:01024", "Xã Bản Máy", "commune", "vn63:032", ["vn34:01024"]),
    ("vn34:20", "Tỉnh Lạng Sơn", "province", "vn", []),
    ("vn34:06415", "Xã Vân Nham", "commune", "vn34:20", []),
    ("vn34:06436", "Xã Thiện Tân", "commune", "vn34:20", []),
    ("vn34:08", "Tỉnh Tuyên Quang", "province", "vn", []),
    ("vn34:01024", "Xã Bản Máy", "commune", "vn34:08", []),
]
PROGRAMMES = {
    "P8": "Dự án 8",
    "SFES": "Trường học An toàn - Thân thiện - Bình đẳng",
    "CLC": "TTHTCĐ",
}


def event(kind: EventKind, data: Any, subject: str) -> CloudEvent:
    return CloudEvent.new(
        kind, data, source=kind.stream.source, subject=subject, correlation_id=uuid.uuid4().hex
    )


def unit_event(
    unit_id: str,
    name: str,
    level: str,
    parent_id: str | None,
    successors: Sequence[str] = (),
    revision: int = 1,
) -> CloudEvent:
    edition, _, code = unit_id.partition(":")
    data = UnitUpserted.model_validate(
        {
            "id": unit_id,
            "edition": edition,
            "code": code,
            "name": name,
            "level": level,
            "parent_id": parent_id,
            "valid_to": "2025-06-30" if edition == "vn63" else None,
            "valid_from": "2025-07-01" if edition == "vn34" else None,
            "successors": [{"unit_id": s, "share": 1.0 / len(successors)} for s in successors],
            "revision": revision,
        }
    )
    return event(UNIT_UPSERTED, data, unit_id)


def unit_events() -> list[CloudEvent]:
    return [unit_event(*row) for row in UNIT_ROWS]


def programme_events() -> list[CloudEvent]:
    return [
        event(
            PROGRAMME_UPSERTED,
            ProgrammeUpserted(code=code, name=code, name_vi=name, revision=1),
            code,
        )
        for code, name in PROGRAMMES.items()
    ]


def club_event(
    club_id: str,
    unit_id: str,
    province_id: str,
    *,
    name: str = "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
    established_on: date = date(2021, 9, 1),
    dissolved_on: date | None = None,
    revision: int = 1,
) -> CloudEvent:
    data = ClubUpserted(
        id=club_id,
        source_system="langson-registry",
        external_id=club_id,
        name=name,
        kind="school",
        unit_id=unit_id,
        province_id=province_id,
        programme="P8",
        established_on=established_on,
        dissolved_on=dissolved_on,
        revision=revision,
    )
    return event(CLUB_UPSERTED, data, club_id)


def site_event(
    site_id: str, kind: str, unit_id: str, province_id: str, name: str, revision: int = 1
) -> CloudEvent:
    data = SiteUpserted(
        id=site_id,
        source_system="langson-registry",
        external_id=site_id,
        kind=kind,
        name=name,
        unit_id=unit_id,
        province_id=province_id,
        revision=revision,
    )
    return event(SITE_UPSERTED, data, site_id)


CLUB_VAN_NHAM = "club-thcs-van-nham"
CLUB_BAN_MAY = "club-thcs-ban-may"
SCHOOL_VAN_NHAM = "site-thcs-van-nham"
CENTRE_VAN_NHAM = "site-tthtcd-van-nham"


def reference_events() -> list[CloudEvent]:
    """Units, programmes, two clubs (Lạng Sơn, Hà Giang), a school and a learning centre."""
    return [
        *unit_events(),
        *programme_events(),
        club_event(CLUB_VAN_NHAM, "vn63:06433", "vn63:20"),
        club_event(CLUB_BAN_MAY, "vn63:01024", "vn63:02", name="CLB THCS Bản Máy"),
        site_event(SCHOOL_VAN_NHAM, "school", "vn63:06433", "vn63:20", "Trường THCS Vân Nham"),
        site_event(CENTRE_VAN_NHAM, "learning_centre", "vn63:06433", "vn63:20", "TTHTCĐ Vân Nham"),
    ]


async def publish(nats_url: str, events: Sequence[CloudEvent]) -> int:
    """Publish events on their subjects over one connection; returns the last sequence."""
    return await publish_events(nats_url, events)


async def applied(client: httpx.AsyncClient, sequence: int, timeout: float = 10.0) -> None:
    """Wait until the events service has applied `REGISTRY` up to `sequence`."""

    async def caught_up() -> bool:
        streams = (await client.get("/v1/status")).json()["streams"]
        registry = next(s for s in streams if s["stream"] == "REGISTRY")
        return bool(registry["last_sequence"] >= sequence)

    await eventually(caught_up, timeout=timeout)


async def publish_and_wait(
    nats_url: str, client: httpx.AsyncClient, events: Sequence[CloudEvent]
) -> int:
    sequence = await publish(nats_url, events)
    await applied(client, sequence)
    return sequence


def reference_cache() -> ReferenceCache:
    """The same reference data, straight into memory (for tests without I/O)."""
    cache = ReferenceCache()
    documents = {
        UNIT_UPSERTED.type: cache.put_units,
        CLUB_UPSERTED.type: cache.put_clubs,
        SITE_UPSERTED.type: cache.put_sites,
    }
    for item in reference_events():
        key = item.data.get("id", item.data.get("code"))
        put = documents.get(item.type, cache.put_programmes)
        put([{"_id": key, **item.data}])
    return cache
