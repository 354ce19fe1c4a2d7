"""What a write does to a stored activity: its new state and the events it causes.

Pure functions over documents, shared by the single `PUT`, the batch, imports, the
registry handler and the pending sweep, so all of them follow the same rules:

- A new activity gets version 1: `active` (and `recorded` goes out) when every
  reference is known, `pending_reference` (no event yet) otherwise.
- The same body again changes nothing. A different body makes version + 1; it
  goes out as `revised` if the activity already counts, `recorded` if it never did.
- A pending activity is checked again when its references arrive: `active` with
  `recorded` (or `revised`), or `rejected`; one still unresolved after the timeout
  is `rejected`. Either way its version stays.
- A void makes version + 1 and `voided` (announced only if the activity counted);
  voiding again changes nothing.

`counted` says whether consumers currently count the activity: set by `recorded`
or `revised`, cleared by `voided`.
"""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.events.messages import state_event, voided_event
from services.events.reference_cache import CLUB, PROGRAMME, SITE, UNIT, split_key
from services.events.validation import FieldError, Verdict, field_error
from shared.consumer_state import document_time
from shared.contracts import CloudEvent
from shared.mongo import Document

# Fixed forever: activity ids are derived from it.
ACTIVITY_NAMESPACE = uuid.UUID("6f1d3c0e-5b7a-4a44-9d0b-4b6a1c2f0e11")


class Status(enum.StrEnum):
    ACTIVE = "active"
    PENDING = "pending_reference"
    REJECTED = "rejected"
    VOIDED = "voided"


class Outcome(enum.StrEnum):
    CREATED = "created"
    REVISED = "revised"
    UNCHANGED = "unchanged"


# Every field a write sets (`history` is appended to, `_outbox` is the relay's).
STATE_FIELDS = (
    "id",
    "source_system",
    "external_id",
    "version",
    "status",
    "activity",
    "province_id",
    "lineage",
    "pending_on",
    "pending_since",
    "rejection",
    "void",
    "counted",
    "created_at",
    "updated_at",
    "write_token",
)


def activity_id(source_system: str, external_id: str) -> str:
    """The id of an activity, derived from its natural key (the same on every instance)."""
    name = json.dumps([source_system, external_id], ensure_ascii=False)
    return str(uuid.uuid5(ACTIVITY_NAMESPACE, name))


def storage_key(source_system: str, external_id: str) -> str:
    """The document's `_id`: the natural key itself (`source_system` has no `/`).

    Unique by construction, so concurrent creators of one key meet on the `_id`
    index; and one province's records sort together, so a batch's documents form
    a narrow `_id` range (the outbox relay marks sent events per range).
    """
    return f"{source_system}/{external_id}"


class VoidedActivityError(Exception):
    """A changed body was sent for a voided activity."""


@dataclass
class Change:
    outcome: Outcome
    document: Document
    # The state this change was decided on (None: the document is new).
    previous: Document | None
    history: list[Document] = field(default_factory=list)
    events: list[CloudEvent] = field(default_factory=list)


def _token() -> str:
    return uuid.uuid4().hex


def _snapshot(document: Document) -> Document:
    return {
        "version": document["version"],
        "status": document["status"],
        "activity": document["activity"],
        "recorded_at": document["updated_at"],
    }


def _state(document: Document) -> Document:
    return {"_id": document["_id"], **{name: document.get(name) for name in STATE_FIELDS}}


def _placed(document: Document, verdict: Verdict, unit_id: str) -> None:
    """Where the activity lies; a pending one keeps the province it counts in."""
    document["province_id"] = verdict.province_id or (
        document.get("province_id") if document.get("counted") else None
    )
    document["lineage"] = verdict.lineage or [unit_id]


def _activate_or_wait(document: Document, verdict: Verdict, now: datetime) -> list[CloudEvent]:
    if verdict.valid:
        first = not document.get("counted")
        document.update(status=Status.ACTIVE.value, pending_on=[], pending_since=None)
        document["counted"] = True
        return [state_event(document, first=first)]
    document.update(status=Status.PENDING.value, pending_on=list(verdict.missing))
    document["pending_since"] = now
    return []


def decide_put(
    current: Document | None,
    key: tuple[str, str],
    body: Document,
    verdict: Verdict,
    now: datetime,
) -> Change:
    """Record or revise; `verdict` has no errors (those are refused before)."""
    source_system, external_id = key
    if current is None:
        document: Document = {
            "_id": storage_key(source_system, external_id),
            "id": activity_id(source_system, external_id),
            "source_system": source_system,
            "external_id": external_id,
            "version": 1,
            "activity": body,
            "rejection": None,
            "void": None,
            "counted": False,
            "created_at": now,
            "updated_at": now,
            "write_token": _token(),
        }
        _placed(document, verdict, body["unit_id"])
        events = _activate_or_wait(document, verdict, now)
        return Change(Outcome.CREATED, document, None, [], events)
    if current["status"] == Status.VOIDED and current["activity"] != body:
        raise VoidedActivityError(
            f"activity {current['id']} ({source_system}/{external_id}) was voided "
            f"({current['void']['reason']}); a voided activity cannot be revised: "
            "send it under a new external_id"
        )
    if current["activity"] == body and current["status"] != Status.REJECTED:
        return Change(Outcome.UNCHANGED, current, current)
    document = _state(current)
    document.update(
        activity=body,
        version=current["version"] + 1,
        rejection=None,
        updated_at=now,
        write_token=_token(),
    )
    _placed(document, verdict, body["unit_id"])
    events = _activate_or_wait(document, verdict, now)
    return Change(Outcome.REVISED, document, current, [_snapshot(current)], events)


def decide_void(current: Document, reason: str, now: datetime) -> Change:
    if current["status"] == Status.VOIDED:
        return Change(Outcome.UNCHANGED, current, current)
    document = _state(current)
    document.update(
        version=current["version"] + 1,
        status=Status.VOIDED.value,
        void={"reason": reason, "at": now},
        pending_on=[],
        pending_since=None,
        updated_at=now,
        write_token=_token(),
    )
    events = [voided_event(document, reason)] if current.get("counted") else []
    document["counted"] = False
    return Change(Outcome.REVISED, document, current, [_snapshot(current)], events)


def decide_recheck(
    current: Document, verdict: Verdict, now: datetime, timeout: timedelta
) -> Change | None:
    """A pending activity seen again: resolved, still waiting, or rejected."""
    document = _state(current)
    document.update(updated_at=now, write_token=_token())
    if verdict.valid:
        _placed(document, verdict, current["activity"]["unit_id"])
        events = _activate_or_wait(document, verdict, now)
        return Change(Outcome.REVISED, document, current, [], events)
    errors = verdict.errors
    if not errors:
        since = document_time(current.get("pending_since")) or now
        if now - since < timeout:
            if sorted(verdict.missing) == sorted(current.get("pending_on") or []):
                return None
            document["pending_on"] = list(verdict.missing)
            return Change(Outcome.REVISED, document, current)
        errors = [_unresolved(current["activity"], key, since, timeout) for key in verdict.missing]
    detail = verdict.detail() if verdict.errors else Verdict(errors=errors).detail()
    document.update(
        status=Status.REJECTED.value,
        rejection={"detail": detail, "errors": errors, "at": now},
        pending_on=[],
        pending_since=None,
    )
    events = [voided_event(document, f"rejected: {detail}")] if current.get("counted") else []
    document["counted"] = False
    return Change(Outcome.REVISED, document, current, [], events)


def _unresolved(body: Document, key: str, since: datetime, timeout: timedelta) -> FieldError:
    kind, ref_id = split_key(key)
    field_name = {UNIT: "unit_id", CLUB: "club_id", PROGRAMME: "programme"}.get(kind, "site_id")
    loc: list[str | int] = [field_name]
    if kind == SITE and body.get("site_id") != ref_id:
        partners: list[Any] = body.get("partner_site_ids") or []
        position = partners.index(ref_id) if ref_id in partners else 0
        loc = ["partner_site_ids", position]
    return field_error(
        loc,
        f"{kind} {ref_id} is still unknown to the registry {_duration(timeout)} after "
        f"the activity was written ({since.isoformat(timespec='seconds')})",
    )


def _duration(timeout: timedelta) -> str:
    seconds = timeout.total_seconds()
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return f"{seconds:g} s"
