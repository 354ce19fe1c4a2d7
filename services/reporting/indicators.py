"""Computing an indicator's rows for a unit, a period and a disaggregation.

Flow indicators: one `$group` over the facts reaching the unit in the period (by leaf
unit and the grouped dimensions), then rows are rolled up in memory to the requested
unit or its children. Stock indicators: the clubs existing at the period end and one
`$group` of their members. Rows always cover every value of each requested dimension
(zeros included), and the total is the sum of the rows: exactly for `as_was`; for
`vn34`, restated fractions are apportioned to the rounded total (rounding.py).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.reporting.catalogue import GRADES, Indicator
from services.reporting.placement import (
    Structure,
    child_towards,
    children_in_force,
    club_unit,
)
from services.reporting.repository import ReadModels
from services.reporting.rounding import apportion, round_half_even
from shared.mongo import Document
from shared.periods import Period
from shared.units import UnitIndex

SEXES = ("female", "male")
Key = tuple[Any, ...]


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
    def __init__(self, models: ReadModels, units: UnitIndex) -> None:
        self._models = models
        self._units = units

    async def compute(self, query: IndicatorQuery) -> IndicatorResult:
        if query.indicator.kind == "flow":
            group_fields = self._group_fields(query)
            groups = await self._groups(query, group_fields, query.indicator.types)
            cells = self._flow_cells(query, groups, group_fields)
        else:
            cells = await self._stock_cells(query)
        return self._rows(query, cells)

    # --- flows ---------------------------------------------------------------------

    async def compute_many(self, queries: Sequence[IndicatorQuery]) -> list[IndicatorResult]:
        """Several flow indicators of one unit, period and structure with one `$group`
        (the summary); stock ones are computed on their own."""
        flows = [query for query in queries if query.indicator.kind == "flow"]
        groups: list[Document] = []
        if flows:
            first = flows[0]
            types = sorted({t for query in flows for t in query.indicator.types})
            groups = await self._groups(first, {"type": "type"}, types)
        results: list[IndicatorResult] = []
        for query in queries:
            if query.indicator.kind == "flow":
                cells = self._flow_cells(query, groups, {})
            else:
                cells = await self._stock_cells(query)
            results.append(self._rows(query, cells))
        return results

    def _group_fields(self, query: IndicatorQuery) -> dict[str, str]:
        group_fields: dict[str, str] = {}
        if "month" in query.by:
            group_fields["month"] = "m"
        if "kind" in query.by and query.indicator.kind_field is not None:
            group_fields["kind"] = query.indicator.kind_field
        if "grade" in query.by:
            group_fields["grade"] = "grade"
        return group_fields

    async def _groups(
        self, query: IndicatorQuery, group_fields: dict[str, str], types: Sequence[str]
    ) -> list[Document]:
        return await self._models.flow_groups(
            restated=query.structure == "vn34",
            unit_id=query.unit_id,
            start=query.period.start_iso,
            end=query.period.end_iso,
            types=types,
            programme=query.programme,
            group_fields=group_fields,
        )

    def _flow_cells(
        self, query: IndicatorQuery, groups: Sequence[Document], group_fields: dict[str, str]
    ) -> dict[Key, float]:
        indicator = query.indicator
        cells: dict[Key, float] = defaultdict(float)
        for group in groups:
            ids = group["_id"]
            if "type" in ids and ids["type"] not in indicator.types:
                continue
            child = child_towards(query.unit_id, ids["u"], self._units)
            if child is None:  # a share of the fact that went to another unit
                continue
            known = {"child_unit": child, **{name: ids.get(name) for name in group_fields}}
            for split, value in _flow_splits(indicator, group, query.by):
                key = tuple({**known, **split}[dim] for dim in query.by)
                cells[key] += value
        return cells

    # --- stocks (clubs, members at the period end) -----------------------------------

    async def _stock_cells(self, query: IndicatorQuery) -> dict[Key, float]:
        end = query.period.end
        clubs: dict[str, dict[str, Any]] = {}
        for club in await self._models.clubs_at(end.isoformat(), query.programme):
            leaf = club_unit(club["unit_id"], end, query.structure, self._units)
            child = child_towards(query.unit_id, leaf, self._units)
            if child is not None:
                clubs[club["_id"]] = {"child_unit": child, "kind": club.get("kind")}
        cells: dict[Key, float] = defaultdict(float)
        if query.indicator.kind == "clubs":
            for known in clubs.values():
                cells[tuple(known[dim] for dim in query.by)] += 1
            return cells
        for group in await self._models.member_groups(end.isoformat(), list(clubs)):
            ids = group["_id"]
            known = {**clubs[ids["c"]], "sex": ids["sex"], "ethnic_minority": bool(ids["em"])}
            cells[tuple(known[dim] for dim in query.by)] += group["n"]
        return cells

    # --- rows ------------------------------------------------------------------------

    def _rows(self, query: IndicatorQuery, cells: dict[Key, float]) -> IndicatorResult:
        domains = [
            self._domain(query, dim, cells, position) for position, dim in enumerate(query.by)
        ]
        keys = list(itertools.product(*domains)) if query.by else [()]
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
                if dim == "child_unit":
                    row["unit_id"] = part
                    node = self._units.get(part)
                    row["unit_name"] = node.name if node else None
                else:
                    row[dim] = part
            row["value"] = _number(value, decimals)
            rows.append(row)
        return IndicatorResult(rows, _number(total, decimals))

    def _domain(
        self, query: IndicatorQuery, dim: str, cells: dict[Key, float], position: int
    ) -> list[Any]:
        seen = [key[position] for key, value in cells.items() if value]
        base: Sequence[Any]
        if dim == "sex":
            base = SEXES
        elif dim == "ethnic_minority":
            base = (True, False)
        elif dim == "grade":
            base = GRADES
        elif dim == "kind":
            base = query.indicator.kind_values
        elif dim == "month":
            base = query.period.months()
        else:
            base = children_in_force(
                query.unit_id,
                query.period.start,
                query.period.end,
                query.structure,
                self._units,
            )
        return _ordered(base, seen)


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
