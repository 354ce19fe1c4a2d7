"""What DHIS2 and ADX exports share: the operator's mapping file, data points, periods.

The mapping file (JSON, `services/reporting/dhis2_mapping.json` unless
the `dhis2_mapping_file` setting names another) says which DHIS2 data element each indicator
is, which org unit each unit is (unmapped units are sent under their own id), which
category option combo each disaggregation is, and the ADX attribute names. It is read
again whenever the file changes on disk, so an operator's edit takes effect on the
next export without a restart; every replica reads its own copy of the file.

An export answers the same query as the analytics API; each row becomes a data point
whose org unit is the row's unit (the split unit with `child_unit`/`level:`, else the
asked one), whose period is the row's time split (`by=month`, …) or else the asked
period, and whose disaggregation is the rest of its dimensions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.reporting.analytics import Answered, bad_query
from services.reporting.catalogue import TIME_DIMENSIONS
from services.reporting.indicators import is_unit_dimension
from shared.http import Problem
from shared.periods import Period, parse_period

DEFAULT_MAPPING = Path(__file__).with_name("dhis2_mapping.json")


class AdxAttribute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", description="XML attribute name")
    values: dict[str, str] = Field(description='our value ("" when not reported) → code')


class Dhis2Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str = ""
    data_set: str = Field(min_length=1)
    data_elements: dict[str, str]
    org_units: dict[str, str] = Field(default_factory=dict)
    category_option_combos: dict[str, str]
    attribute_option_combos: dict[str, str] = Field(default_factory=dict)
    adx_attributes: dict[str, AdxAttribute] = Field(default_factory=dict)


class MappingSource:
    """The mapping file, parsed again when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._mapping: Dhis2Mapping | None = None

    def load(self) -> Dhis2Mapping:
        try:
            stamp = self.path.stat().st_mtime
            if self._mapping is None or stamp != self._stamp:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._mapping, self._stamp = Dhis2Mapping.model_validate(data), stamp
        except (OSError, ValueError, ValidationError) as exc:
            # The operator's file, not the request, is wrong: say so, and which file.
            raise Problem(
                503,
                "mapping-unavailable",
                "DHIS2 mapping unavailable",
                f"The mapping file {self.path} cannot be used: {exc}".splitlines()[0],
            ) from exc
        return self._mapping


def value_text(value: Any) -> str:
    """How a dimension value is written in the mapping's keys."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class DataPoint:
    indicator: str
    unit_id: str
    period: Period
    disaggregation: tuple[tuple[str, Any], ...]  # (dimension, value), in `by` order
    value: float | int
    programme: str | None


def data_points(answers: Sequence[Answered]) -> list[DataPoint]:
    """One data point per row; 422 when a row's period is not one DHIS2 can hold."""
    points: list[DataPoint] = []
    for answer in answers:
        query = answer.query
        timed = [dim for dim in query.by if dim in TIME_DIMENSIONS]
        if len(timed) > 1:
            raise bad_query(
                "unsupported-disaggregation",
                "One time split at most",
                f"An exchange export has one period per value: split by one of "
                f"{', '.join(timed)}, not several.",
                "by",
            )
        others = [dim for dim in query.by if dim not in TIME_DIMENSIONS]
        for row in answer.result.rows:
            period = query.period
            if timed:
                period = parse_period(str(row[timed[0]]))
                if period.start < query.period.start or period.end > query.period.end:
                    raise bad_query(
                        "invalid-period",
                        "Period only partly asked",
                        f"{period.key} is only partly inside {query.period.key}; DHIS2 "
                        f"would read the value as the whole of {period.key}. Ask for "
                        f"periods made of whole {timed[0].replace('_', ' ')}s.",
                        "period",
                    )
            split_unit = any(is_unit_dimension(dim) for dim in others)
            points.append(
                DataPoint(
                    indicator=query.indicator.code,
                    unit_id=row["unit_id"] if split_unit else query.unit_id,
                    period=period,
                    disaggregation=tuple(
                        (dim, row[dim]) for dim in others if not is_unit_dimension(dim)
                    ),
                    value=row["value"],
                    programme=query.programme,
                )
            )
    return points


def dhis2_period(period: Period) -> str:
    """DHIS2's period id: `2023`, `2023S1`, `2023Q1`, `202301`; a school year is sent
    as the financial year starting in July of its first year (`2023July`), the
    period type DHIS2 has nearest to September to August."""
    year = period.start.year
    if period.kind == "year":
        return f"{year}"
    if period.kind == "half":
        return f"{year}S{1 if period.start.month == 1 else 2}"
    if period.kind == "quarter":
        return f"{year}Q{(period.start.month - 1) // 3 + 1}"
    if period.kind == "month":
        return f"{year}{period.start.month:02d}"
    if period.kind == "school_year":
        return f"{year}July"
    raise bad_query(
        "invalid-period",
        "No DHIS2 period",
        f"DHIS2 has no period id for the range {period.key}; ask for years, halves, "
        "quarters, months or school years (or use the ADX export, which takes ranges).",
        "period",
    )


def adx_period(period: Period) -> str:
    """ADX's period: the first day and an ISO 8601 duration (`2023-01-01/P3M`)."""
    durations = {"year": "P1Y", "school_year": "P1Y", "half": "P6M", "quarter": "P3M"}
    duration = durations.get(period.kind)
    if period.kind == "month":
        duration = "P1M"
    if duration is None:
        duration = f"P{(period.end - period.start).days + 1}D"
    return f"{period.start.isoformat()}/{duration}"


class Mapped:
    """Lookups in one mapping, each refusing (422) what the file does not say."""

    def __init__(self, mapping: Dhis2Mapping, source: Path) -> None:
        self.mapping = mapping
        self.source = source

    def _missing(self, what: str) -> Problem:
        return Problem(
            422,
            "unmapped",
            "Not in the DHIS2 mapping",
            f"The mapping file {self.source.name} has no {what}; add it there (see "
            "docs/reporting.md, Exchange with DHIS2).",
        )

    def data_element(self, indicator: str) -> str:
        found = self.mapping.data_elements.get(indicator)
        if found is None:
            raise self._missing(f"data element for {indicator}")
        return found

    def org_unit(self, unit_id: str) -> str:
        return self.mapping.org_units.get(unit_id, unit_id)

    def category_option_combo(self, disaggregation: Sequence[tuple[str, Any]]) -> str:
        key = (
            ",".join(f"{dim}={value_text(value)}" for dim, value in sorted(disaggregation))
            or "default"
        )
        found = self.mapping.category_option_combos.get(key)
        if found is None:
            raise self._missing(f"category option combo for {key!r}")
        return found

    def attribute_option_combo(self, programme: str | None) -> str | None:
        return None if programme is None else self.mapping.attribute_option_combos.get(programme)

    def adx_attributes(self, disaggregation: Sequence[tuple[str, Any]]) -> dict[str, str]:
        found: dict[str, str] = {}
        for dim, value in disaggregation:
            attribute = self.mapping.adx_attributes.get(dim)
            if attribute is None:
                raise self._missing(f"ADX attribute for {dim}")
            code = attribute.values.get(value_text(value))
            if code is None:
                raise self._missing(f"ADX code for {dim}={value_text(value)!r}")
            found[attribute.name] = code
        return found
