"""Audit of accepted writes: who (client id), when, what (natural key, version).

A request that writes opens a trail; the use cases note what they changed
(`note_write`), and once the response is known to be a success the trail is stored
in the owning service's `audit` collection with the client and the time. A
successful write whose route noted nothing is still recorded, by method and path.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from shared.auth.http import Caller, require_admin
from shared.edge.cursors import decode_cursor, page_cursor
from shared.mongo import Database, Document

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_trail: ContextVar[list[Document] | None] = ContextVar("audit_trail", default=None)


def note_write(action: str, key: str, version: int | None = None, **details: Any) -> None:
    """Record that this request changed (or confirmed) `key`, at `version`."""
    trail = _trail.get()
    if trail is not None:
        trail.append({"action": action, "key": key, "version": version, **details})


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._collection: AsyncCollection[Document] = db["audit"]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("at", 1), ("_id", 1)])
        await self._collection.create_index([("client_id", 1), ("at", 1)])

    async def add(self, entries: list[Document]) -> None:
        if entries:
            await self._collection.insert_many(entries)

    async def find(
        self, since: datetime | None, client_id: str | None, after: str | None, limit: int
    ) -> list[Document]:
        query: Document = {}
        if since is not None:
            query["at"] = {"$gte": since}
        if client_id is not None:
            query["client_id"] = client_id
        if after is not None:
            query["_id"] = {"$gt": after}
        return await self._collection.find(query).sort("_id", 1).limit(limit).to_list(None)


def install_audit(app: FastAPI, repository: Callable[[Request], AuditRepository]) -> None:
    """Store the trail of every successful write made by an authenticated client."""

    @app.middleware("http")
    async def audit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method not in WRITE_METHODS:
            return await call_next(request)
        trail: list[Document] = []
        token = _trail.set(trail)
        try:
            response = await call_next(request)
        finally:
            _trail.reset(token)
        principal = getattr(request.state, "principal", None)
        if principal is None or response.status_code >= 400:
            return response
        now = datetime.now(UTC)
        entries = trail or [{"action": f"{request.method} {request.url.path}", "key": None}]
        request_id = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:12]}"
        await repository(request).add(
            [
                {
                    # Time-ordered ids, so `since` and the cursor agree; within one
                    # request, in the order the writes were noted.
                    "_id": f"{request_id}-{position:06d}",
                    "at": now,
                    "client_id": principal.client_id,
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    **entry,
                }
                for position, entry in enumerate(entries)
            ]
        )
        return response


class AuditEntry(BaseModel):
    id: str
    at: datetime
    client_id: str
    method: str
    path: str
    status: int
    action: str
    key: str | None = None
    version: int | None = None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = None


def audit_router(repository: Callable[[Request], AuditRepository]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["operations"])

    @router.get("/audit", response_model=AuditPage, summary="Accepted writes (admins only)")
    async def audit_entries(
        request: Request,
        caller: Caller,
        since: datetime | None = None,
        client_id: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> AuditPage:
        """Who wrote what and when, oldest first: `since` (RFC 3339), `client_id`;
        cursor-paginated (a cursor not given out is 400 `invalid-cursor`)."""
        require_admin(caller)
        key = decode_cursor(cursor, (str,))
        after = None if key is None else str(key[0])
        rows = await repository(request).find(since, client_id, after, limit + 1)
        items = [
            AuditEntry(
                id=row["_id"],
                at=row["at"],
                client_id=row["client_id"],
                method=row["method"],
                path=row["path"],
                status=row["status"],
                action=row["action"],
                key=row.get("key"),
                version=row.get("version"),
            )
            for row in rows[:limit]
        ]
        return AuditPage(
            items=items, next_cursor=page_cursor(rows, limit, lambda row: [row["_id"]])
        )

    return router
