"""Local copies of another service's entities, kept at their highest revision.

Consumers apply registry events through `apply_latest`: one `$in` read of the
revisions held, one `insert_many` for unseen keys, and a revision-guarded update
for each key that moved forward. A repeated, late or out-of-order event carries a
revision not above the one held and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared.mongo import DUPLICATE_KEY, Document
from shared.versioned import REVISION_FIELD


async def apply_latest(
    collection: AsyncCollection[Document], documents: Sequence[Document]
) -> list[Document]:
    """Keep, per `_id`, the document with the highest `revision`; return those that changed.

    The revisions stored are read from the collection (one read by `_id` per batch),
    never taken from a memory copy: memory may be ahead of the collection (a replica's
    follower applies the same events), and a write skipped because memory had it would
    be missing after a restart. The writes stay revision-guarded, so concurrent
    appliers keep the highest revision.
    """
    newest: dict[Any, Document] = {}
    for document in documents:
        kept = newest.get(document["_id"])
        if kept is None or document[REVISION_FIELD] > kept[REVISION_FIELD]:
            newest[document["_id"]] = document
    if not newest:
        return []
    held_revisions = {
        row["_id"]: row.get(REVISION_FIELD, 0)
        async for row in collection.find(_keys_filter(list(newest)), {REVISION_FIELD: 1})
    }
    inserts = [doc for key, doc in newest.items() if key not in held_revisions]
    updates = [
        doc
        for key, doc in newest.items()
        if key in held_revisions and doc[REVISION_FIELD] > held_revisions[key]
    ]
    changed: list[Document] = []
    if inserts:
        try:
            await collection.insert_many(inserts, ordered=False)
            changed.extend(inserts)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise  # only "already there" is expected; anything else is a failure
            # Another applier inserted some of them first: update those instead.
            lost = {error["op"]["_id"] for error in errors}
            changed.extend(doc for doc in inserts if doc["_id"] not in lost)
            updates.extend(doc for doc in inserts if doc["_id"] in lost)
    for doc in updates:
        result = await collection.replace_one(
            {"_id": doc["_id"], REVISION_FIELD: {"$lt": doc[REVISION_FIELD]}}, doc
        )
        if result.modified_count:
            changed.append(doc)
    return changed


def _keys_filter(keys: list[Any]) -> Document:
    return {"_id": {"$in": keys}}
