"""All of the events service's MongoDB access."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Database, Document
from shared.replica import apply_latest

# The events service's own replica of registry data, built from `REGISTRY`.
REF_PROGRAMMES = "ref_programmes"


class ReferenceRepository:
    def __init__(self, db: Database) -> None:
        self._programmes: AsyncCollection[Document] = db[REF_PROGRAMMES]

    async def apply_programmes(self, documents: Sequence[Document]) -> None:
        await apply_latest(self._programmes, documents)

    async def programme(self, code: str) -> Document | None:
        return await self._programmes.find_one({"_id": code})
