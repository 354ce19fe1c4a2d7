"""Pre-aggregated sums of the facts per structure, unit and month (and year).

A *cell* `(structure, unit, period)` holds, per activity type, programme, support kind
and grade, the sums of every fact measure: `own` for the facts placed on the unit
itself, `rows` for the unit and everything below it. `period` is a month (`2023-07`)
or a year (`2023`). A cell is never incremented: it is recomputed from the facts
placed on its unit (`own`) plus the cells of its children (`rows`), bottom-up, so a
redelivered, late or repeated event cannot count twice, and a revision or a void
simply changes the facts the next recomputation reads. A query for a province-year
reads one cell, a province-year by child unit one cell per child (docs/reporting.md).

`structure` is `as_was` (the fact's unit and its ancestors) or `vn34` (the fact's
shares restated onto today's units, each share weighting the fact's measures).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.mongo import Document
from shared.units import UnitIndex

AS_WAS = "as_was"
VN34 = "vn34"
STRUCTURES = (AS_WAS, VN34)

# Every measure a fact carries, summed in cells (and returned by flow queries).
MEASURES = (
    "n",
    "female",
    "male",
    "em",
    "emk",
    "recipients",
    "women",
    "children",
    "value_vnd",
    "budget_vnd",
    "days",
)
# What a cell row is keyed by, and the fact field each key comes from.
ROW_KEYS = {"t": "type", "p": "programme", "sk": "support_kind", "g": "grade"}
# Fact fields a flow query may group by, and where a cell keeps them.
GROUPABLE = {"m": "m", **{field: key for key, field in ROW_KEYS.items()}}

RowKey = tuple[Any, ...]


@dataclass(frozen=True, order=True)
class CellKey:
    structure: str
    unit: str
    period: str  # YYYY-MM, or YYYY for a year

    @property
    def id(self) -> str:
        return f"{self.structure}|{self.unit}|{self.period}"

    @property
    def year(self) -> str:
        return self.period[:4]


def placed_cells(fact: Mapping[str, Any] | None) -> set[CellKey]:
    """The month and year cells counting an active fact: as placed when it was written,
    its unit and every ancestor (`as_was`) and every vn34 unit its shares reach."""
    if fact is None or fact.get("status") != "active" or "m" not in fact:
        return set()
    month = str(fact["m"])
    cells: set[CellKey] = set()
    placements = (
        (AS_WAS, fact.get("lineage") or [fact.get("unit_id")]),
        (VN34, fact.get("r34") or ()),
    )
    for structure, reached in placements:
        for unit in reached:
            if unit is not None:
                cells.add(CellKey(structure, str(unit), month))
                cells.add(CellKey(structure, str(unit), month[:4]))
    return cells


def parent_of(unit: str, units: UnitIndex) -> str | None:
    lineage = units.lineage(unit) if unit in units else [unit]
    return lineage[1] if len(lineage) > 1 else None


def depth_of(unit: str, units: UnitIndex) -> int:
    return len(units.lineage(unit)) if unit in units else 1


# --- sums -------------------------------------------------------------------------------


def _row_key(row: Mapping[str, Any]) -> RowKey:
    return tuple(row.get(key) for key in ROW_KEYS)


def fact_rows(facts: Iterable[Mapping[str, Any]], cell: CellKey) -> dict[RowKey, dict[str, float]]:
    """Sums of the facts placed directly on `cell`'s unit (weighted by share in vn34)."""
    sums: dict[RowKey, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    for fact in facts:
        if cell.structure == AS_WAS:
            weight = 1.0 if fact.get("unit_id") == cell.unit else 0.0
        else:
            weight = sum(
                float(entry["s"]) for entry in fact.get("v34") or () if entry["u"] == cell.unit
            )
        if not weight:
            continue
        key = tuple(fact.get(field) for field in ROW_KEYS.values())
        target = sums[key]
        for measure in MEASURES:
            target[measure] += float(fact.get(measure) or 0) * weight
    return sums


def add_rows(
    into: dict[RowKey, dict[str, float]], rows: Iterable[Mapping[str, Any]]
) -> dict[RowKey, dict[str, float]]:
    for row in rows:
        target = into.setdefault(_row_key(row), dict.fromkeys(MEASURES, 0.0))
        for measure in MEASURES:
            target[measure] += float(row.get(measure) or 0)
    return into


def as_rows(sums: Mapping[RowKey, Mapping[str, float]]) -> list[Document]:
    """Rows as cells store them (the same form `moved` writes)."""
    return _listed({key: [measures[m] for m in MEASURES] for key, measures in sums.items()})


def cell_document(
    cell: CellKey, parent: str | None, own: list[Document], rows: list[Document]
) -> Document:
    return {
        "_id": cell.id,
        "s": cell.structure,
        "u": cell.unit,
        "pu": parent,
        "m": cell.period,
        "own": own,
        "rows": rows,
    }


def groups(
    documents: Sequence[Mapping[str, Any]],
    *,
    part: str,
    types: Sequence[str],
    programme: str | None,
    group_fields: Mapping[str, str],
) -> list[Document]:
    """Flow groups in the shape of a `$group` over facts: `_id` holds `u` (the cell's
    unit) and the asked fields; then every measure (`part`: a cell's `own` or `rows`)."""
    wanted = set(types)
    found: dict[tuple[Any, ...], Document] = {}
    for document in documents:
        unit = document["u"]
        for row in document.get(part) or ():
            if row.get("t") not in wanted or (programme is not None and row.get("p") != programme):
                continue
            ids: Document = {"u": unit}
            for name, field in group_fields.items():
                ids[name] = document["m"] if field == "m" else row.get(GROUPABLE[field])
            key = tuple(ids.values())
            group = found.setdefault(key, {"_id": ids, **dict.fromkeys(MEASURES, 0.0)})
            for measure in MEASURES:
                group[measure] += float(row.get(measure) or 0)
    return list(found.values())


@dataclass(frozen=True)
class Span:
    """A day range as whole years, whole months, and the days left at its edges."""

    years: tuple[str, ...]
    months: tuple[str, ...]
    partial: tuple[tuple[date, date], ...]


def span(start: date, end: date, *, years: bool) -> Span:
    """Split `[start, end]` into whole months (whole years too when `years`), and the
    partial months at its ends, which are read from the facts themselves."""
    partial: list[tuple[date, date]] = []
    whole: list[str] = []
    day = start
    while day <= end:
        last = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        if day.day == 1 and last <= end:
            whole.append(f"{day.year:04d}-{day.month:02d}")
        else:
            partial.append((day, min(last, end)))
        day = last + timedelta(days=1)
    found_years: list[str] = []
    if years:
        for year in sorted({month[:4] for month in whole}):
            inside = [f"{year}-{month:02d}" for month in range(1, 13)]
            if all(month in whole for month in inside):
                found_years.append(year)
                whole = [month for month in whole if month[:4] != year]
    return Span(tuple(found_years), tuple(whole), tuple(partial))


# --- moving cells by a change's difference ---------------------------------------------------

# A sum this close to zero is zero (shares are fractions: what was added comes back out
# with rounding noise).
EPSILON = 1e-9

Delta = dict[CellKey, dict[RowKey, tuple[list[float], list[float]]]]


def contributions(
    fact: Mapping[str, Any] | None, units: UnitIndex
) -> list[tuple[CellKey, RowKey, float, bool]]:
    """Where an active fact counts: `(cell, row key, weight, placed on the cell's unit)`
    for its month and year cells, as the cells' recomputation counts it."""
    if fact is None or fact.get("status") != "active" or "m" not in fact:
        return []
    key = tuple(fact.get(field) for field in ROW_KEYS.values())
    month = str(fact["m"])
    found: list[tuple[CellKey, RowKey, float, bool]] = []
    lineage = fact.get("lineage") or [fact.get("unit_id")]
    for position, unit in enumerate(lineage):
        for period in (month, month[:4]):
            found.append((CellKey(AS_WAS, str(unit), period), key, 1.0, position == 0))
    for entry in fact.get("v34") or ():
        chain = units.lineage(entry["u"]) if entry["u"] in units else [entry["u"]]
        for position, unit in enumerate(chain):
            for period in (month, month[:4]):
                found.append((CellKey(VN34, unit, period), key, float(entry["s"]), position == 0))
    return found


def add_change(
    into: Delta, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, units: UnitIndex
) -> None:
    """Take `old`'s contribution out of the cells and put `new`'s in."""
    for fact, sign in ((old, -1.0), (new, 1.0)):
        if fact is None:
            continue
        values = [float(fact.get(measure) or 0) for measure in MEASURES]
        for cell, key, weight, own in contributions(fact, units):
            own_sums, total_sums = into.setdefault(cell, {}).setdefault(
                key, ([0.0] * len(MEASURES), [0.0] * len(MEASURES))
            )
            for position, value in enumerate(values):
                change = sign * weight * value
                total_sums[position] += change
                if own:
                    own_sums[position] += change


def moved(
    document: Mapping[str, Any] | None, cell: CellKey, changes: Mapping[RowKey, Any]
) -> tuple[list[Document], list[Document]]:
    """A cell's `own` and `rows` after the changes, zero rows left out. Rows the
    changes do not touch are kept as stored (already in the form `_listed` writes)."""
    parts = []
    for part, position in (("own", 0), ("rows", 1)):
        rows: list[Document] = []
        met: set[RowKey] = set()
        for row in (document or {}).get(part) or ():
            key = _row_key(row)
            change = changes.get(key)
            if change is None:
                rows.append(row)
                continue
            met.add(key)
            held = [float(row.get(measure) or 0) for measure in MEASURES]
            rows += _listed({key: [a + b for a, b in zip(held, change[position], strict=True)]})
        rows += _listed(
            {key: list(change[position]) for key, change in changes.items() if key not in met}
        )
        parts.append(rows)
    return parts[0], parts[1]


def _listed(sums: Mapping[RowKey, list[float]]) -> list[Document]:
    """Rows of measure lists, without zero rows or zero (or rounding-noise) measures."""
    rows: list[Document] = []
    for key, values in sums.items():
        measures = {
            measure: int(value) if float(value).is_integer() else value
            for measure, value in zip(MEASURES, values, strict=True)
            if abs(value) >= EPSILON
        }
        if measures:
            rows.append({**dict(zip(ROW_KEYS, key, strict=True)), **measures})
    return rows
