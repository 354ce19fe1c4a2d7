"""Candidate embedded MongoDB-compatible stores, measured on this project's own operation shapes.

For each engine, in child processes one after another (never two engines at once):
fidelity (every operation shape the repositories use, against MongoDB's answer),
speed (insert_many and five query shapes at 10,000 and 100,000 activity-shaped
documents), durability (acknowledged writes after `kill -9`) and two processes on
one store. Results go to one JSON file per engine; the tables are rendered from
whatever files are there, so engines may be run separately and reported together.

The candidates are not project dependencies: install them into venvs outside the
repository (mongoeco needs Python >= 3.13, so it gets its own):

    python3 -m venv /tmp/enginebench-venv
    /tmp/enginebench-venv/bin/pip install tinymongo==1.3.1 montydb==2.5.6 lmdb==1.8.1 \\
        mongita==1.2.0 mongomock==4.3.0 pymongo-async-mock==0.1.3 pymongo==4.20.0
    python3.13 -m venv /tmp/enginebench-venv313
    /tmp/enginebench-venv313/bin/pip install mongoeco==4.11.0 pymongo==4.20.0
    make bootstrap   # the project's .venv runs shared/embedded (engine bdg-embedded)

    # one engine, every part (about 2-15 minutes each):
    /tmp/enginebench-venv/bin/python bench/storage_engines.py --engines tinymongo-sqlite
    # all engines, 10,000 documents only, then the tables of everything measured:
    /tmp/enginebench-venv/bin/python bench/storage_engines.py --sizes 10000
    /tmp/enginebench-venv/bin/python bench/storage_engines.py --report

Each engine runs under the interpreter it needs: the one running this script, the
3.13 venv (`--python313`) or the project's `.venv` (`--project-python`).
Figures and how to read them: docs/storage-measurements.md. (montydb's LMDB storage
needs lmdb < 2: later releases refuse its re-opening of an environment.)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from storage_engines import durability, report
from storage_engines.engines import ENGINES, Engine, versions
from storage_engines.fidelity import run_checks
from storage_engines.speed import Limits, Resume, run_speed, summary, thread_hop

SCRIPT = Path(__file__).resolve()
REPOSITORY = SCRIPT.parent.parent
PARTS = ("fidelity", "speed", "durability", "multiprocess")
DEFAULT_RESULTS = Path(tempfile.gettempdir()) / "bdg-storage-engines"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="all", help=f"comma list of {', '.join(ENGINES)}")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {PARTS}")
    parser.add_argument("--sizes", default="10000,100000", help="collection sizes to query at")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--report", action="store_true", help="only print the tables")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--python313",
        default=os.environ.get("BDG_BENCH_PYTHON313", "/tmp/enginebench-venv313/bin/python"),
    )
    parser.add_argument("--project-python", default=str(REPOSITORY / ".venv" / "bin" / "python"))
    parser.add_argument(
        "--in-thread",
        action="store_true",
        help="call sync engines through asyncio.to_thread (default: directly in the coroutine)",
    )
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--op-cap", type=float, default=60.0, help="seconds; one operation")
    parser.add_argument("--series-budget", type=float, default=20.0, help="seconds per series")
    parser.add_argument("--load-budget", type=float, default=420.0, help="seconds of inserts")
    parser.add_argument("--kill-trials", type=int, default=3)
    parser.add_argument(
        "--silence-margin",
        type=float,
        default=15.0,
        help="seconds past the op cap before a silent child is taken as over it",
    )
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    # Internal: one role of one engine, in a child process.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--extra", nargs="*", default=[], help=argparse.SUPPRESS)
    return parser.parse_args()


# --- child side -------------------------------------------------------------------


async def _child(args: argparse.Namespace) -> None:
    engine = ENGINES[args.engine]
    say = durability.say
    if args.child == "versions":
        say({"versions": versions(engine)})
        return
    store = await engine.open(args.store, args.in_thread)
    try:
        if args.child == "fidelity":
            verdicts = await run_checks(store.db("fidelity"))
            say({"fidelity": {key: v.as_json() for key, v in verdicts.items()}})
        elif args.child == "speed":
            if not args.extra:
                say({"event": "thread_hop", "summary": await thread_hop()})
            limits = Limits(args.op_cap, args.series_budget, args.load_budget)
            sizes = [int(size) for size in args.sizes.split(",")]
            resume = None
            if args.extra and args.extra[0] == "resume":
                loaded, attempt, done = (
                    args.extra[1:4] if len(args.extra) > 3 else [*args.extra[1:3], ""]
                )
                resume = Resume(int(loaded), int(attempt), frozenset(filter(None, done.split(","))))
            await run_speed(store, args.store, say, sizes, limits, args.seed, resume)
        elif args.child == "writer":
            await durability.writer(store)
        elif args.child == "reader":
            acknowledged = await asyncio.to_thread(Path(args.extra[0]).read_text)
            await durability.reader(store, [key for key in acknowledged.splitlines() if key])
        elif args.child == "setup":
            await durability.setup_shared(store)
        elif args.child == "worker":
            barrier, name = Path(args.extra[0]), args.extra[1]
            await durability.worker(store, name, "B" if name == "A" else "A", barrier)
        elif args.child == "check":
            await durability.check_shared(store)
    finally:
        await store.close()


# --- parent side ------------------------------------------------------------------


class Runner:
    def __init__(self, args: argparse.Namespace, engine: Engine, interpreter: str) -> None:
        self.args = args
        self.engine = engine
        self.interpreter = interpreter

    def command(self, role: str, store: Path | None = None, *extra: Any) -> list[str]:
        command = [self.interpreter, str(SCRIPT), "--child", role, "--engine", self.engine.name]
        command += ["--sizes", self.args.sizes, "--seed", str(self.args.seed)]
        command += ["--op-cap", str(self.args.op_cap)]
        command += ["--series-budget", str(self.args.series_budget)]
        command += ["--load-budget", str(self.args.load_budget)]
        if self.args.in_thread:
            command.append("--in-thread")
        if store is not None:
            command += ["--store", str(store)]
        if extra:
            command += ["--extra", *(str(item) for item in extra)]
        return command

    def once(self, role: str, store: Path | None, timeout: float) -> tuple[dict[str, Any], str]:
        found, error = durability._run_once(self.command(role, store), timeout)
        return (found[-1] if found else {}), error

    def speed(self, store: Path) -> dict[str, Any]:
        """The speed child's events. When one operation runs past the cap, the child is
        killed, that series is recorded as over the cap, and a persistent store is
        reopened by a new child that goes on with the series not yet measured."""
        events: list[dict[str, Any]] = []
        resume: list[str] = []
        for attempt in range(6):
            new_events, killed, failed = self._speed_child(store, resume)
            events += new_events
            if failed:
                return {**_speed_result(events), "incomplete": failed}
            if killed is None:
                return _speed_result(events)
            started = [e for e in new_events if e.get("event") == "start"][-1]
            if started["measure"] == "insert_many" or not self.engine.persistent:
                return {**_speed_result(events), "incomplete": killed}
            size = started["size"]
            done = {
                e["measure"] for e in events if e.get("event") == "series" and e["size"] == size
            }
            resume = ["resume", str(size), str(attempt + 1), ",".join(sorted(done))]
            print(f"  {self.engine.name} {killed}; reopening the store to go on", flush=True)
        return {**_speed_result(events), "incomplete": "gave up after 6 restarts"}

    def _speed_child(
        self, store: Path, resume: list[str]
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """One speed child: its events, why it was killed (if), why it failed (if)."""
        process = subprocess.Popen(
            self.command("speed", store, *resume),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        events: list[dict[str, Any]] = []
        ticks: list[float] = []
        last_seen = [time.monotonic()]
        errors: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                last_seen[0] = time.monotonic()
                if not line.startswith(durability.PREFIX):
                    continue
                event = json.loads(line[len(durability.PREFIX) :])
                if event.get("event") == "tick":
                    ticks.append(event["s"])
                    continue
                if event.get("event") == "start":
                    ticks.clear()
                events.append(event)
                _show(self.engine.name, event)

        def read_errors() -> None:
            assert process.stderr is not None
            errors.extend(process.stderr)

        threads = [threading.Thread(target=read, daemon=True)]
        threads.append(threading.Thread(target=read_errors, daemon=True))
        for thread in threads:
            thread.start()
        killed = None
        # Every operation reports when it ends: silence this long is one over the cap.
        silence = self.args.op_cap + self.args.silence_margin
        while process.poll() is None:
            time.sleep(0.5)
            if time.monotonic() - last_seen[0] > silence:
                process.kill()
                started = [e for e in events if e.get("event") == "start"]
                doing = started[-1] if started else {"measure": "start-up", "size": 0}
                killed = f"one {doing['measure']} ran over {silence:.0f} s"
                if doing["measure"] != "insert_many" and started:
                    over = {"measure": doing["measure"], "size": doing["size"]}
                    over.update(summary([*ticks, silence]), over_cap=True, error=None)
                    over["problems"] = []
                    events.append({"event": "series", **over})
                    _show(self.engine.name, events[-1])
                break
        process.wait()
        for thread in threads:
            thread.join(10)
        failed = None
        if killed is None and process.returncode:
            tail = "".join(errors).strip().splitlines()[-1:] or ["?"]
            failed = f"exited {process.returncode}: {tail[0][:300]}"
            print(f"  {self.engine.name} speed run failed: {failed}", flush=True)
        return events, killed, failed


def _show(engine: str, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "series" and event["error"]:
        print(f"  {engine} {event['measure']} @ {event['size']:,}: {event['error']}", flush=True)
    elif kind == "series":
        print(
            f"  {engine} {event['measure']} @ {event['size']:,}: p50 {event['p50_ms']} ms, "
            f"p95 {event['p95_ms']} ms (n={event['n']}){' OVER CAP' if event['over_cap'] else ''}"
            f"{' PROBLEMS ' + str(event['problems']) if event['problems'] else ''}",
            flush=True,
        )
    elif kind == "insert":
        stopped = f" stopped: {event['stopped']}" if event["stopped"] else ""
        print(
            f"  {engine} insert_many to {event['loaded']:,}: {event['docs_per_s']:,} docs/s "
            f"(first 10k {event['first_10k_docs_per_s']}, "
            f"last 10k {event['last_10k_docs_per_s']}){stopped}",
            flush=True,
        )
    elif kind == "progress":
        print(f"  {engine} loaded {event['loaded']:,} in {event['seconds']:.1f} s", flush=True)
    elif kind == "indexes" and event["notes"]:
        print(f"  {engine} indexes: {event['notes']}", flush=True)


def _speed_result(events: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {"insert": {}, "series": {}, "indexes": [], "load_curve": []}
    for event in events:
        kind = event.get("event")
        if kind == "thread_hop":
            result["thread_hop"] = event["summary"]
        elif kind == "indexes":
            result["indexes"] = event["notes"]
        elif kind == "insert":
            result["insert"][str(event["size"])] = event
        elif kind == "progress":
            result["load_curve"].append({"loaded": event["loaded"], "seconds": event["seconds"]})
        elif kind == "series":
            result["series"].setdefault(str(event["size"]), {})[event["measure"]] = event
    return result


def _run_info() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def sqlite_commits_per_second(directory: Path, commits: int = 200) -> dict[str, float]:
    """What one durable commit costs on this disk: plain sqlite3, WAL, one row per commit."""
    rates = {}
    for synchronous in ("FULL", "NORMAL"):
        path = directory / f"baseline-{synchronous}.sqlite3"
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
        started = time.perf_counter()
        for i in range(commits):
            connection.execute("INSERT INTO t VALUES (?, ?)", (str(i), "x" * 1000))
        rates[synchronous] = round(commits / (time.perf_counter() - started), 1)
        connection.close()
    return rates


def _measure(args: argparse.Namespace, engine: Engine, result: dict[str, Any]) -> None:
    choices = {"default": sys.executable, "py313": args.python313, "project": args.project_python}
    interpreter = choices[engine.interpreter]
    result.update(engine=engine.name, access=engine.access, interpreter=interpreter)
    if engine.sync:
        result["access"] += " in a thread" if args.in_thread else " directly (no thread hop)"
    if not Path(interpreter).exists():
        result["skipped"] = f"interpreter {interpreter} not found"
        if engine.interpreter == "py313":
            result["skipped"] += " (mongoeco needs Python >= 3.13)"
        return
    runner = Runner(args, engine, interpreter)
    found, error = runner.once("versions", None, 120)
    if not found:
        result["skipped"] = f"cannot load: {error}"
        return
    result["versions"] = found["versions"]
    result.pop("skipped", None)
    result.setdefault("runs", {})
    parts = args.parts.split(",")
    scratch = Path(tempfile.mkdtemp(prefix=f"enginebench-{engine.name}-", dir=args.scratch))
    rng = random.Random(args.seed)
    try:
        if "fidelity" in parts:
            print(f"{engine.name}: fidelity", flush=True)
            result["runs"]["fidelity"] = _run_info()
            found, error = runner.once("fidelity", scratch / "fidelity", 600)
            result["fidelity"] = found.get("fidelity") or {
                "run": {"status": "wrong", "detail": f"the fidelity run failed: {error}"}
            }
        if "speed" in parts:
            print(f"{engine.name}: speed at {args.sizes}", flush=True)
            result["runs"]["speed"] = {
                **_run_info(),
                "sqlite_commits_per_s": sqlite_commits_per_second(scratch),
            }
            result["speed"] = {**runner.speed(scratch / "speed"), "op_cap_s": args.op_cap}
            shutil.rmtree(scratch / "speed", ignore_errors=True)
        if "durability" in parts:
            print(f"{engine.name}: kill -9", flush=True)
            result["runs"]["durability"] = {
                **_run_info(),
                "sqlite_commits_per_s": sqlite_commits_per_second(scratch),
            }
            trials = []
            for trial in range(args.kill_trials):
                work = scratch / f"kill-{trial}"
                work.mkdir()
                outcome = durability.kill_trial(runner.command, work / "store", work, rng)
                print(f"  {engine.name} kill -9 trial {trial + 1}: {outcome}", flush=True)
                trials.append(outcome)
            result["durability"] = {"trials": trials}
        if "multiprocess" in parts:
            print(f"{engine.name}: two processes", flush=True)
            result["runs"]["multiprocess"] = _run_info()
            shared = durability.two_processes(
                runner.command, scratch / "shared" / "store", scratch / "shared" / "barrier"
            )
            print(f"  {engine.name} two processes: {shared}", flush=True)
            result["multiprocess"] = shared
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    args = _arguments()
    if args.child:
        asyncio.run(_child(args))
        return
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.report:
        names = list(ENGINES) if args.engines == "all" else args.engines.split(",")
        for name in names:
            path = args.results / f"{name}.json"
            result = json.loads(path.read_text()) if path.exists() else {}
            result["machine"] = {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
            }
            result["command"] = " ".join([Path(sys.executable).name, *sys.argv])
            _measure(args, ENGINES[name], result)
            path.write_text(json.dumps(result, indent=1, default=str))
    tables = report.render(report.load(args.results, list(ENGINES)))
    print(tables)
    if args.markdown:
        args.markdown.write_text(tables + "\n")


if __name__ == "__main__":
    main()
