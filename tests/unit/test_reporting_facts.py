"""Facts: where an activity counts in both structures, and its measures."""

from __future__ import annotations

from typing import Any

from services.reporting.facts import fact_from_state, place
from services.reporting.placement import child_towards, club_unit, principal_successor
from services.reporting.projection import unit_node
from shared.contracts import ActivityState
from shared.units import UnitIndex
from tests.reporting_support.scenario import UNITS


def index(without: tuple[str, ...] = ()) -> UnitIndex:
    units = UnitIndex()
    units.put_many(
        unit_node({"_id": unit["id"], **unit}) for unit in UNITS if unit["id"] not in without
    )
    return units


def test_a_divided_commune_restates_by_its_shares_with_ancestors() -> None:
    placement = place("vn63:06436", index())
    assert placement.lineage == ["vn63:06436", "vn63:186", "vn63:20", "vn"]
    assert placement.v34 == [{"u": "vn34:06415", "s": 0.6}, {"u": "vn34:06440", "s": 0.4}]
    assert set(placement.r34) == {"vn34:06415", "vn34:06440", "vn34:20", "vn"}
    assert not placement.pending


def test_a_village_goes_with_its_commune_and_a_vn34_unit_stays_whole() -> None:
    village = place("vn63:06433.T05", index())
    assert village.lineage[:2] == ["vn63:06433.T05", "vn63:06433"]
    assert village.v34 == [{"u": "vn34:06415", "s": 1.0}]
    today = place("vn34:06440", index())
    assert today.v34 == [{"u": "vn34:06440", "s": 1.0}]
    assert today.r34 == today.lineage == ["vn34:06440", "vn34:20", "vn"]


def test_a_fact_whose_units_are_not_known_yet_is_pending() -> None:
    assert place("vn63:06436", index(without=("vn63:186",))).pending
    assert place("vn63:06436", index(without=("vn34:06440",))).pending
    assert place("vn63:99999", index()).pending


def test_clubs_follow_their_principal_successor_after_the_reform() -> None:
    units = index()
    assert principal_successor("vn63:06436", units) == "vn34:06415"
    from datetime import date

    assert club_unit("vn63:06436", date(2025, 6, 30), "as_was", units) == "vn63:06436"
    assert club_unit("vn63:06436", date(2025, 7, 1), "as_was", units) == "vn34:06415"
    assert club_unit("vn63:06436", date(2020, 1, 1), "vn34", units) == "vn34:06415"
    assert club_unit("vn34:06440", date(2024, 1, 1), "as_was", units) in {
        "vn63:06436",
        "vn63:06445",
    }
    assert child_towards("vn63:20", "vn63:06433.T05", units) == "vn63:186"
    assert child_towards("vn63:06433", "vn63:06433", units) == "vn63:06433"
    assert child_towards("vn63:181", "vn63:06433", units) is None


def state(**activity: Any) -> ActivityState:
    body = {"programme": "P8", "unit_id": "vn63:06433", "title": "t", "started_on": "2017-06-15",
            "ended_on": "2017-06-20", **activity}  # fmt: skip
    return ActivityState.model_validate(
        {
            "id": "a",
            "source_system": "s",
            "external_id": "e",
            "version": 2,
            "province_id": "vn63:20",
            "activity": body,
        }
    )


def test_a_rating_is_dated_by_the_end_of_its_school_year() -> None:
    fact = fact_from_state(
        state(type="learning_centre_rating", site_id="s1", school_year="2016-2017", grade="good"),
        index(),
    )
    assert (fact["on"], fact["sy"], fact["q"], fact["grade"]) == (
        "2017-08-31",
        "SY2016-2017",
        "2017Q3",
        "good",
    )


def test_measures_of_a_multi_day_course_and_unknown_minority() -> None:
    fact = fact_from_state(
        state(type="training_course", sessions=2, duration_days=1.5,
              participants={"female": 6, "male": 4}),
        index(),
    )  # fmt: skip
    assert fact["on"] == "2017-06-15"
    assert (fact["female"], fact["male"], fact["em"], fact["emk"]) == (6, 4, 0, 0)
    assert fact["days"] == 1.5
    assert fact["version"] == 2
    assert fact["status"] == "active"
