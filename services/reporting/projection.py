"""Projection of both streams into one generation of read models.

Every write is idempotent: registry entities keep their highest `revision`, facts
their highest activity `version`, and the cells of rollups.py are recomputed from the
facts (never incremented), so an event applied twice, late, out of order or again
after a restart changes nothing.

Cells follow the facts in three steps: the cells that the changed facts count in,
before and after the change, are first recorded as *to do*; then the facts are
written; then those cells are recomputed bottom-up and the record removed. A crash
between the steps leaves the record, and the next start (or batch) recomputes its
cells: the redelivered events find their facts already written and change nothing,
but the cells are not left behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime

from services.reporting.facts import fact_from_state, fact_from_void, place
from services.reporting.repository import ReadModels
from services.reporting.rollups import (
    CellKey,
    Delta,
    add_change,
    add_rows,
    as_rows,
    cell_document,
    depth_of,
    fact_rows,
    moved,
    parent_of,
    placed_cells,
)
from shared.contracts import (
    APPROVAL_SET,
    CLUB_UPSERTED,
    LOCK_SET,
    MEMBER_UPSERTED,
    PROGRAMME_UPSERTED,
    SITE_UPSERTED,
    TARGET_SET,
    UNIT_UPSERTED,
    ActivityState,
    ActivityVoided,
    CloudEvent,
)
from shared.mongo import Document
from shared.periods import PeriodError, parse_period
from shared.units import UnitIndex, unit_node

# Registry entity type → (read-model collection, the data field that is its key).
_ENTITIES = {
    PROGRAMME_UPSERTED.type: ("programmes", "code"),
    TARGET_SET.type: ("targets", "programme"),
    SITE_UPSERTED.type: ("sites", "id"),
    CLUB_UPSERTED.type: ("clubs", "id"),
    MEMBER_UPSERTED.type: ("members", "id"),
    APPROVAL_SET.type: ("approvals", "id"),
    LOCK_SET.type: ("locks", "id"),
}
# Entities kept with the first and last day of their `period`, for range queries.
_DATED = frozenset({APPROVAL_SET.type, LOCK_SET.type})


def period_days(text: str) -> dict[str, str | None]:
    """`starts_on`/`ends_on` of a period key (none for a key that is not a period:
    such a record is kept but covers no day)."""
    try:
        period = parse_period(text)
    except PeriodError:
        return {"starts_on": None, "ends_on": None}
    return {"starts_on": period.start_iso, "ends_on": period.end_iso}


class Projection:
    """Applies events to one generation and keeps its in-memory unit hierarchy."""

    def __init__(self, models: ReadModels, units: UnitIndex | None = None) -> None:
        self.models = models
        self.units = units if units is not None else UnitIndex()
        # Fact writes and cell recomputations of this generation, one at a time: each
        # decides from the facts it read, which another writer must not change meanwhile
        # (the live consumers of both streams and a rebuild's replay all write here).
        self._facts_lock = asyncio.Lock()
        self.unit_revisions: dict[str, int] = {}

    @property
    def generation(self) -> str:
        return self.models.generation

    async def load(self) -> None:
        """Fill the unit hierarchy from this generation's own collection."""
        await self.models.create_indexes()
        await self.reload_units()
        await self.finish_cells()

    async def reload_units(self) -> None:
        """The unit hierarchy as this generation's collection holds it (the projection's
        own writes are the truth for the replica that projects)."""
        documents = await self.models.all_units()
        self.units.put_many(unit_node(document) for document in documents)
        self.unit_revisions = {str(d["_id"]): int(d.get("revision", 0)) for d in documents}

    def follow_units(self, documents: Sequence[Document]) -> None:
        """Units seen by this replica's follower (not the projecting one): memory only,
        each kept at its highest revision."""
        for document in documents:
            revision = int(document.get("revision", 0))
            if revision > self.unit_revisions.get(str(document["_id"]), 0):
                self.units.put(unit_node(document))
                self.unit_revisions[str(document["_id"])] = revision

    async def apply_registry(self, events: Sequence[CloudEvent]) -> None:
        grouped: dict[str, list[Document]] = {}
        units: list[Document] = []
        # Envelopes and data were validated against the contract when parsed.
        for event in events:
            if event.type == UNIT_UPSERTED.type:
                units.append({"_id": event.data["id"], **event.data})
            elif event.type in _ENTITIES:
                name, key = _ENTITIES[event.type]
                document = {"_id": event.data[key], **event.data}
                if event.type in _DATED:
                    document.update(period_days(str(event.data["period"])))
                grouped.setdefault(name, []).append(document)
        if units:
            await self._apply_units(units)
        for name, documents in grouped.items():
            await self.models.apply_entities(name, documents)

    async def _apply_units(self, documents: Sequence[Document]) -> None:
        changed = await self.models.apply_entities("units", documents)
        moved: list[str] = []
        for document in changed:
            node = unit_node(document)
            held = self.units.get(node.id)
            if held is not None and (
                held.parent_id != node.parent_id or held.successors != node.successors
            ):
                moved.append(node.id)
            self.units.put(node)
            self.unit_revisions[node.id] = int(document.get("revision", 0))
        if changed:
            await self.replace_facts(moved)

    async def replace_facts(self, moved: Sequence[str]) -> None:
        """Recompute where facts count: the pending ones, and those on or below a unit
        whose parent or crosswalk changed."""
        async with self._facts_lock:
            await self._replace_facts(moved)

    async def _replace_facts(self, moved: Sequence[str]) -> None:
        updates = []
        cells: set[CellKey] = set()
        for fact in await self.models.facts_to_place(moved):
            if fact.get("status") != "active" or "unit_id" not in fact:
                continue
            placement = place(fact["unit_id"], self.units)
            fields = placement.fields()
            if all(fact.get(name) == value for name, value in fields.items()):
                continue
            updates.append((fact["_id"], fact["version"], fields))
            cells |= placed_cells(fact) | placed_cells({**fact, **fields})
        await self._with_cells(cells, lambda: self.models.set_placements(updates))

    async def apply_activities(self, events: Sequence[CloudEvent]) -> None:
        newest: dict[str, Document] = {}
        for event in events:
            data = event.typed_data()
            if isinstance(data, ActivityVoided):
                fact = fact_from_void(data)
            elif isinstance(data, ActivityState):
                fact = fact_from_state(data, self.units)
            else:  # the stream's contract guarantees one of the two
                raise TypeError(f"{event.type} carries no activity state")
            held = newest.get(fact["_id"])
            if held is None or fact["version"] > held["version"]:
                newest[fact["_id"]] = fact
        if newest:
            async with self._facts_lock:
                await self._write_facts(newest)

    async def _write_facts(self, newest: dict[str, Document]) -> None:
        held = await self.models.held_facts(list(newest))
        inserts = [fact for key, fact in newest.items() if key not in held]
        replaces = [
            fact
            for key, fact in newest.items()
            if key in held and fact["version"] > held[key]["version"]
        ]
        changes = [(held.get(fact["_id"]), fact) for fact in (*inserts, *replaces)]
        cells: set[CellKey] = set()
        for old, new in changes:
            cells |= placed_cells(old) | placed_cells(new)
        await self._with_cells(
            cells, lambda: self.models.write_facts(inserts, replaces), changes=changes
        )

    # --- cells ----------------------------------------------------------------------

    async def _with_cells(
        self,
        cells: set[CellKey],
        write: Callable[[], Awaitable[None]],
        changes: Sequence[tuple[Document | None, Document]] | None = None,
    ) -> None:
        """`write` the facts, keeping the cells they count in correct across a crash.

        With the facts' `changes` (stored before, written now), the cells are moved by
        their difference: what the old versions counted comes out, what the new ones
        count goes in, reading the cells only. Without, or to finish after a crash, they
        are recomputed from the facts. Either way the record of the cells to do is
        written first and removed last."""
        if not cells:
            await write()
            return
        key = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        await self.models.add_todo(key, [cell.id for cell in sorted(cells)])
        await write()
        if changes is None:
            await self.recompute(cells)
        else:
            await self._move(changes)
        await self.models.remove_todos([key])

    async def _move(self, changes: Sequence[tuple[Document | None, Document]]) -> None:
        delta: Delta = {}
        for old, new in changes:
            add_change(delta, old, new, self.units)
        held = {cell["_id"]: cell for cell in await self.models.cells([c.id for c in delta])}
        documents: list[Document] = []
        empty: list[str] = []
        for cell, rows in delta.items():
            own, total = moved(held.get(cell.id), cell, rows)
            self._keep(cell, own, total, documents, empty)
        await self.models.save_cells(documents, empty)

    async def finish_cells(self) -> None:
        """Recompute the cells left to do by a batch that did not finish."""
        async with self._facts_lock:
            await self._finish_cells()

    async def _finish_cells(self) -> None:
        todos = await self.models.todos()
        if todos:
            cells = {CellKey(*cell.split("|", 2)) for todo in todos for cell in todo["cells"]}
            await self.recompute(cells)
            await self.models.remove_todos([todo["_id"] for todo in todos])

    async def recompute(self, cells: Iterable[CellKey]) -> None:
        """Month cells bottom-up (a unit's own facts plus its children's cells), then
        the year cells from their months."""
        months = [cell for cell in cells if len(cell.period) == 7]
        years = {cell for cell in cells if len(cell.period) == 4}
        by_depth: dict[int, list[CellKey]] = defaultdict(list)
        for cell in months:
            by_depth[depth_of(cell.unit, self.units)].append(cell)
        for depth in sorted(by_depth, reverse=True):
            await self._recompute_level(by_depth[depth])
        await self._recompute_years(years)

    async def _recompute_level(self, cells: Sequence[CellKey]) -> None:
        documents: list[Document] = []
        empty: list[str] = []
        for structure in ("as_was", "vn34"):
            level = [cell for cell in cells if cell.structure == structure]
            if not level:
                continue
            units = sorted({cell.unit for cell in level})
            periods = sorted({cell.period for cell in level})
            facts = await self.models.placed_facts(structure, units, periods)
            children = await self.models.child_cells(structure, units, periods)
            # Each fact and child cell goes to the cells it can count in, once.
            facts_of: dict[tuple[str, str], list[Document]] = defaultdict(list)
            for fact in facts:
                placed_on = (
                    [fact["unit_id"]]
                    if structure == "as_was"
                    else sorted({entry["u"] for entry in fact.get("v34") or ()})
                )
                for unit in placed_on:
                    facts_of[(unit, fact["m"])].append(fact)
            children_of: dict[tuple[str, str], list[Document]] = defaultdict(list)
            for child in children:
                children_of[(child["pu"], child["m"])].append(child)
            for cell in level:
                own = fact_rows(facts_of[(cell.unit, cell.period)], cell)
                total = add_rows(
                    {key: dict(value) for key, value in own.items()},
                    (
                        row
                        for child in children_of[(cell.unit, cell.period)]
                        for row in child["rows"]
                    ),
                )
                self._keep(cell, as_rows(own), as_rows(total), documents, empty)
        await self.models.save_cells(documents, empty)

    async def _recompute_years(self, cells: set[CellKey]) -> None:
        documents: list[Document] = []
        empty: list[str] = []
        for structure in ("as_was", "vn34"):
            level = [cell for cell in cells if cell.structure == structure]
            if not level:
                continue
            months = [
                f"{year}-{month:02d}"
                for year in {c.period for c in level}
                for month in range(1, 13)
            ]
            held = await self.models.cells(
                [
                    CellKey(structure, cell.unit, month).id
                    for cell in level
                    for month in months
                    if month[:4] == cell.period
                ]
            )
            for cell in level:
                mine = [d for d in held if d["u"] == cell.unit and d["m"][:4] == cell.period]
                own = add_rows({}, (row for d in mine for row in d["own"]))
                total = add_rows({}, (row for d in mine for row in d["rows"]))
                self._keep(cell, as_rows(own), as_rows(total), documents, empty)
        await self.models.save_cells(documents, empty)

    def _keep(
        self,
        cell: CellKey,
        own: list[Document],
        total: list[Document],
        documents: list[Document],
        empty: list[str],
    ) -> None:
        if total:
            documents.append(cell_document(cell, parent_of(cell.unit, self.units), own, total))
        else:
            empty.append(cell.id)
