"""The registry's use cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.registry.repository import ProgrammeRepository
from services.registry.schemas import Programme, ProgrammeIn
from shared.contracts import PROGRAMME_UPSERTED, CloudEvent, ProgrammeUpserted
from shared.http import Problem
from shared.logging import current_correlation_id
from shared.mongo import Document
from shared.versioned import Written

SOURCE = "/bdg/registry"

# The programmes every deployment starts with.
SEEDED_PROGRAMMES: dict[str, ProgrammeIn] = {
    "P8": ProgrammeIn(
        name="Project 8: gender equality and urgent issues for women and children",
        name_vi="Dự án 8: Thực hiện bình đẳng giới và giải quyết những vấn đề cấp thiết "
        "đối với phụ nữ và trẻ em",
        starts_on=date(2021, 1, 1),
        ends_on=date(2025, 12, 31),
    ),
    "SFES": ProgrammeIn(
        name="Safe, Friendly and Equal Schools",
        name_vi="Trường học An toàn - Thân thiện - Bình đẳng",
    ),
    "CLC": ProgrammeIn(
        name="Community learning centres",
        name_vi="Trung tâm học tập cộng đồng",
    ),
}


def programme_view(document: Document) -> Programme:
    return Programme(
        code=document["_id"],
        name=document["name"],
        name_vi=document["name_vi"],
        starts_on=_as_date(document.get("starts_on")),
        ends_on=_as_date(document.get("ends_on")),
        revision=document["revision"],
    )


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"unexpected stored date {value!r}")


class ProgrammeService:
    def __init__(self, programmes: ProgrammeRepository) -> None:
        self._programmes = programmes

    async def put(self, code: str, body: ProgrammeIn) -> tuple[Programme, bool]:
        """Create or update a programme; returns it and whether it was created."""
        state = body.model_dump(mode="json")

        def events_for(revision: int, _previous: Document | None) -> Sequence[CloudEvent]:
            data = ProgrammeUpserted(code=code, revision=revision, **body.model_dump())
            return [
                CloudEvent.new(
                    PROGRAMME_UPSERTED,
                    data,
                    source=SOURCE,
                    subject=code,
                    correlation_id=current_correlation_id(),
                )
            ]

        written: Written = await self._programmes.put(code, state, events_for)
        return programme_view(written.document), written.outcome == "created"

    async def get(self, code: str) -> Programme:
        document = await self._programmes.get(code)
        if document is None:
            raise Problem(404, "unknown-programme", "Unknown programme", f"No programme {code!r}.")
        return programme_view(document)

    async def all(self) -> list[Programme]:
        return [programme_view(document) for document in await self._programmes.all()]

    async def seed(self) -> None:
        for code, body in SEEDED_PROGRAMMES.items():
            if await self._programmes.get(code) is None:
                await self.put(code, body)
