"""Reports built on the indicators: summary, plan against actual, completeness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.reporting.catalogue import CATALOGUE, INDICATORS
from services.reporting.indicators import IndicatorEngine, IndicatorQuery, IndicatorResult
from services.reporting.placement import Structure, children_in_force
from services.reporting.repository import ReadModels
from services.reporting.rounding import round_half_up
from shared.periods import Period, PeriodError, parse_period
from shared.units import UnitIndex, edition_of

LEVELS = ("province", "district", "commune", "village")


def achieved_pct(actual: float | None, target: float) -> float | None:
    """actual / target * 100, rounded half up to one decimal; none for a zero target."""
    if actual is None or target == 0:
        return None
    return round_half_up(actual / target * 100, 1)


def structure_for_target(unit_id: str) -> Structure:
    """A target on a vn34 unit is compared with restated figures, so that a period
    beginning before 2025-07-01 counts the work done there before the reform too."""
    return "vn34" if edition_of(unit_id) == "vn34" else "as_was"


class Reports:
    def __init__(self, models: ReadModels, units: UnitIndex) -> None:
        self._models = models
        self._units = units
        self._engine = IndicatorEngine(models, units)

    async def summary(
        self, unit_id: str, period: Period, structure: Structure, programme: str | None
    ) -> list[dict[str, Any]]:
        queries = [
            IndicatorQuery(
                indicator,
                unit_id,
                period,
                ("sex",) if "sex" in indicator.disaggregations else (),
                programme,
                structure,
            )
            for indicator in CATALOGUE
        ]
        items: list[dict[str, Any]] = []
        for query, result in zip(queries, await self._engine.compute_many(queries), strict=True):
            indicator = query.indicator
            item: dict[str, Any] = {
                "indicator": indicator.code,
                "name": indicator.name,
                "name_vi": indicator.name_vi,
                "measure": indicator.measure,
                "value": result.total,
            }
            if query.by:
                for row in result.rows:
                    item[row["sex"]] = row["value"]
            items.append(item)
        return items

    async def targets(
        self,
        programme: str,
        unit_id: str | None,
        period: str | None,
        readable: Callable[[str], bool],
    ) -> list[dict[str, Any]]:
        """The plan's targets (on `unit_id`, in `period` when given) on units for which
        `readable(unit_id)` holds, each with its actual figure."""
        document = await self._models.targets_of(programme)
        rows: list[dict[str, Any]] = []
        actuals: dict[tuple[str, str, str], IndicatorResult | None] = {}
        for target in (document or {}).get("targets", []):
            if unit_id is not None and target["unit_id"] != unit_id:
                continue
            if not readable(target["unit_id"]):
                continue
            if period is not None and target["period"] != period:
                continue
            key = (target["indicator"], target["unit_id"], target["period"])
            if key not in actuals:
                actuals[key] = await self._actual(programme, *key)
            result = actuals[key]
            actual = result.total if result is not None else None
            rows.append(
                {
                    "indicator": target["indicator"],
                    "unit_id": target["unit_id"],
                    "period": target["period"],
                    "target": target["value"],
                    "actual": actual,
                    "achieved_pct": achieved_pct(actual, float(target["value"])),
                }
            )
        return rows

    async def _actual(
        self, programme: str, code: str, unit_id: str, period_text: str
    ) -> IndicatorResult | None:
        indicator = INDICATORS.get(code)
        if indicator is None or (unit_id != "vn" and unit_id not in self._units):
            return None
        try:
            period = parse_period(period_text)
        except PeriodError:
            return None
        query = IndicatorQuery(
            indicator, unit_id, period, (), programme, structure_for_target(unit_id)
        )
        return await self._engine.compute(query)

    async def completeness(self, parent: str, level: str, period: Period) -> list[dict[str, Any]]:
        """The units at `level` below `parent` in force during the period, and whether
        each reported any activity (its own or below it) dated in the period."""
        candidates = self._units_at(parent, level, period)
        counts = dict.fromkeys(candidates, 0)
        for row in await self._models.activity_counts_by_unit(
            parent, period.start_iso, period.end_iso
        ):
            for unit in self._units.lineage(row["_id"]):
                if unit in counts:
                    counts[unit] += row["n"]
                    break
        items = []
        for unit in candidates:
            node = self._units.get(unit)
            items.append(
                {
                    "unit_id": unit,
                    "name": node.name if node else None,
                    "reported": counts[unit] > 0,
                    "activities": counts[unit],
                }
            )
        return items

    def _units_at(self, parent: str, level: str, period: Period) -> list[str]:
        found: list[str] = []
        frontier = [parent]
        while frontier:
            below: list[str] = []
            for unit in frontier:
                for child in children_in_force(
                    unit, period.start, period.end, "as_was", self._units
                ):
                    node = self._units.get(child)
                    if node is None:
                        continue
                    if node.level == level:
                        found.append(child)
                    elif node.level in LEVELS and LEVELS.index(node.level) < LEVELS.index(level):
                        below.append(child)
            frontier = below
        return sorted(found)
