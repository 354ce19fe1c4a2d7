"""Reports built on the indicators: summary, plan against actual, completeness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.reporting.approvals import ApprovalScope, spans_of
from services.reporting.catalogue import CATALOGUE, INDICATORS
from services.reporting.indicators import IndicatorEngine, IndicatorQuery
from services.reporting.placement import Structure, children_in_force
from services.reporting.repository import ReadModels
from services.reporting.rounding import round_half_up
from shared.mongo import Document
from shared.periods import Period, PeriodError, parse_period
from shared.units import NATION_ID, UnitIndex, edition_of

LEVELS = ("province", "district", "commune", "village")


def achieved_pct(actual: float | None, target: float) -> float | None:
    """actual / target * 100, rounded half up to one decimal; none for a zero target."""
    if actual is None or target == 0:
        return None
    return round_half_up(actual / target * 100, 1)


def integral(value: float) -> float | int:
    """A whole number as an int (a plan's `40.0` is 40 people), others unchanged."""
    return int(value) if float(value).is_integer() else value


def _within(text: str, period: Period) -> bool:
    try:
        target = parse_period(text)
    except PeriodError:
        return False
    return period.start <= target.start and target.end <= period.end


def structure_for_target(unit_id: str) -> Structure:
    """A target on a vn34 unit is compared with restated figures, so that a period
    beginning before 2025-07-01 counts the work done there before the reform too."""
    return "vn34" if edition_of(unit_id) == "vn34" else "as_was"


ScopeReader = Callable[[str | None, Sequence[Period]], Awaitable[ApprovalScope | None]]


async def _all_data(programme: str | None, periods: Sequence[Period]) -> ApprovalScope | None:
    return None


class Reports:
    """`scope_of`: the approved data a report's figures are limited to, for a programme
    (none: every programme) and the periods it computes (`approval=approved`); by
    default, all submitted data."""

    def __init__(
        self, models: ReadModels, units: UnitIndex, scope_of: ScopeReader = _all_data
    ) -> None:
        self._models = models
        self._units = units
        self._scope_of = scope_of
        self._engine = IndicatorEngine(models, units)

    async def _engine_for(
        self, programme: str | None, periods: Sequence[Period]
    ) -> IndicatorEngine:
        scope = await self._scope_of(programme, periods)
        return self._engine if scope is None else IndicatorEngine(self._models, self._units, scope)

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
        engine = await self._engine_for(programme, [period])
        results = await engine.compute_batch(queries)
        for query, result in zip(queries, results, strict=True):
            indicator = query.indicator
            item: dict[str, Any] = {
                "indicator": indicator.code,
                "name": indicator.name,
                "name_vi": indicator.name_vi,
                "measure": indicator.measure,
                "measure_vi": indicator.measure_vi,
                "value": result.total,
            }
            if query.by:
                for row in result.rows:
                    item[row["sex"] or "sex_unknown"] = row["value"]
            items.append(item)
        return items

    async def targets(
        self,
        programmes: Sequence[str],
        unit_id: str | None,
        period: Period | None,
        readable: Callable[[str], bool],
        below: bool = False,
    ) -> list[dict[str, Any]]:
        """The plans' targets (on `unit_id` — or below it with `below` — and lying
        within `period` when given) on units for which `readable(unit_id)` holds, each with its
        actual figure; the actual figures are computed together (compute_batch)."""
        chosen: list[tuple[str, Document]] = []
        for programme in programmes:
            document = await self._models.targets_of(programme)
            for target in (document or {}).get("targets", []):
                target_unit = target["unit_id"]
                inside = below and unit_id in self._units.lineage(target_unit)
                if unit_id is not None and target_unit != unit_id and not inside:
                    continue
                if not readable(target_unit):
                    continue
                if period is not None and not _within(target["period"], period):
                    continue
                chosen.append((programme, target))
        queries: dict[tuple[str, str, str, str], IndicatorQuery | None] = {}
        for programme, target in chosen:
            key = (programme, target["indicator"], target["unit_id"], target["period"])
            if key not in queries:
                queries[key] = self._actual_query(*key)
        wanted = [query for query in queries.values() if query is not None]
        scoped_to = programmes[0] if len(programmes) == 1 else None
        engine = await self._engine_for(scoped_to, [query.period for query in wanted])
        results = dict(zip(wanted, await engine.compute_batch(wanted), strict=True))
        rows: list[dict[str, Any]] = []
        for programme, target in chosen:
            key = (programme, target["indicator"], target["unit_id"], target["period"])
            query = queries[key]
            actual = results[query].total if query is not None else None
            value = integral(target["value"])
            node = self._units.get(target["unit_id"])
            rows.append(
                {
                    "programme": programme,
                    "indicator": target["indicator"],
                    "unit_id": target["unit_id"],
                    "unit_name": node.name if node else None,
                    "period": target["period"],
                    "target": value,
                    "actual": actual,
                    "achieved_pct": achieved_pct(actual, float(value)),
                }
            )
        return rows

    def _actual_query(
        self, programme: str, code: str, unit_id: str, period_text: str
    ) -> IndicatorQuery | None:
        indicator = INDICATORS.get(code)
        if indicator is None or (unit_id != NATION_ID and unit_id not in self._units):
            return None
        try:
            period = parse_period(period_text)
        except PeriodError:
            return None
        return IndicatorQuery(
            indicator, unit_id, period, (), programme, structure_for_target(unit_id)
        )

    async def completeness(
        self, parent: str, level: str, period: Period, programme: str | None = None
    ) -> list[dict[str, Any]]:
        """The units at `level` below `parent` in force during the period, whether each
        reported any activity (its own or below it; of `programme` when given) dated in
        the period, and whether its data for the whole period is approved (by a record
        on it or above it in state approved or accepted, of `programme` or, without
        one, of any one programme)."""
        candidates = self.units_at(parent, level, period)
        counts = dict.fromkeys(candidates, 0)
        records = await self._models.approved_records(programme, period.start_iso, period.end_iso)
        scope = ApprovalScope(spans_of(records), self._units)
        found = await self._engine.activity_counts(parent, period, programme)
        for recorded_on, count in found.items():
            for unit in self._units.lineage(recorded_on):
                if unit in counts:
                    counts[unit] += count
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
                    "approved": scope.covers_period(programme, unit, period.start, period.end),
                }
            )
        return items

    def units_at(self, parent: str, level: str, period: Period) -> list[str]:
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
