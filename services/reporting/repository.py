"""All of the reporting service's MongoDB access."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Database, Document
from shared.replica import apply_latest

PROGRAMMES = "programmes"


class ProgrammeReadModel:
    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[PROGRAMMES]

    async def apply(self, documents: Sequence[Document]) -> None:
        await apply_latest(self._collection, documents)

    async def all(self) -> list[Document]:
        return await self._collection.find({}).sort("_id", 1).to_list(None)
