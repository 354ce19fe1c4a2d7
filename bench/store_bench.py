"""The events service's store work for new activities, in this process, by phase.

    .venv/bin/python bench/store_bench.py [--batches N]

Runs what the events service asks of its store for each batch of 1,000 new activities,
on the embedded store in a temporary directory, without HTTP, NATS or the other
services: the activities inserted with their outbox (`ActivityRepository`), one audit
entry each (`AuditRepository`), and the outbox relay's pass (reading the pending
documents, marking their events published; the publisher does nothing). Prints, for
each 10 batches, the CPU time per 1,000 activities of each phase and in all, and the
store file's size at the end: the store's part of `bench/ingest_bench.py`'s figures,
measured without the noise of the other processes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymongo.asynchronous.database import AsyncDatabase  # noqa: E402

from services.events.repository import ActivityRepository  # noqa: E402
from services.events.transitions import decide_put  # noqa: E402
from services.events.validation import Verdict  # noqa: E402
from shared.audit import AuditRepository  # noqa: E402
from shared.embedded import EmbeddedClient  # noqa: E402
from shared.outbox import OutboxRelay, ensure_outbox_index  # noqa: E402

COMMUNES = ["vn63:06433", "vn63:06436", "vn63:06415", "vn63:06418", "vn63:06427"]
LINEAGE = ["vn63:186", "vn63:20", "vn"]
BATCH = 1000
PHASES = ("insert", "audit", "relay")


def body(n: int) -> dict[str, Any]:
    """An activity as `bench/ingest_bench.py` posts it (its dates cycle through a year)."""
    day = f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}"
    return {
        "type": "communication_session",
        "programme": "P8",
        "unit_id": COMMUNES[n % len(COMMUNES)],
        "title": "Tuyên truyền phòng, chống bạo lực học đường",
        "organiser": "CLB Thủ lĩnh của sự thay đổi",
        "started_on": day,
        "ended_on": day,
        "participants": {"female": 31, "male": 24, "ethnic_minority": 40},
        "roles": {"student": 50, "teacher": 5},
        "topics": ["school_violence", "gender_equality"],
    }


class Discard:
    async def publish(self, event: dict[str, Any]) -> None:
        return None


async def run(directory: Path, batches: int) -> None:
    client = EmbeddedClient(directory)
    database = cast(AsyncDatabase[dict[str, Any]], client["events"])
    activities = ActivityRepository(database)
    await activities.ensure_indexes()
    audit = AuditRepository(database)
    await audit.ensure_indexes()
    collection = database["activities"]
    await ensure_outbox_index(collection)
    relay = OutboxRelay("events", Discard(), [collection])
    spent = dict.fromkeys(PHASES, 0.0)
    print("CPU ms per 1,000 activities, each 10 batches:", " / ".join(PHASES), "= all")
    for number in range(batches):
        now = datetime.now(UTC)
        changes = []
        for n in range(number * BATCH, (number + 1) * BATCH):
            unit = COMMUNES[n % len(COMMUNES)]
            verdict = Verdict(province_id="vn63:20", lineage=[unit, *LINEAGE], kind="ok")
            changes.append(decide_put(None, ("bench", f"HL-{n:07d}"), body(n), verdict, now))
        started = time.process_time()
        await activities.insert_many(changes)
        inserted = time.process_time()
        await audit.add(
            [
                {
                    "_id": f"{now:%Y%m%dT%H%M%S%f}-{number:06d}-{position:06d}",
                    "at": now,
                    "client_id": "bench",
                    "method": "POST",
                    "path": "/v1/activities:batch",
                    "status": 200,
                    "action": "created",
                    "key": change.document["id"],
                    "version": 1,
                }
                for position, change in enumerate(changes)
            ]
        )
        audited = time.process_time()
        await relay.flush()
        relayed = time.process_time()
        for phase, seconds in zip(
            PHASES, (inserted - started, audited - inserted, relayed - audited), strict=True
        ):
            spent[phase] += seconds
        if (number + 1) % 10 == 0:
            each = [spent[phase] / 10 * 1000 for phase in PHASES]
            first = (number + 1 - 10) * BATCH
            print(
                f"  {first:>7,} to {first + 10 * BATCH:>7,}: "
                + " / ".join(f"{ms:4.0f}" for ms in each)
                + f" = {sum(each):4.0f}"
            )
            spent = dict.fromkeys(PHASES, 0.0)
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 (30)")
    directory = Path(tempfile.mkdtemp(prefix="bdg-store-bench-"))
    try:
        asyncio.run(run(directory, parser.parse_args().batches))
        size = sum(path.stat().st_size for path in directory.iterdir())
        print(f"store file at the end: {size / 1e6:.0f} MB")
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
