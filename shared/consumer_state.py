"""What consumers keep in their service's database: positions and dead letters.

`ConsumerStateRepository` holds, per durable consumer, the stream sequence applied up
to, which stream that was (its creation time: a recreated stream is another stream),
and counters for `/v1/status`; shared/positions.py decides from it how a consumer
starts. `DeadLetterRepository` keeps the messages that could not be applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Database, Document
from shared.positions import Recorded


@dataclass(frozen=True)
class StreamPosition:
    durable: str
    stream: str
    last_sequence: int
    last_event_time: datetime | None
    applied_at: datetime | None
    applied_total: int


class ConsumerStateRepository:
    """Where each consumer has got to in its stream."""

    def __init__(self, db: Database, collection: str = "consumer_state") -> None:
        self._collection: AsyncCollection[Document] = db[collection]

    async def record(
        self, durable: str, stream: str, events: Sequence[tuple[int, datetime]]
    ) -> None:
        last_sequence = max(sequence for sequence, _ in events)
        newest = max(event_time for _, event_time in events)
        await self._collection.update_one(
            {"_id": durable},
            {
                "$set": {"stream": stream, "applied_at": datetime.now(UTC)},
                "$max": {"last_sequence": last_sequence, "last_event_time": newest},
                "$inc": {"applied_total": len(events)},
            },
            upsert=True,
        )

    async def passed(self, durable: str, stream: str, sequence: int) -> None:
        """A message handled without being applied (dead-lettered) also moves the position."""
        await self._collection.update_one(
            {"_id": durable},
            {"$set": {"stream": stream}, "$max": {"last_sequence": sequence}},
            upsert=True,
        )

    async def recorded(self, durable: str) -> Recorded | None:
        found = await self._collection.find_one({"_id": durable})
        if found is None:
            return None
        return Recorded(
            int(found.get("last_sequence", 0)), document_time(found.get("stream_created"))
        )

    async def identify(self, durable: str, stream: str, created: datetime | None) -> None:
        """Record which stream the position counts in (its creation time)."""
        await self._collection.update_one(
            {"_id": durable},
            {"$set": {"stream": stream, "stream_created": created}},
            upsert=True,
        )

    async def adopt(self, durable: str, stream: str, before: int, created: datetime | None) -> None:
        """Start counting in the stream as it is now, from sequence `before` + 1."""
        await self._collection.update_one(
            {"_id": durable},
            {
                "$set": {
                    "stream": stream,
                    "stream_created": created,
                    "last_sequence": before,
                    "adopted_at": datetime.now(UTC),
                }
            },
            upsert=True,
        )

    async def positions(self) -> list[StreamPosition]:
        documents = await self._collection.find({}).to_list(None)
        return [
            StreamPosition(
                durable=document["_id"],
                stream=document["stream"],
                last_sequence=document.get("last_sequence", 0),
                last_event_time=document.get("last_event_time"),
                applied_at=document.get("applied_at"),
                applied_total=document.get("applied_total", 0),
            )
            for document in documents
        ]


class DeadLetterRepository:
    """Messages that could not be applied, kept with their error until retried."""

    def __init__(self, db: Database, collection: str = "dead_letters") -> None:
        self._collection: AsyncCollection[Document] = db[collection]

    async def add(
        self, *, stream: str, sequence: int, subject: str, body: bytes, error: str, deliveries: int
    ) -> None:
        key = f"{stream}:{sequence}"
        await self._collection.update_one(
            {"_id": key},
            {
                "$set": {
                    "stream": stream,
                    "sequence": sequence,
                    "subject": subject,
                    "body": body.decode("utf-8", errors="replace"),
                    "error": error,
                    "deliveries": deliveries,
                    "failed_at": datetime.now(UTC),
                    "status": "failed",
                }
            },
            upsert=True,
        )

    async def list(self, status: str | None = None, limit: int = 100) -> list[Document]:
        query: Document = {} if status is None else {"status": status}
        return await self._collection.find(query).sort("_id", 1).limit(limit).to_list(None)

    async def get(self, key: str) -> Document | None:
        return await self._collection.find_one({"_id": key})

    async def mark(self, key: str, status: str, error: str | None = None) -> None:
        update: Document = {"status": status, "retried_at": datetime.now(UTC)}
        if error is not None:
            update["error"] = error
        await self._collection.update_one({"_id": key}, {"$set": update})

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("status", 1), ("_id", 1)])

    async def count_by_stream(self, status: str = "failed") -> dict[str, int]:
        counts: dict[str, int] = {}
        async for row in self._collection.find({"status": status}, {"stream": 1}):
            counts[row["stream"]] = counts.get(row["stream"], 0) + 1
        return counts


def document_time(value: Any) -> datetime | None:
    """Datetimes read back from MongoDB, made timezone-aware (UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
