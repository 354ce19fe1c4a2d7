"""The embedded store keeps every acknowledged write, and processes share it safely.

A writer process inserts documents one at a time and prints each `_id` once the
insert has returned; it is killed with SIGKILL in the middle. Every printed `_id` must
be there when the store is opened again. Two processes doing revision-guarded
compare-and-set increments on one document must not lose an increment.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from shared.embedded import EmbeddedClient

ROOT = Path(__file__).resolve().parents[2]

_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from shared.embedded import EmbeddedClient

    async def main() -> None:
        client = EmbeddedClient(Path(sys.argv[1]))
        activities = client["events"]["activities"]
        await activities.create_index("unit_id")
        number = 0
        while True:
            await activities.insert_one({"_id": f"a{number:06d}", "unit_id": "vn63:06433"})
            print(f"a{number:06d}", flush=True)
            number += 1

    asyncio.run(main())
    """
)

_INCREMENTER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from shared.embedded import EmbeddedClient

    async def main() -> None:
        counters = EmbeddedClient(Path(sys.argv[1]))["registry"]["counters"]
        done = 0
        while done < int(sys.argv[2]):
            current = await counters.find_one({"_id": "c"})
            result = await counters.update_one(
                {"_id": "c", "revision": current["revision"]},
                {"$set": {"revision": current["revision"] + 1}},
            )
            done += result.modified_count
        print(done, flush=True)

    asyncio.run(main())
    """
)


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


async def _ids(directory: Path) -> set[str]:
    client = EmbeddedClient(directory)
    try:
        found = await client["events"]["activities"].find({}, {"_id": 1}).to_list(None)
        return {document["_id"] for document in found}
    finally:
        await client.close()


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    writer = _python(_WRITER, str(tmp_path))
    assert writer.stdout is not None
    acknowledged = [writer.stdout.readline().strip() for _ in range(300)]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    writer.stdout.close()
    stored = asyncio.run(_ids(tmp_path))
    assert set(acknowledged) <= stored
    # and the store opens and takes writes again, its index intact
    client = EmbeddedClient(tmp_path)

    async def reopen() -> int:
        activities = client["events"]["activities"]
        await activities.insert_one({"_id": "after", "unit_id": "vn63:06433"})
        count = await activities.count_documents({"unit_id": "vn63:06433"})
        await client.close()
        return count

    assert asyncio.run(reopen()) == len(stored) + 1


def test_two_processes_never_lose_a_compare_and_set(tmp_path: Path) -> None:
    async def seed() -> None:
        client = EmbeddedClient(tmp_path)
        await client["registry"]["counters"].insert_one({"_id": "c", "revision": 0})
        await client.close()

    asyncio.run(seed())
    each = 150
    workers = [_python(_INCREMENTER, str(tmp_path), str(each)) for _ in range(2)]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [int(output) for output in outputs] == [each, each]

    async def final() -> int:
        client = EmbeddedClient(tmp_path)
        document = await client["registry"]["counters"].find_one({"_id": "c"})
        await client.close()
        assert document is not None
        return int(document["revision"])

    assert asyncio.run(final()) == 2 * each
