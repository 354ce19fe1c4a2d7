"""All of the registry's MongoDB access."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Database, Document
from shared.outbox import OUTBOX_FIELD
from shared.versioned import EventsFor, Written, put_revisioned

PROGRAMMES = "programmes"
# Collections whose documents carry pending events for the outbox relay.
OUTBOX_COLLECTIONS = (PROGRAMMES,)
_HIDE_OUTBOX = {OUTBOX_FIELD: 0}


class ProgrammeRepository:
    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db[PROGRAMMES]

    async def get(self, code: str) -> Document | None:
        return await self._collection.find_one({"_id": code}, _HIDE_OUTBOX)

    async def all(self) -> list[Document]:
        return await self._collection.find({}, _HIDE_OUTBOX).sort("_id", 1).to_list(None)

    async def put(self, code: str, state: Mapping[str, Any], events_for: EventsFor) -> Written:
        return await put_revisioned(self._collection, code, state, events_for)
