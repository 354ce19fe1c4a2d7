"""The demo data of `make up`: the programme figures it must show, and its loader's HTTP."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections import Counter
from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter

from deploy.demo.api import Api, DemoDataError
from deploy.demo.model import REFORM_DATE, Body, Plan, Refs
from deploy.demo_data import Loader, plans
from shared.contracts.activities import Activity

ACTIVITY = TypeAdapter(Activity)


def resolved(all_plans: list[Plan]) -> Refs:
    return Refs(
        sites={site.key: f"site-{site.external_id}" for plan in all_plans for site in plan.sites},
        clubs={club.key: f"club-{club.external_id}" for plan in all_plans for club in plan.clubs},
        successors={unit: f"vn34:{unit[5:]}" for plan in all_plans for unit in plan.reformed_units},
    )


@pytest.fixture(scope="module")
def built() -> tuple[list[Plan], list[Body]]:
    all_plans = plans()
    refs = resolved(all_plans)
    return all_plans, [item for plan in all_plans for item in plan.activities(refs)]


def test_huu_lung_has_ten_clubs_with_257_members_154_girls(
    built: tuple[list[Plan], list[Body]],
) -> None:
    langson = built[0][0]
    assert Counter(club.kind for club in langson.clubs) == {"school": 8, "community": 2}
    members = [member for group in langson.members.values() for member in group]
    assert Counter(member["sex"] for member in members) == {"female": 154, "male": 103}
    codes = [member["member_code"] for member in members]
    assert codes == [f"LS-HL-{number:04d}" for number in range(1, 258)]
    fields = {"member_code", "sex", "birth_year", "ethnicity", "joined_on"}
    assert all(set(member) <= fields for member in members)
    minorities = sum(member["ethnicity"] != "01" for member in members)
    assert 0.4 < minorities / len(members) < 0.75
    assert {member["ethnicity"] for member in members} <= {"01", "02", "07", "09", "15"}
    assert max(member["joined_on"] for member in members) <= "2023-12-31"


def test_community_clubs_sit_in_especially_difficult_villages_school_clubs_in_region_iii(
    built: tuple[list[Plan], list[Body]],
) -> None:
    langson = built[0][0]
    classified = {(unit, name): body["value"] for unit, name, body in langson.classifications}
    villages = {f"{village['parent_id']}.{village['code']}" for village in langson.villages}
    community = {club.unit_id for club in langson.clubs if club.kind == "community"}
    assert community == villages
    assert {unit.split(".")[0] for unit in villages} == {"vn63:06433", "vn63:06436"}
    assert all(classified[(unit, "especially_difficult")] is True for unit in villages)
    schools = [club.unit_id for club in langson.clubs if club.kind == "school"]
    assert all(classified[(unit, "region")] == "III" for unit in schools)


def test_every_activity_is_a_valid_body_with_a_unique_key_on_the_right_edition(
    built: tuple[list[Plan], list[Body]],
) -> None:
    _, activities = built
    keys = [(item["source_system"], item["external_id"]) for item in activities]
    assert len(set(keys)) == len(keys)
    for item in activities:
        body = {k: v for k, v in item.items() if k not in ("source_system", "external_id")}
        ACTIVITY.validate_python(body)
        edition = "vn63" if date.fromisoformat(item["started_on"]) < REFORM_DATE else "vn34"
        assert item["unit_id"].startswith(f"{edition}:"), item["external_id"]
    after = [item for item in activities if item["started_on"] >= "2025-07-01"]
    assert {item["unit_id"][:5] for item in after} == {"vn34:"}
    assert len(after) >= 5


def test_figures_of_the_reports_are_there(built: tuple[list[Plan], list[Body]]) -> None:
    _, activities = built

    def of(kind: str, year: str, prefix: str = "") -> list[Body]:
        return [
            item
            for item in activities
            if item["type"] == kind
            and item["started_on"].startswith(year)
            and item["source_system"].startswith(prefix)
        ]

    assert len(of("communication_session", "2023", "langson")) == 30
    (forum,) = of("forum", "2023")
    assert forum["participants"]["female"] + forum["participants"]["male"] == 150
    courses = of("training_course", "2022")
    assert len(courses) == 8
    assert sum(c["participants"]["female"] + c["participants"]["male"] for c in courses) == 860
    assert {course["duration_days"] for course in courses} == {1.5}
    meetings = Counter(item["club_id"] for item in of("club_meeting", "2023"))
    assert len(meetings) == 10
    assert min(meetings.values()) >= 10
    grants = [item for item in activities if item.get("support_kind") == "scholarship"]
    assert len(grants) >= 8
    for grant in grants:
        assert grant["value_vnd"] == 3_000_000 * grant["beneficiaries"]["children"]
    ratings = Counter(item["grade"] for item in of("learning_centre_rating", "2017"))
    assert ratings == {"excellent": 4, "good": 7, "average": 1}
    assert len(of("school_exchange", "", "hagiang")) >= 3


def test_building_twice_gives_the_same_bodies() -> None:
    first, second = plans(), plans()
    refs = resolved(first)
    assert [p.activities(refs) for p in first] == [p.activities(refs) for p in second]
    assert [p.members for p in first] == [p.members for p in second]


class Response(io.BytesIO):
    status = 200

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def test_every_call_carries_the_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[urllib.request.Request] = []

    def urlopen(request: urllib.request.Request, timeout: float) -> Response:
        seen.append(request)
        return Response(b'{"items": [], "next_cursor": null}')

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    api = Api({"registry": "http://registry"}, token="t0k3n")
    api.items("registry", "/v1/programmes")
    api.call("registry", "PUT", "/v1/programmes/P8", {"name": "x"})
    assert [r.get_header("Authorization") for r in seen] == ["Bearer t0k3n"] * 2
    assert Api({"registry": "http://r"}).token is None


def test_a_failed_call_raises_with_the_services_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = {"type": "https://bdg.gov.vn/problems/unknown-unit", "status": 422}

    def urlopen(request: urllib.request.Request, timeout: float) -> Response:
        body = io.BytesIO(json.dumps(problem).encode())
        raise urllib.error.HTTPError(request.full_url, 422, "Unprocessable", {}, body)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(
        DemoDataError, match=r"PUT http://r/v1/sites/a/b answered 422: .*unknown-unit"
    ):
        Api({"registry": "http://r"}).call("registry", "PUT", "/v1/sites/a/b", {})


class FakeApi(Api):
    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__({"registry": "r", "events": "e", "reporting": "p"})
        self.answers = answers

    def call(
        self,
        service: str,
        method: str,
        path: str,
        body: Any | None = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        return 200, self.answers[path](body) if callable(self.answers[path]) else self.answers[path]


def test_a_rejected_activity_stops_the_load_naming_it() -> None:
    def batch(items: list[Body]) -> Body:
        results = [{"index": i, "status": "created"} for i in range(len(items))]
        results[1] = {
            "index": 1,
            "status": "rejected",
            "errors": [{"loc": ["unit_id"], "msg": "?"}],
        }
        return {"results": results, "summary": {"created": len(items) - 1}}

    loader = Loader(FakeApi({"/v1/activities:batch?allow_pending=true": batch}), [])
    day = "2023-01-01"
    items = [{"external_id": f"x-{i}", "started_on": day, "ended_on": day} for i in range(3)]
    with pytest.raises(DemoDataError, match="x-1"):
        loader.put_activities(items)
