"""The pre-aggregated cells always equal a recount of the facts, whatever the deliveries.

Random activities on the scenario's units (both editions, villages included) are
recorded, revised and voided; their events, with the unit events, are delivered in a
random order, some twice, in random batches, some of them lost half-way (the facts
written, the cells not yet recomputed, as after a crash). After every run, each
stored cell must hold exactly what the facts placed on its unit and below add up to.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.projection import Projection
from services.reporting.repository import ReadModels
from services.reporting.rollups import MEASURES, ROW_KEYS, CellKey
from shared.contracts import (
    ACTIVITY_RECORDED,
    ACTIVITY_REVISED,
    ACTIVITY_VOIDED,
    UNIT_UPSERTED,
    ActivityState,
    ActivityVoided,
    CloudEvent,
    EventKind,
    UnitUpserted,
)
from shared.mongo import MongoHandle
from tests.reporting_support import scenario
from tests.support.mongo import MongoBackend

_UNITS = [unit for unit in scenario.UNITS if unit["level"] in ("commune", "village")]
_OLD = [unit["id"] for unit in _UNITS if unit["id"].startswith("vn63")]
_NEW = [unit["id"] for unit in _UNITS if unit["id"].startswith("vn34")]
_TYPES = ("communication_session", "forum", "school_exchange")


_TIME = datetime(2026, 7, 1, tzinfo=UTC)


def _event(kind: EventKind, data: Any, subject: str) -> CloudEvent:
    # Deterministic, so that Hypothesis can replay and shrink an example exactly.
    name = f"{kind.type}/{subject}/{getattr(data, 'version', getattr(data, 'revision', 0))}"
    return CloudEvent(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        source=kind.stream.source,
        type=kind.type,
        subject=subject,
        time=_TIME,
        correlationid=uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
        data=data.model_dump(mode="json"),
    )


@st.composite
def _version(draw: st.DrawFn) -> dict[str, Any]:
    after_reform = draw(st.booleans())
    day = draw(
        st.dates(date(2025, 7, 1), date(2026, 6, 30))
        if after_reform
        else st.dates(date(2024, 11, 1), date(2025, 6, 30))
    )
    return {
        "type": draw(st.sampled_from(_TYPES)),
        "programme": draw(st.sampled_from(("P8", "SFES"))),
        "unit_id": draw(st.sampled_from(_NEW if after_reform else _OLD)),
        "title": "Sinh hoạt",
        "started_on": day.isoformat(),
        "ended_on": day.isoformat(),
        "participants": {
            "female": draw(st.integers(0, 40)),
            "male": draw(st.integers(0, 40)),
            "ethnic_minority": draw(st.none() | st.integers(0, 20)),
        },
        "budget_vnd": draw(st.integers(0, 5_000_000)),
    }


@st.composite
def _history(draw: st.DrawFn) -> list[CloudEvent]:
    """Events of several activities: versions 1..k, and sometimes a void."""
    events: list[CloudEvent] = []
    for number in range(draw(st.integers(1, 6))):
        key = f"act-{number}"
        versions = draw(st.lists(_version(), min_size=1, max_size=3))
        for version, body in enumerate(versions, start=1):
            if body["participants"]["ethnic_minority"] is not None:
                total = body["participants"]["female"] + body["participants"]["male"]
                body["participants"]["ethnic_minority"] = min(
                    body["participants"]["ethnic_minority"], total
                )
            state = ActivityState.model_validate(
                {
                    "id": key,
                    "source_system": "prop",
                    "external_id": key,
                    "version": version,
                    "province_id": "vn34:20" if body["unit_id"].startswith("vn34") else "vn63:20",
                    "activity": body,
                }
            )
            kind = ACTIVITY_RECORDED if version == 1 else ACTIVITY_REVISED
            events.append(_event(kind, state, key))
        if draw(st.booleans()):
            voided = ActivityVoided(
                id=key,
                source_system="prop",
                external_id=key,
                version=len(versions) + 1,
                province_id="vn63:20",
                reason="Nhập trùng",
            )
            events.append(_event(ACTIVITY_VOIDED, voided, key))
    return events


def _units() -> list[CloudEvent]:
    return [
        _event(UNIT_UPSERTED, UnitUpserted(revision=1, **unit), unit["id"])
        for unit in scenario.UNITS
    ]


async def _recount(projection: Projection) -> dict[str, dict[tuple[Any, ...], list[float]]]:
    """The cells as they should be, counted from the stored facts alone."""
    expected: dict[str, dict[tuple[Any, ...], list[float]]] = defaultdict(dict)
    async for fact in projection.models.facts.find({"status": "active"}):
        key = tuple(fact.get(field) for field in ROW_KEYS.values())
        values = [float(fact.get(m) or 0) for m in MEASURES]
        reached: list[tuple[str, str, float]] = [("as_was", u, 1.0) for u in fact["lineage"]]
        for entry in fact["v34"]:
            chain = projection.units.lineage(entry["u"]) if entry["u"] in projection.units else []
            reached += [("vn34", u, float(entry["s"])) for u in chain or [entry["u"]]]
        for structure, unit, weight in reached:
            for period in (fact["m"], fact["m"][:4]):
                cell = expected[CellKey(structure, unit, period).id]
                sums = cell.setdefault(key, [0.0] * len(MEASURES))
                for position, value in enumerate(values):
                    sums[position] += value * weight
    return expected


async def _stored(projection: Projection) -> dict[str, dict[tuple[Any, ...], list[float]]]:
    stored: dict[str, dict[tuple[Any, ...], list[float]]] = {}
    async for cell in projection.models.rollups.find({}):
        stored[cell["_id"]] = {
            tuple(row.get(k) for k in ROW_KEYS): [float(row.get(m) or 0) for m in MEASURES]
            for row in cell["rows"]
        }
    return stored


def _same(
    left: dict[str, dict[tuple[Any, ...], list[float]]],
    right: dict[str, dict[tuple[Any, ...], list[float]]],
) -> bool:
    def cleaned(cells: dict[str, dict[tuple[Any, ...], list[float]]]) -> dict[str, Any]:
        return {
            cell: {key: sums for key, sums in rows.items() if any(abs(v) > 1e-9 for v in sums)}
            for cell, rows in cells.items()
            if any(any(abs(v) > 1e-9 for v in sums) for sums in rows.values())
        }

    a, b = cleaned(left), cleaned(right)
    if a.keys() != b.keys():
        return False
    for cell, rows in a.items():
        if rows.keys() != b[cell].keys():
            return False
        for key, sums in rows.items():
            if not all(
                math.isclose(x, y, abs_tol=1e-6) for x, y in zip(sums, b[cell][key], strict=True)
            ):
                return False
    return True


class _Killed(Exception):
    """The process died here."""


async def _run(
    mongo: MongoBackend, deliveries: list[list[CloudEvent]], crash_at: int | None
) -> None:
    database = f"rollups_{uuid.uuid4().hex[:10]}"
    handle = MongoHandle(mongo.url, database, "tests", data_dir=mongo.data_dir)
    try:
        projection = Projection(ReadModels(handle.db, "g1"))
        await projection.load()
        for number, batch in enumerate(deliveries):
            registry = [e for e in batch if e.type == UNIT_UPSERTED.type]
            activities = [e for e in batch if e.type != UNIT_UPSERTED.type]
            await projection.apply_registry(registry)
            if number == crash_at:
                # The facts are written, the process dies before the cells follow.
                async def killed(_cells: Any) -> None:
                    raise _Killed

                projection.recompute = killed  # type: ignore[method-assign]
                with contextlib.suppress(_Killed):
                    await projection.apply_activities(activities)
                projection = Projection(ReadModels(handle.db, "g1"))
                await projection.load()  # the restart finishes what was left to do
                continue
            await projection.apply_activities(activities)
        expected, stored = await _recount(projection), await _stored(projection)
        assert _same(stored, expected), (stored, expected)
    finally:
        await handle.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=_history(), data=st.data())
def test_cells_equal_a_recount_of_the_facts(
    mongo: MongoBackend, history: list[CloudEvent], data: st.DataObject
) -> None:
    events = _units() + history
    repeated = data.draw(st.lists(st.sampled_from(events), max_size=10))
    order = data.draw(st.permutations(events + repeated))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(order) - 1, 1)), max_size=6)))
    batches = [
        order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True) if order[a:b]
    ]
    crash_at = data.draw(st.none() | st.integers(0, len(batches) - 1))
    asyncio.run(_run(mongo, batches, crash_at))
