"""The store work of new activities, in this process, by phase.

    .venv/bin/python bench/store_bench.py [--batches N] [--checkpoint-pages P]

Runs what the events and reporting services ask of their stores for each batch of
1,000 new activities, on the embedded store in a temporary directory, without HTTP,
NATS or the services' other work. Events: the activities inserted with their outbox
(`ActivityRepository`), one audit entry each (`AuditRepository`), and the outbox
relay's pass (reading the pending documents, marking their events published; the
publisher does nothing). Reporting: its projection applying the batch's `recorded`
events (facts and cells, as its consumer does). Prints, for each 10 batches, the CPU
time per 1,000 activities of each phase, and the store files' size at the end: the
stores' part of `bench/ingest_bench.py`'s figures, measured without the noise of the
other processes (with the services' garbage-collector settings).
`--checkpoint-pages` replaces the store's checkpoint interval (to compare; 10,000
unless told).
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

from bench.ingest_bench import activity, registry_events  # noqa: E402
from services.events.items import ACTIVITY_ADAPTER, body_of  # noqa: E402
from services.events.repository import ActivityRepository  # noqa: E402
from services.events.transitions import decide_put  # noqa: E402
from services.events.validation import Verdict  # noqa: E402
from services.reporting.projection import Projection  # noqa: E402
from services.reporting.repository import ReadModels  # noqa: E402
from shared.audit import AuditRepository  # noqa: E402
from shared.collector import tune_collector  # noqa: E402
from shared.embedded import EmbeddedClient, engine  # noqa: E402
from shared.mongo import Database  # noqa: E402
from shared.outbox import OutboxRelay, ensure_outbox_index  # noqa: E402

LINEAGE = ["vn63:186", "vn63:20", "vn"]
BATCH = 1000
PHASES = ("insert", "audit", "relay", "project")


def body(n: int) -> dict[str, Any]:
    """The n-th activity `bench/ingest_bench.py` posts (its dates cycle through a year),
    validated and stored as the events service stores it."""
    fields = {
        name: value
        for name, value in activity(n).items()
        if name not in ("source_system", "external_id")
    }
    return body_of(ACTIVITY_ADAPTER.validate_python(fields))


class Discard:
    async def publish(self, event: dict[str, Any]) -> None:
        return None


async def run(directory: Path, batches: int) -> None:
    client = EmbeddedClient(directory)
    projection = Projection(ReadModels(cast(Database, client["reporting"]), "g1"))
    await projection.load()
    await projection.apply_registry(registry_events())
    database = cast(AsyncDatabase[dict[str, Any]], client["events"])
    activities = ActivityRepository(database)
    await activities.ensure_indexes()
    audit = AuditRepository(database)
    await audit.ensure_indexes()
    collection = database["activities"]
    await ensure_outbox_index(collection)
    relay = OutboxRelay("events", Discard(), [collection])
    spent = dict.fromkeys(PHASES, 0.0)
    print(
        "CPU ms per 1,000 activities, each 10 batches; events:",
        " / ".join(PHASES[:3]),
        "= all; reporting:",
        PHASES[3],
    )
    for number in range(batches):
        now = datetime.now(UTC)
        changes = []
        for n in range(number * BATCH, (number + 1) * BATCH):
            fields = body(n)
            lineage = [fields["unit_id"], *LINEAGE]
            verdict = Verdict(province_id="vn63:20", lineage=lineage, kind="ok")
            changes.append(decide_put(None, ("bench", f"HL-{n:07d}"), fields, verdict, now))
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
        await projection.apply_activities([e for change in changes for e in change.events])
        projected = time.process_time()
        times = (started, inserted, audited, relayed, projected)
        for phase, before, after in zip(PHASES, times, times[1:], strict=False):
            spent[phase] += after - before
        if (number + 1) % 10 == 0:
            each = [spent[phase] / 10 * 1000 for phase in PHASES]
            first = (number + 1 - 10) * BATCH
            print(
                f"  {first:>7,} to {first + 10 * BATCH:>7,}: "
                + " / ".join(f"{ms:4.0f}" for ms in each[:3])
                + f" = {sum(each[:3]):4.0f}; {each[3]:4.0f}"
            )
            spent = dict.fromkeys(PHASES, 0.0)
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--batches", type=int, default=30, help="batches of 1,000 (30)")
    parser.add_argument("--checkpoint-pages", type=int, help="the store's checkpoint interval")
    arguments = parser.parse_args()
    tune_collector()  # as the services run (shared/app.py)
    if arguments.checkpoint_pages:
        engine._CHECKPOINT_PAGES = arguments.checkpoint_pages
    directory = Path(tempfile.mkdtemp(prefix="bdg-store-bench-"))
    try:
        asyncio.run(run(directory, arguments.batches))
        size = sum(path.stat().st_size for path in directory.iterdir())
        print(f"store files at the end: {size / 1e6:.0f} MB")
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
