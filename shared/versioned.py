"""Revisioned documents whose every change stores its events in the same write.

The one mechanism behind every idempotent `PUT`: read the current state, compare,
and either do nothing (no event), insert revision 1, or replace with revision + 1
guarded by the revision read (compare-and-set), the events riding along in the
document's outbox. A concurrent writer makes the guarded write miss, and the whole
decision is taken again on fresh state; two creators of one key meet on the
`_id` unique index, never on a check-then-insert race.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts import CloudEvent
from shared.mongo import Document
from shared.outbox import OUTBOX_FIELD, outbox_fields, with_outbox

REVISION_FIELD = "revision"

EventsFor = Callable[[int, Document | None], Sequence[CloudEvent]]
_MAX_ATTEMPTS = 20


class Outcome(enum.StrEnum):
    CREATED = "created"
    CHANGED = "revised"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Written:
    outcome: Outcome
    revision: int
    document: Document


class ConcurrentWriteError(RuntimeError):
    """The same key kept changing under us; the caller may retry later."""


def state_of(document: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: document.get(name) for name in fields}


async def put_revisioned(
    collection: AsyncCollection[Document],
    key: Any,
    state: Mapping[str, Any],
    events_for: EventsFor,
    *,
    extra_on_insert: Mapping[str, Any] | None = None,
    extra_on_change: Mapping[str, Any] | None = None,
) -> Written:
    """Store `state` under `key` unless it is already there.

    `state` holds the fields compared to decide whether anything changed;
    `events_for(revision, previous)` builds the events of the new revision.
    """
    for _ in range(_MAX_ATTEMPTS):
        current = await collection.find_one({"_id": key}, {OUTBOX_FIELD: 0})
        if current is not None and state_of(current, list(state)) == dict(state):
            return Written(Outcome.UNCHANGED, int(current[REVISION_FIELD]), current)
        if current is None:
            document: Document = {
                "_id": key,
                **state,
                **(extra_on_insert or {}),
                **(extra_on_change or {}),
                REVISION_FIELD: 1,
            }
            events = events_for(1, None)
            try:
                await collection.insert_one({**document, **outbox_fields(events)})
            except DuplicateKeyError:
                continue
            return Written(Outcome.CREATED, 1, document)
        revision = int(current[REVISION_FIELD]) + 1
        events = events_for(revision, current)
        changes = {**state, **(extra_on_change or {}), REVISION_FIELD: revision}
        result = await collection.update_one(
            {"_id": key, REVISION_FIELD: current[REVISION_FIELD]},
            with_outbox({"$set": changes}, events),
        )
        if result.modified_count == 1:
            return Written(Outcome.CHANGED, revision, {**current, **changes})
    raise ConcurrentWriteError(f"{key!r} changed {_MAX_ATTEMPTS} times while being written")
