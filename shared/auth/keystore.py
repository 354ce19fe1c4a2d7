"""The public keys a service trusts, kept in its own database between restarts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Database, Document

_KEY_SET = "jwks"


class TrustedKeyRepository:
    """One document: the last key set the verifier merged (public keys only)."""

    def __init__(self, db: Database, collection: str = "trusted_keys") -> None:
        self._collection: AsyncCollection[Document] = db[collection]

    async def load(self) -> list[dict[str, Any]]:
        found = await self._collection.find_one({"_id": _KEY_SET})
        return list(found["keys"]) if found else []

    async def save(self, keys: Sequence[dict[str, Any]]) -> None:
        await self._collection.replace_one(
            {"_id": _KEY_SET}, {"_id": _KEY_SET, "keys": list(keys)}, upsert=True
        )
