"""The analytics API: several indicators, units and periods, split by any dimensions.

A request names indicators, units and periods (comma lists; periods may be relative),
`by` dimensions, a programme and a structure. It becomes one `IndicatorQuery` per
(indicator, unit, period), computed together by the engine (one read per unit and
period for all flow indicators), and the answer lists one row per combination with
the indicator, the unit, the period and the split dimensions named as in `by`.

Checks, in the documented order: indicators (404), units (404) and scope (403) in the
service; then periods, `by` and sizes here (422 problems naming the parameter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.reporting.catalogue import (
    DIMENSIONS,
    LEVELS,
    TIME_DIMENSIONS,
    UNIT_DIMENSIONS,
    Indicator,
)
from services.reporting.indicators import (
    IndicatorEngine,
    IndicatorQuery,
    IndicatorResult,
    is_unit_dimension,
)
from services.reporting.placement import LEVEL_RANK, Structure, level_of
from services.reporting.relative_periods import TIME_ZONE, PeriodSelection
from shared.http import Problem
from shared.units import NATION_ID, UnitIndex, edition_of

MAX_INDICATORS = 20
MAX_UNITS = 50
MAX_PERIODS = 60
# Rows of one answer (zeros included): beyond this, ask for fewer units or periods.
MAX_ROWS = 100_000


def bad_query(kind: str, title: str, detail: str, field: str) -> Problem:
    return Problem(422, kind, title, detail, errors=[{"loc": ["query", field], "msg": detail}])


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_by(text: str | None) -> tuple[str, ...]:
    """The `by` dimensions in order; 422 naming the allowed ones for an unknown one."""
    dims = tuple(split_list(text))
    unknown = [dim for dim in dims if dim not in DIMENSIONS]
    if unknown:
        raise bad_query(
            "unsupported-disaggregation",
            "Unknown dimension",
            f"Unknown dimension {', '.join(unknown)} in `by`; the dimensions are "
            f"{', '.join(DIMENSIONS)}.",
            "by",
        )
    if len(set(dims)) != len(dims):
        raise bad_query(
            "unsupported-disaggregation",
            "Repeated dimension",
            "A dimension appears twice in `by`.",
            "by",
        )
    places = [dim for dim in dims if dim in UNIT_DIMENSIONS]
    if len(places) > 1:
        raise bad_query(
            "unsupported-disaggregation",
            "Two splits by unit",
            f"`by` may split by one of {', '.join(UNIT_DIMENSIONS)} at a time, not by "
            f"{' and '.join(places)}.",
            "by",
        )
    return dims


def check_by(indicator: Indicator, dims: Sequence[str]) -> None:
    """422 when the indicator lacks one of the dimensions, or cannot cross two."""
    unsupported = [dim for dim in dims if dim not in indicator.disaggregations]
    if unsupported:
        note = ""
        if indicator.kind != "flow" and any(dim in TIME_DIMENSIONS for dim in unsupported):
            note = (
                " A stock counted at the end of each month would not add up to its "
                "total: ask for several periods instead (period=2023Q1,2023Q2,…)."
            )
        raise bad_query(
            "unsupported-disaggregation",
            "Unsupported disaggregation",
            f"{indicator.code} cannot be split by {', '.join(unsupported)}; it supports "
            f"{', '.join(indicator.disaggregations)}.{note}",
            "by",
        )
    if indicator.kind == "flow" and {"sex", "ethnic_minority"} <= set(dims):
        raise bad_query(
            "unsupported-disaggregation",
            "Unsupported disaggregation",
            "Activities report ethnic-minority participants without their sex, so "
            "sex and ethnic_minority cannot be combined for this indicator.",
            "by",
        )


def check_levels(unit_ids: Sequence[str], dims: Sequence[str], units: UnitIndex) -> None:
    """A `level:` split must lie at or below each asked unit, and vn34 units have no
    districts."""
    for dim in dims:
        if not dim.startswith("level:"):
            continue
        level = dim.removeprefix("level:")
        for unit_id in unit_ids:
            own = level_of(unit_id, units) or "nation"
            if LEVEL_RANK.get(own, 0) < LEVEL_RANK[level]:
                raise bad_query(
                    "unsupported-disaggregation",
                    "Level above the unit",
                    f"{unit_id} is a {own}: it has no {level} below it (levels: "
                    f"{', '.join(LEVELS)}).",
                    "by",
                )
            if level == "district" and edition_of(unit_id) == "vn34":
                raise bad_query(
                    "unsupported-disaggregation",
                    "No districts since 2025-07-01",
                    f"{unit_id} is a unit of the 34-province structure, which has no "
                    "districts: use level:commune.",
                    "by",
                )


@dataclass(frozen=True)
class AnalyticsRequest:
    indicators: tuple[Indicator, ...]
    unit_ids: tuple[str, ...]
    selection: PeriodSelection
    by: tuple[str, ...]
    programme: str | None
    structure: Structure

    def queries(self) -> list[IndicatorQuery]:
        return [
            IndicatorQuery(
                indicator, unit_id, asked.period, self.by, self.programme, self.structure
            )
            for indicator in self.indicators
            for unit_id in self.unit_ids
            for asked in self.selection.periods
        ]


def check_size(engine: IndicatorEngine, queries: Sequence[IndicatorQuery]) -> None:
    """422 before reading anything when the answer would hold more than MAX_ROWS rows."""
    rows = 0
    for query in queries:
        rows += engine.row_count(query)
        if rows > MAX_ROWS:
            raise bad_query(
                "too-many-rows",
                "Answer too large",
                f"This request would answer more than {MAX_ROWS:,} rows; ask for fewer "
                "units, periods or dimensions (or a higher level).",
                "by",
            )


@dataclass(frozen=True)
class Answered:
    query: IndicatorQuery
    result: IndicatorResult


def unit_name(unit_id: str, units: UnitIndex) -> str | None:
    node = units.get(unit_id)
    return node.name if node else ("Việt Nam" if unit_id == NATION_ID else None)


def analytics_rows(answers: Sequence[Answered], units: UnitIndex) -> list[dict[str, Any]]:
    """Every row named by its indicator, unit and period. A row split by unit
    (`child_unit`, `level:…`) names that unit as `unit_id`/`unit_name` and the asked
    one as `within_unit_id`."""
    rows: list[dict[str, Any]] = []
    for answer in answers:
        query = answer.query
        split = any(is_unit_dimension(dim) for dim in query.by)
        base: dict[str, Any] = {"indicator": query.indicator.code}
        if split:
            base["within_unit_id"] = query.unit_id
        else:
            base["unit_id"] = query.unit_id
            base["unit_name"] = unit_name(query.unit_id, units)
        base["period"] = query.period.key
        for row in answer.result.rows:
            rows.append({**base, **row})
    return rows


def totals(answers: Sequence[Answered]) -> list[dict[str, Any]]:
    return [
        {
            "indicator": answer.query.indicator.code,
            "unit_id": answer.query.unit_id,
            "period": answer.query.period.key,
            "value": answer.result.total,
        }
        for answer in answers
    ]


def periods_echo(selection: PeriodSelection) -> dict[str, Any]:
    """What the answer says about its periods: each one with its days and what was
    asked for it, and what each relative period resolved to on which day."""
    return {
        "periods": [
            {
                "period": asked.period.key,
                "kind": asked.period.kind,
                "start": asked.period.start,
                "end": asked.period.end,
                "asked": asked.asked,
            }
            for asked in selection.periods
        ],
        "relative_periods": selection.relative,
        "resolved_on": selection.today,
        "time_zone": TIME_ZONE,
    }


def values_rows(
    answers: Sequence[Answered], units: UnitIndex, many_units: bool, many_periods: bool
) -> list[dict[str, Any]]:
    """Rows of one indicator over several units or periods: each names its period
    (several periods) and its unit (several units: as `within_unit_id` when the rows
    are split by unit, whose `unit_id` is then the split unit)."""
    rows: list[dict[str, Any]] = []
    for answer in answers:
        query = answer.query
        base: dict[str, Any] = {}
        if many_units:
            if any(is_unit_dimension(dim) for dim in query.by):
                base["within_unit_id"] = query.unit_id
            else:
                base["unit_id"] = query.unit_id
                base["unit_name"] = unit_name(query.unit_id, units)
        if many_periods:
            base["period"] = query.period.key
        rows.extend({**base, **row} for row in answer.result.rows)
    return rows
