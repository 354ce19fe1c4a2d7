"""A second province for access tests: Hà Giang (vn63:02, since 2025 part of Tuyên
Quang vn34:08) with one commune and two activities, a national SFES plan with targets
in both provinces, and tokens for provincial clients signed with the test key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from shared.contracts import (
    ACTIVITY_RECORDED,
    PROGRAMME_UPSERTED,
    TARGET_SET,
    UNIT_UPSERTED,
    ActivityState,
    ProgrammeUpserted,
    TargetSet,
    UnitUpserted,
)
from tests.reporting_support.events import Published, event
from tests.support.apps import signed_token

# Provinces as the registry expands them across the 2025 reorganisation.
LANG_SON = ("vn63:20", "vn34:20")
HA_GIANG = ("vn63:02", "vn34:08")


def _unit(unit_id: str, name: str, level: str, parent: str, successor: str | None) -> UnitUpserted:
    edition, code = unit_id.split(":")
    return UnitUpserted.model_validate(
        {
            "id": unit_id,
            "edition": edition,
            "code": code,
            "name": name,
            "level": level,
            "parent_id": parent,
            "valid_from": "2025-07-01" if edition == "vn34" else None,
            "valid_to": "2025-06-30" if edition == "vn63" else None,
            "successors": [{"unit_id": successor, "share": 1.0}] if successor else [],
            "revision": 1,
        }
    )


HA_GIANG_UNITS = [
    _unit("vn63:02", "Tỉnh Hà Giang", "province", "vn", "vn34:08"),
    _unit("vn63:032", "Huyện Hoàng Su Phì", "district", "vn63:02", "vn34:01021"),
    _unit("vn63:01021", "Thị trấn Vinh Quang", "commune", "vn63:032", "vn34:01021"),
    _unit("vn34:08", "Tỉnh Tuyên Quang", "province", "vn", None),
    _unit("vn34:01021", "Xã Hoàng Su Phì", "commune", "vn34:08", None),
]

# SFES targets: one per province, one national, and one on a unit reporting does not
# know (only national scope may see it).
SFES_TARGETS = [
    {"indicator": "school_exchanges", "unit_id": "vn63:02", "period": "2023", "value": 2},
    {"indicator": "school_exchanges", "unit_id": "vn63:20", "period": "2023", "value": 1},
    {"indicator": "people_reached", "unit_id": "vn", "period": "2023", "value": 1000},
    {"indicator": "school_exchanges", "unit_id": "vn63:99", "period": "2023", "value": 5},
]


def _activity(key: str, body: dict[str, Any], province: str) -> Published:
    state = ActivityState.model_validate(
        {
            "id": f"act-{key}",
            "source_system": "hagiang-mis",
            "external_id": key,
            "version": 1,
            "province_id": province,
            "activity": body,
        }
    )
    return event(ACTIVITY_RECORDED, state, state.id, province)


def ha_giang_events() -> list[Published]:
    """Hà Giang's units, the SFES programme and plan, and its two activities: a school
    exchange (20 female, 18 male) in 2023 and a session (8, 4) in September 2025."""
    published = [event(UNIT_UPSERTED, unit, unit.id) for unit in HA_GIANG_UNITS]
    programme = ProgrammeUpserted(
        code="SFES",
        name="Safe, friendly and equal schools",
        name_vi="Trường học An toàn - Thân thiện - Bình đẳng",
        revision=1,
    )
    published.append(event(PROGRAMME_UPSERTED, programme, "SFES"))
    plan = TargetSet.model_validate({"programme": "SFES", "targets": SFES_TARGETS, "revision": 1})
    published.append(event(TARGET_SET, plan, "SFES"))
    exchange = {
        "type": "school_exchange",
        "programme": "SFES",
        "unit_id": "vn63:01021",
        "title": "Giao lưu trường học Hoàng Su Phì",
        "started_on": "2023-11-16",
        "ended_on": "2023-11-16",
        "participants": {"female": 20, "male": 18},
    }
    session = {
        "type": "communication_session",
        "programme": "SFES",
        "unit_id": "vn34:01021",
        "title": "Truyền thông bình đẳng giới",
        "started_on": "2025-09-05",
        "ended_on": "2025-09-05",
        "participants": {"female": 8, "male": 4},
    }
    published.append(_activity("HG1", exchange, "vn63:02"))
    published.append(_activity("HG2", session, "vn34:08"))
    return published


def token_for(
    client_id: str,
    provinces: tuple[str, ...],
    roles: tuple[str, ...] = ("viewer",),
    lifetime_seconds: int = 3600,
) -> str:
    return signed_token(
        roles=roles, provinces=provinces, client_id=client_id, lifetime_seconds=lifetime_seconds
    )


@asynccontextmanager
async def client_as(app: FastAPI, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """Another HTTP client on a running app, with `token` (none: no Authorization)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if token is not None:
            client.headers["Authorization"] = f"Bearer {token}"
        yield client
