"""Does an acknowledged write survive `kill -9`, and can two processes share one store?

Both run the engine in child processes (`Child` runs this script again with a role):

- kill -9: a writer inserts documents one by one and prints each key once its
  `insert_one` has returned (and every fifth write, a `$set` of a counter); the parent
  sends SIGKILL at a random moment, reads every acknowledgement the writer printed,
  then a new process opens the store and counts the acknowledged writes it cannot find.
- two processes: both open the same store at once and, released together, each
  inserts its own documents, increments one shared document by compare-and-set on its
  `revision` (the project's guarded write, retried on a miss), and races the other to
  create the same keys (the `_id` unique index must let exactly one win). Then each
  counts the other's documents, and a third process counts everything.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage_engines.speed import activity

PREFIX = "@@ "
WORKER_WRITES = 100


def say(payload: dict[str, Any]) -> None:
    sys.stdout.write(PREFIX + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def _is_duplicate(error: BaseException) -> bool:
    return getattr(error, "code", None) == 11000 or "DuplicateKey" in type(error).__name__


# --- child roles --------------------------------------------------------------


async def writer(store: Any) -> None:
    coll = store.db("bench")["durable"]
    await coll.insert_one({"_id": "counter", "n": -1})
    say({"ready": True})
    for i in range(10_000_000):
        document = activity(i)
        await coll.insert_one(document)
        sys.stdout.write(f"I {document['_id']}\n")
        if i % 5 == 0:
            await coll.update_one({"_id": "counter"}, {"$set": {"n": i}})
            sys.stdout.write(f"U {i}\n")
        sys.stdout.flush()


async def reader(store: Any, keys: list[str]) -> None:
    coll = store.db("bench")["durable"]
    present = 0
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        present += len(await coll.find({"_id": {"$in": chunk}}).to_list(None))
    counter = await coll.find_one({"_id": "counter"})
    say(
        {
            "present": present,
            "counter": None if counter is None else counter.get("n"),
            "documents": await coll.count_documents({}),
        }
    )


async def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def worker(store: Any, name: str, other: str, barrier: Path) -> None:
    coll = store.db("bench")["shared"]
    say({"ready": True})
    if not await _wait_for(barrier / "go", 60):
        say({"error": "never released"})
        return
    counts = {"inserted": 0, "cas_won": 0, "cas_missed": 0, "race_won": 0, "race_lost": 0}
    errors: list[str] = []

    def note(error: BaseException) -> None:
        if len(errors) < 3:
            errors.append(f"{type(error).__name__}: {error}"[:200])

    for j in range(WORKER_WRITES):
        try:
            await coll.insert_one({"_id": f"{name}-{j}", "w": name})
            counts["inserted"] += 1
        except Exception as error:
            note(error)
        for _ in range(100):
            try:
                current = await coll.find_one({"_id": "shared"})
                revision = current["revision"]
                result = await coll.update_one(
                    {"_id": "shared", "revision": revision},
                    {
                        "$set": {"revision": revision + 1},
                        "$push": {"_outbox": {"$each": [{"id": f"{name}-{j}"}]}},
                    },
                )
            except Exception as error:
                note(error)
                continue
            if result.modified_count == 1:
                counts["cas_won"] += 1
                break
            counts["cas_missed"] += 1
        try:
            await coll.insert_one({"_id": f"race-{j}", "by": name})
            counts["race_won"] += 1
        except Exception as error:
            if _is_duplicate(error):
                counts["race_lost"] += 1
            else:
                note(error)
    (barrier / f"done-{name}").touch()
    await _wait_for(barrier / f"done-{other}", 120)
    seen_other = await coll.count_documents({"w": other})
    say({"counts": counts, "errors": errors, "seen_other": seen_other})


async def setup_shared(store: Any) -> None:
    await store.db("bench")["shared"].insert_one({"_id": "shared", "revision": 0, "_outbox": []})
    say({"ready": True})


async def check_shared(store: Any) -> None:
    coll = store.db("bench")["shared"]
    shared = await coll.find_one({"_id": "shared"})
    race = await coll.find({"by": {"$in": ["A", "B"]}}).to_list(None)
    say(
        {
            "A": await coll.count_documents({"w": "A"}),
            "B": await coll.count_documents({"w": "B"}),
            "revision": None if shared is None else shared.get("revision"),
            "outbox": None if shared is None else len(shared.get("_outbox", [])),
            "race_documents": len(race),
        }
    )


# --- parent side ----------------------------------------------------------------


Command = Callable[..., list[str]]


def _payloads(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len(PREFIX) :]) for line in text.splitlines() if line.startswith(PREFIX)
    ]


def _run_once(command: list[str], timeout: float) -> tuple[list[dict[str, Any]], str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"no answer within {timeout:.0f} s"
    tail = done.stderr.strip().splitlines()[-1:] if done.returncode else []
    return _payloads(done.stdout), (tail[0][:300] if tail else "")


def kill_trial(command: Command, store: Path, work: Path, rng: random.Random) -> dict[str, Any]:
    """One writer killed with SIGKILL at a random moment, then a reader in a new process."""
    errors = work / "writer.stderr"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            command("writer", store), stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    assert process.stdout is not None
    ready_line = process.stdout.readline()
    if not ready_line.startswith(PREFIX):
        process.kill()
        process.wait()
        tail = errors.read_text().strip().splitlines() or ["exited without a word"]
        return {"error": "writer did not start: " + tail[-1][:300]}
    lines: list[str] = []
    # Drained as they come, so the writer never waits on a full pipe.
    drain = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    drain.start()
    delay = rng.uniform(0.5, 3.0)
    started = time.monotonic()
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # Everything printed before the kill is an acknowledgement, read or not yet read.
    drain.join(10)
    seconds = time.monotonic() - started
    rest = "".join(lines)
    keys = [line[2:] for line in rest.splitlines() if line.startswith("I ")]
    updates = [int(line[2:]) for line in rest.splitlines() if line.startswith("U ")]
    acknowledged = work / "acknowledged.txt"
    acknowledged.write_text("\n".join(keys))
    found, error = _run_once(command("reader", store, acknowledged), 120)
    if not found:
        return {"acknowledged": len(keys), "error": "reopen failed: " + error}
    answer = found[-1]
    last_update = updates[-1] if updates else None
    counter = answer.get("counter")
    return {
        "killed_after_s": round(delay, 2),
        "acknowledged": len(keys),
        "acks_per_s": round(len(keys) / seconds, 1),
        "missing": len(keys) - int(answer["present"]),
        "last_counter_acknowledged": last_update,
        "counter_after": counter,
        "counter_lost": last_update is not None and (counter is None or counter < last_update),
    }


def two_processes(command: Command, store: Path, barrier: Path) -> dict[str, Any]:
    store.parent.mkdir(parents=True, exist_ok=True)
    barrier.mkdir(parents=True, exist_ok=True)
    found, error = _run_once(command("setup", store), 120)
    if not found:
        return {"error": "setup failed: " + error}
    workers = {
        name: subprocess.Popen(
            command("worker", store, barrier, name),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    }
    opened: dict[str, str] = {}
    for name, process in workers.items():
        assert process.stdout is not None
        line = process.stdout.readline()
        opened[name] = "yes" if line.startswith(PREFIX) else "no"
    (barrier / "go").touch()
    reports: dict[str, Any] = {}
    for name, process in workers.items():
        try:
            out, err = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            reports[name] = {"error": "no answer within 300 s"}
            continue
        payloads = _payloads(out)
        if payloads:
            reports[name] = payloads[-1]
        else:
            tail = err.strip().splitlines()[-1:] or ["exited without a report"]
            reports[name] = {"error": tail[0][:300]}
            opened[name] = "no: " + tail[0][:200] if opened[name] == "no" else opened[name]
    final, error = _run_once(command("check", store), 120)
    return {
        "opened": opened,
        "workers": reports,
        "final": final[-1] if final else {"error": error},
        "writes_per_worker": WORKER_WRITES,
    }
