"""Markdown tables from the per-engine result files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from storage_engines.engines import ENGINES
from storage_engines.fidelity import CHECKS
from storage_engines.speed import QUERIES

MEASURE_TITLES = {
    "find_one_id": "find_one by _id",
    "find_in_1000": "find _id $in 1,000",
    "update_guarded": "revision-guarded update_one",
    "province_range_100": "equality + range, 100 docs",
    "region_group_1000": "$match + $group over 1,000",
}


def load(results: Path, order: list[str]) -> list[dict[str, Any]]:
    """Result files in the engines' order; an engine measured in several versions (kept
    as `<engine>@<version>.json`) is labelled with its version."""
    found = {path.stem: json.loads(path.read_text()) for path in results.glob("*.json")}
    loaded = sorted(
        found.values(),
        key=lambda r: (order.index(r["engine"]) if r["engine"] in order else len(order),
                       r.get("runs", {}).get("speed", {}).get("date", "")),
    )  # fmt: skip
    engines = [r["engine"] for r in loaded]
    for result in loaded:
        result["label"] = result["engine"]
        if engines.count(result["engine"]) > 1:
            versions = result.get("versions") or {}
            result["label"] += f" {versions.get(_MAIN_DISTRIBUTION.get(result['engine'], ''), '')}"
    return loaded


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def versions_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for result in results:
        versions = result.get("versions") or {}
        named = ", ".join(f"{k} {v}" for k, v in versions.items() if k not in ("python", "sqlite"))
        rows.append(
            [
                result["label"],
                named or result.get("skipped", "—"),
                f"{versions.get('python', '?')} (SQLite {versions.get('sqlite', '?')})",
                result.get("access", "—"),
            ]
        )
    return _table(["engine", "versions", "Python", "reached through"], rows)


def fidelity_table(results: list[dict[str, Any]]) -> list[str]:
    engines = [r for r in results if r.get("fidelity")]
    header = ["shape (where the project uses it)", *(r["label"] for r in engines)]
    rows = []
    for item in CHECKS:
        cells = [f"`{item.key}`: {item.shape} — {item.used_by}"]
        for result in engines:
            verdict = result["fidelity"].get(item.key)
            cells.append(verdict["status"] if verdict else "—")
        rows.append(cells)
    totals = ["**ok / wrong / unsupported**"]
    for result in engines:
        statuses = [v["status"] for v in result["fidelity"].values()]
        totals.append("/".join(str(statuses.count(s)) for s in ("ok", "wrong", "unsupported")))
    rows.append(totals)
    lines = _table(header, rows)
    for result in engines:
        notes = [
            f"- `{key}` {verdict['status']}: {verdict['detail']}"
            for key, verdict in result["fidelity"].items()
            if verdict["status"] != "ok"
        ]
        if notes:
            lines += ["", f"{result['label']}:", *notes]
    return lines


def _series(result: dict[str, Any], size: str, measure: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        result.get("speed", {}).get("series", {}).get(size, {}).get(measure)
    )
    return found


def insert_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for result in results:
        speed = result.get("speed")
        if not speed or not speed.get("insert"):
            continue
        inserts = speed["insert"]
        last = inserts[max(inserts, key=int)]
        first, final = last.get("first_10k_docs_per_s"), last.get("last_10k_docs_per_s")
        ratio = f"{final / first:.0%}" if first and final else "—"
        stopped = last.get("stopped")
        rows.append(
            [
                result["label"],
                f"{last['loaded']:,}",
                _number(last["docs_per_s"]) + (" (stopped)" if stopped else ""),
                _number(first),
                _number(final),
                ratio,
                f"{last['store_mb']:,.0f}",
                f"{last['rss_mb']:,.0f}",
                stopped or speed.get("incomplete") or "",
            ]
        )
    return _table(
        [
            "engine",
            "documents",
            "insert_many docs/s",
            "first 10k docs/s",
            "last 10k docs/s",
            "last / first",
            "store MB",
            "peak RSS MB",
            "note",
        ],
        rows,
    )


def load_curve_table(results: list[dict[str, Any]]) -> list[str]:
    """insert_many docs/s per 10,000 documents, from the load's progress marks."""
    rows = []
    width = 0
    for result in results:
        marks = [(0, 0.0)] + [
            (mark["loaded"], mark["seconds"])
            for mark in result.get("speed", {}).get("load_curve", [])
            if mark["loaded"] % 10_000 == 0
        ]
        rates = [
            _number((n1 - n0) / (s1 - s0))
            for (n0, s0), (n1, s1) in itertools.pairwise(marks)
            if s1 > s0
        ]
        if rates:
            width = max(width, len(rates))
            rows.append([result["label"], *rates])
    header = ["engine"] + [f"{10 * i}-{10 * (i + 1)}k" for i in range(width)]
    return _table(header, [row + ["—"] * (width + 1 - len(row)) for row in rows]) if rows else []


def latency_table(results: list[dict[str, Any]]) -> list[str]:
    header = ["engine", "documents"] + [f"{MEASURE_TITLES[m]} p50 / p95 ms" for m, _, _ in QUERIES]
    rows = []
    for result in results:
        series = result.get("speed", {}).get("series", {})
        for size in sorted(series, key=int):
            cells = [result["label"], f"{int(size):,}"]
            for measure, _, _ in QUERIES:
                found = _series(result, size, measure)
                if found is None:
                    cells.append("not reached")
                    continue
                if found.get("error"):
                    cells.append("refused: " + found["error"].split(": ", 1)[-1][:70])
                    continue
                text = f"{_ms(found['p50_ms'])} / {_ms(found['p95_ms'])}"
                if found["over_cap"]:
                    text = f"> {result['speed'].get('op_cap_s', 60):.0f} s"
                if found["problems"]:
                    text += " (wrong answer: " + found["problems"][0] + ")"
                cells.append(text + f" (n={found['n']})")
            rows.append(cells)
    return _table(header, rows)


def durability_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for result in results:
        durable = result.get("durability")
        shared = result.get("multiprocess")
        if not durable and not shared:
            continue
        trials = (durable or {}).get("trials", [])
        kill = "; ".join(
            t["error"]
            if "error" in t
            else f"{t['missing']:,} of {t['acknowledged']:,} missing"
            + (", counter lost" if t["counter_lost"] else "")
            for t in trials
        )
        rates = [t["acks_per_s"] for t in trials if "acks_per_s" in t]
        run = result.get("runs", {}).get("durability", {})
        baseline = run.get("sqlite_commits_per_s", {}).get("FULL")
        rate = _number(max(rates)) if rates else "—"
        if rates and baseline:
            rate += f" (raw SQLite: {baseline:,.0f})"
        engine = ENGINES.get(result["engine"])
        in_memory = engine is not None and not engine.persistent
        rows.append(
            [
                result["label"],
                kill or "—",
                rate,
                *(_in_memory_cells(shared) if in_memory else _shared_cells(shared)),
            ]
        )
    return _table(
        [
            "engine",
            "kill -9: acknowledged writes missing after reopen (per trial)",
            "insert_one acks/s (raw SQLite FULL commits/s just before)",
            "two processes open it",
            "both inserts kept",
            "shared CAS increments",
            "create race (one winner per key)",
            "each sees the other's writes",
        ],
        rows,
    )


def _in_memory_cells(shared: dict[str, Any] | None) -> list[str]:
    if not shared or "error" in shared:
        return _shared_cells(shared)
    final = shared["final"]
    opened = ", ".join(f"{k}: {v}" for k, v in shared["opened"].items())
    alone = "each process has its own memory: nothing shared"
    return [opened, f"{final['A'] + final['B']} of {2 * shared['writes_per_worker']}", alone,
            alone, alone]  # fmt: skip


def _shared_cells(shared: dict[str, Any] | None) -> list[str]:
    if not shared:
        return ["—"] * 5
    if "error" in shared:
        return [shared["error"], "—", "—", "—", "—"]
    opened = ", ".join(f"{k}: {v}" for k, v in shared["opened"].items())
    final = shared["final"]
    workers = shared["workers"]
    expected = shared["writes_per_worker"]
    if "error" in final:
        return [opened, final["error"], "—", "—", "—"]
    kept = f"{final['A'] + final['B']} of {2 * expected}"
    won = sum(w.get("counts", {}).get("cas_won", 0) for w in workers.values())
    cas = f"revision {final['revision']} after {won} acknowledged"
    if final["revision"] is not None and final["revision"] < won:
        cas += f" ({won - final['revision']} lost)"
    race_won = sum(w.get("counts", {}).get("race_won", 0) for w in workers.values())
    race = f"{race_won} creations for {expected} keys ({final['race_documents']} stored)"
    seen = ", ".join(
        f"{name} sees {w.get('seen_other', '?')}" for name, w in sorted(workers.items())
    )
    errors = [e for w in workers.values() for e in w.get("errors", [])] + [
        w["error"] for w in workers.values() if "error" in w
    ]
    if errors:
        seen += "; errors: " + errors[0]
    return [opened, kept, cas, race, seen]


_MAIN_DISTRIBUTION = {
    "tinymongo-sqlite": "tinymongo",
    "montydb-sqlite": "montydb",
    "montydb-lightning": "montydb",
    "mongita-disk": "mongita",
    "mongomock": "mongomock",
    "bdg-embedded": "shared/embedded",
    "mongoeco-sqlite": "mongoeco",
}


def _p95(result: dict[str, Any], size: str, measure: str) -> str:
    found = _series(result, size, measure)
    if found is None:
        return "—"
    if found.get("error"):
        return "refused"
    if found["over_cap"]:
        return f"> {result['speed'].get('op_cap_s', 60) * 1000:,.0f}"
    return _ms(found["p95_ms"]) + (" (wrong answer)" if found["problems"] else "")


def _kill_summary(result: dict[str, Any]) -> str:
    trials = result.get("durability", {}).get("trials", [])
    if not trials:
        return "—"
    unreadable = sum(1 for t in trials if "error" in t)
    checked = [t for t in trials if "error" not in t]
    lost = sum(t["missing"] for t in checked)
    acknowledged = sum(t["acknowledged"] for t in checked)
    if acknowledged and lost == acknowledged:
        return "no: every write lost"
    text = f"{lost:,} of {acknowledged:,} lost"
    if unreadable:
        text += f"; store unreadable after {unreadable} of {len(trials)}"
    return ("yes: " if not lost and not unreadable else "no: ") + text


def _sharing_summary(result: dict[str, Any]) -> str:
    shared = result.get("multiprocess")
    engine = ENGINES.get(result["engine"])
    if not shared:
        return "—"
    if engine is not None and not engine.persistent:
        return "no: each process has its own memory"
    if "error" in shared or "error" in shared.get("final", {}):
        return "no: " + str(shared.get("error") or shared["final"]["error"])[:80]
    final, workers = shared["final"], shared["workers"]
    expected = shared["writes_per_worker"]
    problems = []
    if final["A"] + final["B"] < 2 * expected:
        problems.append(f"{2 * expected - final['A'] - final['B']} inserts lost")
    won = sum(w.get("counts", {}).get("cas_won", 0) for w in workers.values())
    if final["revision"] is None or final["revision"] < won:
        problems.append(f"{won - (final['revision'] or 0)} of {won} CAS updates lost")
    created = sum(w.get("counts", {}).get("race_won", 0) for w in workers.values())
    if created != expected:
        problems.append(f"{created} creations of {expected} keys")
    return "no: " + ", ".join(problems) if problems else "yes"


def summary_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for result in results:
        versions = result.get("versions") or {}
        name = _MAIN_DISTRIBUTION.get(result["engine"], "")
        version = versions.get(name, "")
        statuses = [v["status"] for v in result.get("fidelity", {}).values()]
        inserts = result.get("speed", {}).get("insert", {})
        last = inserts[max(inserts, key=int)] if inserts else None
        rate = "—"
        if last:
            first, final = last.get("first_10k_docs_per_s"), last.get("last_10k_docs_per_s")
            rate = _number(last["docs_per_s"])
            if first and final:
                rate += f" ({final / first:.0%})"
        cells = [
            f"{result['engine']} {version}".strip(),
            "/".join(str(statuses.count(s)) for s in ("ok", "wrong", "unsupported")),
            rate,
        ]
        for measure, _, _ in QUERIES:
            cells.append(f"{_p95(result, '10000', measure)} / {_p95(result, '100000', measure)}")
        cells += [_kill_summary(result), _sharing_summary(result)]
        rows.append(cells)
    header = [
        "engine",
        "fidelity ok/wrong/unsupported",
        "insert_many docs/s to 100k (last 10k / first 10k)",
        *(f"{MEASURE_TITLES[m]}: p95 ms at 10k / 100k" for m, _, _ in QUERIES),
        "survives kill -9",
        "two processes on one store",
    ]
    return _table(header, rows)


def render(results: list[dict[str, Any]]) -> str:
    lines = ["### Summary", "", *summary_table(results), ""]
    lines += ["### Versions", "", *versions_table(results), ""]
    lines += ["### Fidelity", "", *fidelity_table(results), ""]
    lines += ["### Insert throughput", "", *insert_table(results), ""]
    curve = load_curve_table(results)
    if curve:
        lines += ["### insert_many docs/s per 10,000 documents", "", *curve, ""]
    lines += ["### Query latency", "", *latency_table(results), ""]
    lines += ["### Durability and sharing", "", *durability_table(results), ""]
    hops = [
        f"- {r['label']}: p50 {r['speed']['thread_hop']['p50_ms'] * 1000:.0f} µs, "
        f"p95 {r['speed']['thread_hop']['p95_ms'] * 1000:.0f} µs"
        for r in results
        if r.get("speed", {}).get("thread_hop")
    ]
    if hops:
        lines += ["### One asyncio.to_thread round trip, measured in each run", "", *hops, ""]
    runs = []
    for r in results:
        parts = [
            f"{part} {info['date'][:16].replace('T', ' ')} (load {info['loadavg'].split()[0]})"
            for part, info in sorted(r.get("runs", {}).items(), key=lambda p: p[1]["date"])
        ]
        if parts:
            runs.append(f"- {r['label']}: " + ", ".join(parts))
    if runs:
        runs.insert(0, "Start of each part (UTC) with the 1-minute load average on 2 cores:")
        runs.insert(1, "")
    if runs:
        lines += ["### Runs", "", *runs, ""]
    return "\n".join(lines)
