"""Splits by level: which unit a fact's unit rolls up to, and the units listed."""

from __future__ import annotations

from datetime import date

from services.reporting.placement import unit_at_level, units_at_level
from services.reporting.projection import unit_node
from shared.units import UnitIndex
from tests.reporting_support.scenario import UNITS


def index() -> UnitIndex:
    units = UnitIndex()
    units.put_many(unit_node({"_id": unit["id"], **unit}) for unit in UNITS)
    return units


def test_a_unit_rolls_up_to_its_ancestor_at_the_level() -> None:
    units = index()
    assert unit_at_level("vn63:06433.T05", "commune", units) == "vn63:06433"
    assert unit_at_level("vn63:06433.T05", "district", units) == "vn63:186"
    assert unit_at_level("vn63:06433", "province", units) == "vn63:20"
    # Above the level: the unit itself (a forum recorded on the district).
    assert unit_at_level("vn63:186", "commune", units) == "vn63:186"
    # A vn34 commune has no district: its province.
    assert unit_at_level("vn34:06440", "district", units) == "vn34:20"


def test_the_units_at_a_level_are_those_in_force_in_the_period() -> None:
    units = index()
    year_2023 = (date(2023, 1, 1), date(2023, 12, 31))
    assert units_at_level("vn63:20", "commune", *year_2023, "as_was", units) == [
        "vn63:06300",
        "vn63:06433",
        "vn63:06436",
        "vn63:06445",
    ]
    assert units_at_level("vn", "province", *year_2023, "as_was", units) == ["vn63:20"]
    assert units_at_level("vn", "commune", *year_2023, "vn34", units) == [
        "vn34:06310",
        "vn34:06415",
        "vn34:06440",
    ]
    assert units_at_level("vn63:186", "district", *year_2023, "as_was", units) == ["vn63:186"]
