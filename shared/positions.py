"""The database owns each consumer's position in its stream.

A consumer records, with what it applied, the stream sequence applied up to and which
stream that was (its creation time). When it starts — and again every half minute,
and whenever a fetch finds its consumer gone — it compares that record with NATS:

- NATS's durable consumer is *ahead* of the database (a database that is new, wiped or
  restored from an older backup): the consumer is recreated to deliver from the
  database's position, so the missing events are applied again (idempotently);
- the stream no longer holds what the database still needs (the JetStream store was
  wiped, recreated or cut short by its limits): nothing is applied and the service is
  not ready (503 with the reason, `bdg_stream_gap` = 1) until an operator restores the
  store or adopts the stream as it now is (docs/operations.md);
- otherwise the consumer resumes where it is (redeliveries are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Recorded:
    """What the database says it applied of a stream."""

    last_sequence: int
    stream_created: datetime | None


@dataclass(frozen=True)
class StreamNow:
    first_sequence: int
    last_sequence: int
    created: datetime | None


@dataclass(frozen=True)
class Decision:
    """`start_at`: the sequence to deliver from when the consumer must be (re)created;
    `recreate`: an existing consumer must go first; `gap`: why nothing may be applied."""

    start_at: int | None = None
    recreate: bool = False
    gap: str | None = None


def decide(
    stream: str, recorded: Recorded | None, now: StreamNow, consumer_floor: int | None
) -> Decision:
    """What to do with a consumer given the database's record, the stream as NATS holds
    it, and the ack floor of the existing durable consumer (`None`: there is none)."""
    applied = recorded.last_sequence if recorded else 0
    if (
        recorded is not None
        and recorded.stream_created is not None
        and now.created is not None
        and _instant(recorded.stream_created) != _instant(now.created)
    ):
        return Decision(
            gap=f"stream {stream} was recreated ({now.created.isoformat()}); the database "
            f"applied {applied} events of the stream created {recorded.stream_created.isoformat()}"
        )
    if now.last_sequence < applied:
        return Decision(
            gap=f"stream {stream} ends at sequence {now.last_sequence}, but the database "
            f"applied up to {applied}: the JetStream store lost events"
        )
    if now.last_sequence > applied and now.first_sequence > applied + 1:
        return Decision(
            gap=f"stream {stream} starts at sequence {now.first_sequence}: events "
            f"{applied + 1}-{now.first_sequence - 1}, which the database has not applied, "
            "are gone"
        )
    if consumer_floor is None:
        return Decision(start_at=applied + 1)
    if consumer_floor > applied:
        return Decision(start_at=applied + 1, recreate=True)
    return Decision()


def _instant(moment: datetime) -> datetime:
    # Stored datetimes keep milliseconds (BSON); compare at that precision.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
