"""Province scopes of the registry without I/O: refusals, list filters, plan slices."""

from __future__ import annotations

import pytest

from services.registry.permissions import forbidden, require, viewable_provinces
from services.registry.programmes import merged_plan
from shared.auth import Principal
from shared.http import Problem

LANG_SON = Principal("langson-app", frozenset({"submitter"}), frozenset({"vn63:20", "vn34:20"}))
VIEWER = Principal("langson-dashboard", frozenset({"viewer"}), frozenset({"vn34:20", "vn63:20"}))
NATIONAL = Principal("board", frozenset({"viewer"}), frozenset({"vn"}))
ADMIN = Principal("ops", frozenset({"admin"}), frozenset())


def test_a_refusal_names_the_role_province_and_field() -> None:
    with pytest.raises(Problem) as raised:
        require(LANG_SON, "submitter", "vn63:02", "vn63:01024 is province vn63:02.", ["unit_id"])
    problem = raised.value
    assert (problem.status, problem.kind) == (403, "forbidden")
    assert problem.extensions == {"required_role": "submitter", "required_province": "vn63:02"}
    assert problem.errors is not None
    assert problem.errors[0]["loc"] == ["unit_id"]
    assert "vn63:01024 is province vn63:02." in problem.detail
    assert "langson-app" in problem.detail
    national = forbidden(VIEWER, "viewer", None, "National data.")
    assert national.extensions["required_province"] == "vn"
    assert national.errors is None


def test_who_may_what() -> None:
    require(LANG_SON, "submitter", "vn34:20", "")
    require(LANG_SON, "viewer", "vn63:20", "")  # a submitter reads its data back
    require(ADMIN, "submitter", None, "")
    require(NATIONAL, "viewer", "vn63:02", "")
    for caller, province in ((VIEWER, "vn63:20"), (LANG_SON, None), (NATIONAL, "vn63:02")):
        with pytest.raises(Problem):
            require(caller, "submitter", province, "")


def test_lists_show_the_callers_provinces() -> None:
    assert viewable_provinces(VIEWER) == ["vn34:20", "vn63:20"]
    assert viewable_provinces(NATIONAL) is None
    assert viewable_provinces(ADMIN) is None


def test_a_province_replaces_only_its_part_of_a_plan() -> None:
    def target(unit: str, value: float) -> dict[str, object]:
        return {"indicator": "trainees", "unit_id": unit, "period": "2022", "value": value}

    stored = [target("vn63:186", 860), target("vn63:032", 40), target("vn", 1000)]
    lang_son = {"vn63:186", "vn63:06433"}
    plan = merged_plan(stored, [target("vn63:06433", 900)], lambda unit: unit in lang_son)
    assert plan == [target("vn", 1000), target("vn63:032", 40), target("vn63:06433", 900)]
    # Whoever may write everything replaces everything.
    assert merged_plan(stored, [], lambda _unit: True) == []
    assert merged_plan(stored, [], lambda _unit: False) == sorted(
        stored, key=lambda t: str(t["unit_id"])
    )
