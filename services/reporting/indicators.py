"""Computing indicators' rows for units, periods and disaggregations.

This engine is the only place that reads facts (through `ReadModels.flow_groups`,
`clubs_at`, `member_groups` and `activity_counts_by_unit`); everything else is done
in memory. Flow indicators: one `$group` over the facts reaching a unit in a period
(by leaf unit, month and the other grouped fields), rolled up in memory to the asked
unit, its children or its units at one level (`UnitIndex`), and to quarters, years and
school years (derived from the month). Stock indicators: the clubs existing at the
period end and one `$group` of their members. Rows always cover every value of each
requested dimension (zeros included), and the total is the sum of the rows: exactly
for `as_was`; for `vn34`, restated fractions are apportioned to the rounded total
(rounding.py).

A batch of queries reads once per (unit, period, programme, structure) for all its
flow indicators, and once per (period end, programme) for all its stock indicators,
so several indicators, units and periods never read more than one query each would.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.reporting.approvals import ApprovalScope
from services.reporting.catalogue import GRADES, TIME_DIMENSIONS, Indicator
from services.reporting.placement import (
    LEVEL_RANK,
    Structure,
    child_towards,
    children_in_force,
    club_unit,
    level_of,
    unit_at_level,
    units_at_level,
)
from services.reporting.repository import ReadModels
from services.reporting.rounding import apportion, round_half_even
from shared.mongo import Document
from shared.periods import Period, period_of_month
from shared.units import UnitIndex

SEXES = ("female", "male")
Key = tuple[Any, ...]
Cells = dict[Key, float]
# The fact field carrying the month (`YYYY-MM`) of the reference date.
MONTH_FIELD = "m"


def is_unit_dimension(dim: str) -> bool:
    return dim == "child_unit" or dim.startswith("level:")


@dataclass(frozen=True)
class IndicatorQuery:
    indicator: Indicator
    unit_id: str
    period: Period
    by: tuple[str, ...] = ()
    programme: str | None = None
    structure: Structure = "as_was"


@dataclass(frozen=True)
class IndicatorResult:
    rows: list[dict[str, Any]]
    total: float


def _number(value: float, decimals: int) -> float | int:
    return int(value) if decimals == 0 else value


def _decimals(indicator: Indicator) -> int:
    return 2 if indicator.quantity == "days" and indicator.kind == "flow" else 0


class IndicatorEngine:
    """`scope`: with `approval=approved`, the approved data the figures are limited to
    (approvals.py); none counts everything submitted."""

    def __init__(
        self, models: ReadModels, units: UnitIndex, scope: ApprovalScope | None = None
    ) -> None:
        self._models = models
        self._units = units
        self._scope = scope

    async def compute(self, query: IndicatorQuery) -> IndicatorResult:
        return (await self.compute_batch([query]))[0]

    async def compute_batch(self, queries: Sequence[IndicatorQuery]) -> list[IndicatorResult]:
        """Each query's rows, reading once per (unit, period, programme, structure) for
        the flow queries and once per (period end, programme) for the stock ones."""
        cells: list[Cells] = [{} for _ in queries]
        flows: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        stocks: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for position, query in enumerate(queries):
            period = query.period
            if query.indicator.kind == "flow":
                key = (query.unit_id, period.start, period.end, query.programme, query.structure)
                flows[key].append(position)
            else:
                stocks[(period.end, query.programme)].append(position)
        for positions in flows.values():
            chosen = [queries[position] for position in positions]
            group_fields = _group_fields(chosen)
            types = sorted({kind for query in chosen for kind in query.indicator.types})
            groups = await self._flow_groups(chosen, group_fields, types)
            for position in positions:
                cells[position] = self._flow_cells(queries[position], groups)
        for positions in stocks.values():
            chosen = [queries[position] for position in positions]
            for position, found in zip(positions, await self._stock_cells(chosen), strict=True):
                cells[position] = found
        return [self._rows(query, found) for query, found in zip(queries, cells, strict=True)]

    async def activity_counts(
        self, unit_id: str, period: Period, programme: str | None = None
    ) -> dict[str, int]:
        """How many active activities (of `programme` when given) each unit (as it was)
        below `unit_id` has in the period, by the unit they were recorded on."""
        rows = await self._models.activity_counts_by_unit(
            unit_id, period.start_iso, period.end_iso, programme
        )
        return {str(row["_id"]): int(row["n"]) for row in rows}

    # --- flows ---------------------------------------------------------------------

    async def _flow_groups(
        self, queries: Sequence[IndicatorQuery], group_fields: dict[str, str], types: Sequence[str]
    ) -> list[Document]:
        """One read for queries sharing unit, period, programme and structure, at the
        coarsest grain that still answers each: the unit's own total, its children, or
        the units at the deepest `level:` asked (pre-aggregated cells: rollups.py)."""
        query = queries[0]
        dims = {dim for each in queries for dim in each.by}
        levels = [
            LEVEL_RANK[dim.removeprefix("level:")] for dim in dims if dim.startswith("level:")
        ]
        granularity = "level" if levels else "children" if "child_unit" in dims else "unit"
        deepest = min(levels, default=0)

        def reached(unit: str) -> bool:
            """At the deepest level asked, or below it (unknown units: stop there)."""
            return LEVEL_RANK.get(level_of(unit, self._units) or "", deepest) <= deepest

        if self._scope is not None:
            restated = query.structure == "vn34"
            regions = self._scope.regions(
                query.unit_id, query.period.start, query.period.end, query.programme, restated
            )
            return await self._models.approved_fact_groups(
                restated=restated,
                unit_id=query.unit_id,
                regions=regions,
                types=types,
                group_fields=group_fields,
            )
        return await self._models.flow_groups(
            restated=query.structure == "vn34",
            unit_id=query.unit_id,
            start=query.period.start_iso,
            end=query.period.end_iso,
            types=types,
            programme=query.programme,
            group_fields=group_fields,
            granularity=granularity,
            reached=reached,
        )

    def _flow_cells(self, query: IndicatorQuery, groups: Sequence[Document]) -> Cells:
        indicator = query.indicator
        cells: Cells = defaultdict(float)
        for group in groups:
            ids = group["_id"]
            if "type" in ids and ids["type"] not in indicator.types:
                continue
            known = self._place(query, ids["u"])
            if known is None:  # a share of the fact that went to another unit
                continue
            month = ids.get(MONTH_FIELD)
            for dim in query.by:
                if dim in TIME_DIMENSIONS:
                    known[dim] = period_of_month(str(month), dim) if month else None
                elif dim == "kind" and indicator.kind_field is not None:
                    known[dim] = ids.get(indicator.kind_field)
                elif dim == "grade":
                    known[dim] = ids.get("grade")
            for split, value in _flow_splits(indicator, group, query.by):
                key = tuple({**known, **split}[dim] for dim in query.by)
                cells[key] += value
        return cells

    def _place(self, query: IndicatorQuery, leaf: str) -> dict[str, Any] | None:
        """The unit splits of a leaf unit's figures, or `None` when it is not under the
        asked unit."""
        child = child_towards(query.unit_id, leaf, self._units)
        if child is None:
            return None
        known: dict[str, Any] = {}
        for dim in query.by:
            if dim == "child_unit":
                known[dim] = child
            elif dim.startswith("level:"):
                known[dim] = unit_at_level(leaf, dim.removeprefix("level:"), self._units)
        return known

    # --- stocks (clubs, members at the period end) -----------------------------------

    async def _stock_cells(self, queries: Sequence[IndicatorQuery]) -> list[Cells]:
        """Stock queries sharing a period end and a programme: one read of the clubs,
        one of the members of every club any of them counts."""
        first = queries[0]
        end = first.period.end
        clubs = await self._models.clubs_at(end.isoformat(), first.programme)
        placed: list[dict[str, dict[str, Any]]] = []
        for query in queries:
            mine: dict[str, dict[str, Any]] = {}
            for club in clubs:
                if self._scope is not None and not self._scope.covers(
                    club.get("programme"), club["unit_id"], end
                ):
                    continue
                leaf = club_unit(club["unit_id"], end, query.structure, self._units)
                known = self._place(query, leaf)
                if known is not None:
                    mine[club["_id"]] = {**known, "kind": club.get("kind")}
            placed.append(mine)
        wanted = sorted(
            {
                club
                for query, mine in zip(queries, placed, strict=True)
                if query.indicator.kind == "members"
                for club in mine
            }
        )
        groups = await self._models.member_groups(end.isoformat(), wanted) if wanted else []
        found: list[Cells] = []
        for query, mine in zip(queries, placed, strict=True):
            cells: Cells = defaultdict(float)
            if query.indicator.kind == "clubs":
                for known in mine.values():
                    cells[tuple(known[dim] for dim in query.by)] += 1
            else:
                for group in groups:
                    ids = group["_id"]
                    if ids["c"] not in mine:
                        continue
                    known = {
                        **mine[ids["c"]],
                        "sex": ids["sex"],
                        "ethnic_minority": bool(ids["em"]),
                    }
                    cells[tuple(known[dim] for dim in query.by)] += group["n"]
            found.append(cells)
        return found

    # --- rows ------------------------------------------------------------------------

    def row_count(self, query: IndicatorQuery) -> int:
        """How many rows the query answers at least (every combination of its
        dimensions' values), known before reading anything."""
        count = 1
        for slot in self._slots(query, {}):
            count *= len(slot[1])
        return count

    def _slots(self, query: IndicatorQuery, cells: Cells) -> list[tuple[list[int], list[Key]]]:
        """The dimensions' values, as slots of (positions in `by`, value tuples). The
        time dimensions share one slot: `by=year,month` lists each month once with its
        year, not every year with every month."""
        by = query.by
        slots: list[tuple[list[int], list[Key]]] = []
        timed = [position for position, dim in enumerate(by) if dim in TIME_DIMENSIONS]
        if timed:
            combos: dict[Key, None] = {}
            for month in query.period.months():
                combos[tuple(period_of_month(month, by[position]) for position in timed)] = None
            slots.append((timed, list(combos)))
        for position, dim in enumerate(by):
            if dim not in TIME_DIMENSIONS:
                values = self._domain(query, dim, cells, position)
                slots.append(([position], [(value,) for value in values]))
        slots.sort(key=lambda slot: slot[0][0])
        return slots

    def _rows(self, query: IndicatorQuery, cells: Cells) -> IndicatorResult:
        slots = self._slots(query, cells)
        keys: list[Key] = []
        for combo in itertools.product(*(values for _, values in slots)):
            parts: list[Any] = [None] * len(query.by)
            for (positions, _), chosen in zip(slots, combo, strict=True):
                for position, part in zip(positions, chosen, strict=True):
                    parts[position] = part
            keys.append(tuple(parts))
        exact = [cells.get(key, 0.0) for key in keys]
        decimals = _decimals(query.indicator)
        if query.structure == "vn34" and query.indicator.kind == "flow":
            values, total = apportion(exact, decimals)
        else:
            values = [round_half_even(value, decimals) for value in exact]
            total = round_half_even(sum(values), decimals)
        rows: list[dict[str, Any]] = []
        for key, value in zip(keys, values, strict=True):
            row: dict[str, Any] = {}
            for dim, part in zip(query.by, key, strict=True):
                if is_unit_dimension(dim):
                    row["unit_id"] = part
                    node = self._units.get(part)
                    row["unit_name"] = node.name if node else None
                else:
                    row[dim] = part
            row["value"] = _number(value, decimals)
            rows.append(row)
        return IndicatorResult(rows, _number(total, decimals))

    def _domain(self, query: IndicatorQuery, dim: str, cells: Cells, position: int) -> list[Any]:
        seen = [key[position] for key, value in cells.items() if value]
        base: Sequence[Any]
        period = query.period
        if dim == "sex":
            base = SEXES
        elif dim == "ethnic_minority":
            base = (True, False)
        elif dim == "grade":
            base = GRADES
        elif dim == "kind":
            base = query.indicator.kind_values
        elif dim.startswith("level:"):
            level = dim.removeprefix("level:")
            base = units_at_level(
                query.unit_id, level, period.start, period.end, query.structure, self._units
            )
        else:
            base = children_in_force(
                query.unit_id, period.start, period.end, query.structure, self._units
            )
        return _ordered(base, seen)


def _group_fields(queries: Sequence[IndicatorQuery]) -> dict[str, str]:
    """The fact fields to group by (output name → field) for flow queries read together."""
    fields: dict[str, str] = {}
    if len({query.indicator.types for query in queries}) > 1:
        fields["type"] = "type"
    for query in queries:
        if any(dim in TIME_DIMENSIONS for dim in query.by):
            fields[MONTH_FIELD] = MONTH_FIELD
        kind_field = query.indicator.kind_field
        if "kind" in query.by and kind_field is not None:
            fields[kind_field] = kind_field
        if "grade" in query.by:
            fields["grade"] = "grade"
    return fields


def _ordered(base: Sequence[Any], seen: Iterable[Any]) -> list[Any]:
    values = list(base)
    extra = sorted(
        {value for value in seen if value not in values}, key=lambda v: (v is None, str(v))
    )
    return values + extra


def _flow_splits(
    indicator: Indicator, group: Document, by: Sequence[str]
) -> list[tuple[dict[str, Any], float]]:
    """One group's value, split by sex or by ethnic-minority status when asked."""
    quantity = indicator.quantity
    if quantity == "participants":
        female, male = float(group["female"]), float(group["male"])
        if "sex" in by:
            return [({"sex": "female"}, female), ({"sex": "male"}, male)]
        if "ethnic_minority" in by:
            minority, known = float(group["em"]), float(group["emk"])
            return [
                ({"ethnic_minority": True}, minority),
                ({"ethnic_minority": False}, known - minority),
                ({"ethnic_minority": None}, female + male - known),
            ]
        return [({}, female + male)]
    if quantity == "recipients" and "sex" in by:
        # Women are female; children are reported without their sex.
        women, children = float(group.get("women") or 0), float(group.get("children") or 0)
        return [({"sex": "female"}, women), ({"sex": "male"}, 0.0), ({"sex": None}, children)]
    field = {"count": "n"}.get(quantity, quantity)
    return [({}, float(group[field]))]
