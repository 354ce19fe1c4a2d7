"""Checked indicator queries: the analytics API, the values endpoint, the DHIS2 and
ADX exports and map points.

Every request is checked in the documented order before anything is computed:
indicators (404), units (404) and the caller's scope (403), then periods, `by` and the
answer's size (422). Relative periods resolve on `clock()`'s date in Vietnam.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.reporting.access import require_reading_role, require_viewer
from services.reporting.adx import adx_message
from services.reporting.analytics import (
    MAX_INDICATORS,
    MAX_PERIODS,
    MAX_UNITS,
    AnalyticsRequest,
    Answered,
    analytics_rows,
    bad_query,
    check_by,
    check_levels,
    check_size,
    parse_by,
    periods_echo,
    split_list,
    totals,
    unit_name,
    values_rows,
)
from services.reporting.approvals import ApprovalFilter, ApprovalScope, approval_filter, spans_of
from services.reporting.catalogue import INDICATORS, Indicator
from services.reporting.datavaluesets import data_value_set
from services.reporting.generations import Generations
from services.reporting.geo import SOURCE as GEO_SOURCE
from services.reporting.geo import Centroids
from services.reporting.indicators import IndicatorEngine
from services.reporting.interop import (
    DEFAULT_MAPPING,
    DataPoint,
    Mapped,
    MappingSource,
    data_points,
)
from services.reporting.placement import Structure
from services.reporting.relative_periods import PeriodSelection, parse_periods, today_in_vietnam
from shared.auth.principal import Principal
from shared.http import Problem
from shared.periods import Period, PeriodError
from shared.units import NATION_ID, edition_of

MAX_ID = 64
MAX_MAP_UNITS = 500


class IndicatorQueries:
    def __init__(self, generations: Generations, mapping_file: str | None = None) -> None:
        self.generations = generations
        self.mapping = MappingSource(Path(mapping_file) if mapping_file else DEFAULT_MAPPING)
        self.centroid_source = Centroids()
        # What "now" is for relative periods (THIS_YEAR, …); tests set a fixed one.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- checks ----------------------------------------------------------------------

    def indicator(self, code: str) -> Indicator:
        found = INDICATORS.get(code)
        if found is None:
            raise Problem(
                404,
                "unknown-indicator",
                "Unknown indicator",
                f"No indicator {code!r}; GET /v1/indicators lists them.",
            )
        return found

    def period(self, text: str) -> Period:
        """One period: a period, or a relative period standing for one (THIS_YEAR)."""
        selection = self.periods(text)
        if len(selection.periods) != 1:
            raise bad_query(
                "invalid-period",
                "One period expected",
                f"This report takes one period; {text!r} stands for {', '.join(selection.keys)}.",
                "period",
            )
        return selection.periods[0].period

    def unit(
        self,
        caller: Principal,
        unit_id: str,
        structure: Structure = "as_was",
        field: str = "unit_id",
    ) -> str:
        """A known unit (404 otherwise) whose figures the caller may read (403)."""
        units = self.generations.active.units
        if unit_id != NATION_ID and unit_id not in units:
            # Units are national reference data (the registry lists them to anyone
            # authenticated), so telling unknown from forbidden reveals nothing.
            raise Problem(
                404, "unknown-unit", "Unknown unit", f"No administrative unit {unit_id!r}."
            )
        require_viewer(caller, unit_id, units)
        if structure == "vn34" and unit_id != NATION_ID and edition_of(unit_id) != "vn34":
            raise bad_query(
                "unit-not-in-structure",
                "Unit not in this structure",
                f"structure=vn34 restates figures onto today's units: ask for a vn34 unit "
                f"or vn, not {unit_id!r} (or use structure=as_was).",
                field,
            )
        return unit_id

    def indicators(self, text: str, field: str = "indicator") -> tuple[Indicator, ...]:
        codes = list(dict.fromkeys(split_list(text)))
        if not codes:
            raise bad_query("validation", "Invalid request", "No indicator given.", field)
        if len(codes) > MAX_INDICATORS or any(len(code) > MAX_ID for code in codes):
            raise bad_query(
                "validation",
                "Invalid request",
                f"At most {MAX_INDICATORS} indicator codes of at most {MAX_ID} characters.",
                field,
            )
        return tuple(self.indicator(code) for code in codes)

    def units(
        self, caller: Principal, text: str, structure: Structure, field: str = "unit_id"
    ) -> tuple[str, ...]:
        """Known units (404) the caller may read (403), from a comma list."""
        unit_ids = list(dict.fromkeys(split_list(text)))
        if not unit_ids:
            raise bad_query("validation", "Invalid request", "No unit given.", field)
        too_long = [unit_id for unit_id in unit_ids if len(unit_id) > MAX_ID]
        if too_long or len(unit_ids) > MAX_UNITS:
            detail = (
                f"A unit id has at most {MAX_ID} characters."
                if too_long
                else f"At most {MAX_UNITS} units per request."
            )
            raise bad_query("validation", "Invalid request", detail, field)
        return tuple(self.unit(caller, unit_id, structure, field) for unit_id in unit_ids)

    def periods(self, text: str) -> PeriodSelection:
        try:
            return parse_periods(text, today_in_vietnam(self.clock()), MAX_PERIODS)
        except PeriodError as exc:
            raise bad_query("invalid-period", "Invalid period", str(exc), "period") from exc

    def periods_echo(self, text: str) -> dict[str, Any]:
        return periods_echo(self.periods(text))

    def analytics_request(
        self,
        caller: Principal,
        indicators: tuple[Indicator, ...],
        unit_text: str,
        period_text: str,
        by_text: str | None,
        programme: str | None,
        structure: Structure,
    ) -> AnalyticsRequest:
        """The checked request: units and scope first (404, 403), then periods and
        `by` (422), so that nothing is computed for a caller who may not see it."""
        unit_ids = self.units(caller, unit_text, structure)
        selection = self.periods(period_text)
        by = parse_by(by_text)
        for indicator in indicators:
            check_by(indicator, by)
        check_levels(unit_ids, by, self.generations.active.units)
        return AnalyticsRequest(indicators, unit_ids, selection, by, programme, structure)

    async def scope(
        self, approval: ApprovalFilter, programme: str | None, periods: Sequence[Period]
    ) -> ApprovalScope | None:
        """With `approval=approved`, the approved records meeting the periods, read once
        for the whole request (approvals.py); none for all submitted data."""
        if approval == "all" or not periods:
            return None
        active = self.generations.active
        start = min(period.start for period in periods).isoformat()
        end = max(period.end for period in periods).isoformat()
        records = await active.models.approved_records(programme, start, end)
        return ApprovalScope(spans_of(records), active.units)

    async def answer(
        self, request: AnalyticsRequest, approval: ApprovalFilter = "all"
    ) -> list[Answered]:
        active = self.generations.active
        periods = [asked.period for asked in request.selection.periods]
        scope = await self.scope(approval, request.programme, periods)
        engine = IndicatorEngine(active.models, active.units, scope)
        queries = request.queries()
        check_size(engine, queries)
        results = await engine.compute_batch(queries)
        return [Answered(query, result) for query, result in zip(queries, results, strict=True)]

    # --- queries ---------------------------------------------------------------------

    async def indicator_values(
        self,
        caller: Principal,
        code: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
        approval: str | None = None,
    ) -> dict[str, Any]:
        """One indicator; with one unit and one period, the rows as they always were
        (and `total`); with several, each row also names its period and unit."""
        indicator = self.indicator(code)
        request = self.analytics_request(
            caller, (indicator,), unit_id, period, by, programme, structure
        )
        chosen = approval_filter(approval)
        answers = await self.answer(request, chosen)
        units = self.generations.active.units
        single = len(answers) == 1
        return {
            "indicator": indicator.code,
            "unit_id": ",".join(request.unit_ids),
            "unit_name": unit_name(request.unit_ids[0], units)
            if len(request.unit_ids) == 1
            else None,
            "period": ",".join(request.selection.keys),
            **periods_echo(request.selection),
            "structure": structure,
            "programme": programme,
            "approval": chosen,
            "by": list(request.by),
            "rows": answers[0].result.rows
            if single
            else values_rows(
                answers, units, len(request.unit_ids) > 1, len(request.selection.periods) > 1
            ),
            "total": answers[0].result.total if single else None,
            "totals": totals(answers),
            "as_of": datetime.now(UTC),
        }

    async def analytics(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
        approval: str | None = None,
    ) -> dict[str, Any]:
        """Several indicators, units and periods in one answer (GET /v1/analytics)."""
        indicators = self.indicators(indicator)
        request = self.analytics_request(
            caller, indicators, unit_id, period, by, programme, structure
        )
        chosen = approval_filter(approval)
        answers = await self.answer(request, chosen)
        units = self.generations.active.units
        return {
            "indicators": [item.code for item in request.indicators],
            "units": [
                {"unit_id": unit, "unit_name": unit_name(unit, units)} for unit in request.unit_ids
            ],
            **periods_echo(request.selection),
            "structure": structure,
            "programme": programme,
            "approval": chosen,
            "by": list(request.by),
            "rows": analytics_rows(answers, units),
            "totals": totals(answers),
            "as_of": datetime.now(UTC),
        }

    async def data_value_sets(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
        approval: str | None = None,
    ) -> dict[str, Any]:
        """The analytics answer as DHIS2 `dataValueSets` JSON."""
        mapped = self._mapped()
        points = await self._exchange_points(
            caller, indicator, unit_id, period, by, programme, structure, approval
        )
        return data_value_set(points, mapped)

    async def adx(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
        approval: str | None = None,
    ) -> bytes:
        """The analytics answer as an ADX 1.0 message."""
        mapped = self._mapped()
        points = await self._exchange_points(
            caller, indicator, unit_id, period, by, programme, structure, approval
        )
        return adx_message(points, mapped, datetime.now(UTC))

    def _mapped(self) -> Mapped:
        # Read first: a broken mapping file is said before anything is computed.
        return Mapped(self.mapping.load(), self.mapping.path)

    async def _exchange_points(
        self,
        caller: Principal,
        indicator: str,
        unit_id: str,
        period: str,
        by: str | None,
        programme: str | None,
        structure: Structure,
        approval: str | None = None,
    ) -> list[DataPoint]:
        request = self.analytics_request(
            caller, self.indicators(indicator), unit_id, period, by, programme, structure
        )
        return data_points(await self.answer(request, approval_filter(approval)))

    async def centroids(self, caller: Principal, unit_text: str) -> dict[str, Any]:
        """Map points of units (reference data: any client with a reading role)."""
        require_reading_role(caller)
        unit_ids = list(dict.fromkeys(split_list(unit_text)))
        if not unit_ids or len(unit_ids) > MAX_MAP_UNITS:
            raise bad_query(
                "validation",
                "Invalid request",
                f"unit_id is a comma list of 1 to {MAX_MAP_UNITS} unit ids.",
                "unit_id",
            )
        units = self.generations.active.units
        points = await self.centroid_source.of(unit_ids, units)
        items = []
        for unit in unit_ids:
            point = points[unit]
            node = units.get(unit)
            items.append(
                {
                    "unit_id": unit,
                    "unit_name": unit_name(unit, units),
                    "level": node.level if node else ("nation" if unit == NATION_ID else None),
                    "lat": point[0] if point else None,
                    "lon": point[1] if point else None,
                }
            )
        return {"items": items, "source": GEO_SOURCE}
