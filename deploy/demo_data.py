"""Demo data for `make up`, loaded through the public HTTP APIs as the provinces would.

- Lạng Sơn, Huyện Hữu Lũng: 10 Leaders of Change clubs with 257 members (154 girls, 103
  boys), two villages and the communes' classifications, the clubs' monthly meetings and
  30 communication sessions in 2023, a forum of 150 people, 860 officials trained in 8
  classes of 1.5 days in 2022, gifts and scholarships of 3,000,000 VND, Project 8's plan;
  and from 2025-07-01 the same clubs reporting on the vn34 communes.
- Hà Giang, Huyện Hoàng Su Phì: cross-visits between schools of the SFES project.
- Phú Thọ: 12 community learning centres with their classes and ratings, 2016-2017.

Every record has a fixed natural key and every figure is computed, not drawn at random,
so loading twice changes nothing. Any failed call raises `DemoDataError` with the
service's answer.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from deploy.demo import hagiang, langson, phutho
from deploy.demo.api import Api, DemoDataError
from deploy.demo.model import REFORM_DATE, Body, Plan, Refs
from deploy.demo.settle import wait_until_counted

__all__ = ["DemoDataError", "load_demo_data", "next_due_day", "plans"]

VIETNAM = timezone(timedelta(hours=7))
BATCH_SIZE = 1000
MEMBERS_PER_CALL = 5000

# Created only when missing: the registry seeds them at its first start.
PROGRAMMES: dict[str, Body] = {
    "P8": {
        "name": "Project 8: gender equality and urgent issues for women and children",
        "name_vi": "Dự án 8: Thực hiện bình đẳng giới và giải quyết những vấn đề cấp thiết "
        "đối với phụ nữ và trẻ em",
        "starts_on": "2021-01-01",
        "ends_on": "2025-12-31",
    },
    "SFES": {
        "name": "Safe, Friendly and Equal Schools",
        "name_vi": "Trường học An toàn - Thân thiện - Bình đẳng",
    },
    "CLC": {"name": "Community learning centres", "name_vi": "Trung tâm học tập cộng đồng"},
}


def plans() -> list[Plan]:
    return [langson.plan(), hagiang.plan(), phutho.plan()]


def load_demo_data(
    urls: dict[str, str], token: str | None = None, settle_timeout: float = 60.0
) -> dict[str, int]:
    """Put the demo records; repeating it changes nothing. Returns counts per kind.

    `urls` maps `registry`, `events` and `reporting` to their base URLs; with `token`,
    every call carries `Authorization: Bearer <token>`.
    """
    started = time.monotonic()
    api = Api(urls, token)
    loader = Loader(api, plans())
    counts = loader.run()
    statuses = wait_until_counted(api, loader.source_systems(), settle_timeout)
    counts["pending"] = statuses["pending_reference"]
    counts["calls"] = api.calls
    counts["milliseconds"] = round((time.monotonic() - started) * 1000)
    return counts


def next_due_day(plans: list[Plan]) -> date | None:
    """The first day after today (Viet Nam) on which a demo activity ends, so that a
    launcher knows when loading again would send more; None when all are due.

    Sites, clubs and successors only fill in ids, so placeholder references do."""
    today = datetime.now(UTC).astimezone(VIETNAM).date()
    refs = _PlaceholderRefs()
    later = [
        date.fromisoformat(item["ended_on"])
        for plan in plans
        for item in plan.activities(refs)
        if date.fromisoformat(item["ended_on"]) > today
    ]
    return min(later, default=None)


class _PlaceholderRefs(Refs):
    def __init__(self) -> None:
        super().__init__(sites=_Anything(), clubs=_Anything(), successors=_Anything())


class _Anything(dict[Any, str]):
    def __missing__(self, key: Any) -> str:
        return "placeholder"


class Loader:
    def __init__(self, api: Api, plans: list[Plan]) -> None:
        self.api = api
        self.plans = plans
        self.created = 0

    def source_systems(self) -> list[str]:
        return sorted({site.source_system for plan in self.plans for site in plan.sites})

    def run(self) -> dict[str, int]:
        self.check_units()
        self.ensure_programmes()
        refs = Refs(sites={}, clubs={}, successors={})
        counts: dict[str, int] = {}
        counts["villages"] = sum(self.add_villages(plan) for plan in self.plans)
        counts["classifications"] = sum(self.classify(plan) for plan in self.plans)
        counts["sites"] = sum(self.put_sites(plan, refs) for plan in self.plans)
        counts["clubs"] = sum(self.put_clubs(plan, refs) for plan in self.plans)
        counts["members"] = sum(self.put_members(plan, refs) for plan in self.plans)
        counts["targets"] = self.put_targets()
        self.read_successors(refs)
        activities = [item for plan in self.plans for item in plan.activities(refs)]
        counts["activities"], counts["after_reform"] = self.put_activities(activities)
        counts["created"] = self.created
        return counts

    # ------------------------------------------------------------- registry
    def check_units(self) -> None:
        """The units named in the data must exist with the expected names."""
        for plan in self.plans:
            for parent, expected in plan.expected_units.items():
                found = {
                    unit["id"]: unit["name"]
                    for unit in self.api.items("registry", "/v1/units", parent=parent)
                }
                wrong = {
                    unit: (name, found.get(unit))
                    for unit, name in expected.items()
                    if found.get(unit) != name
                }
                if wrong:
                    raise DemoDataError(
                        f"the registry's units under {parent} are not those the demo data "
                        f"expects (expected, found): {wrong}"
                    )

    def ensure_programmes(self) -> None:
        known = {item["code"] for item in self.api.items("registry", "/v1/programmes")}
        for code, body in PROGRAMMES.items():
            if code not in known:
                self.write("PUT", f"/v1/programmes/{code}", body)

    def write(self, method: str, path: str, body: Any, service: str = "registry") -> Any:
        status, answer = self.api.call(service, method, path, body)
        self.created += status == 201
        return answer

    def add_villages(self, plan: Plan) -> int:
        for village in plan.villages:
            answer = self.write("POST", "/v1/units", village)
            expected = f"{village['parent_id']}.{village['code']}"
            if answer["id"] != expected:
                raise DemoDataError(f"village {expected} was given the id {answer['id']}")
        return len(plan.villages)

    def classify(self, plan: Plan) -> int:
        for unit_id, name, body in plan.classifications:
            self.write("PUT", f"/v1/units/{unit_id}/classifications/{name}", body)
        return len(plan.classifications)

    def put_sites(self, plan: Plan, refs: Refs) -> int:
        for site in plan.sites:
            path = f"/v1/sites/{site.source_system}/{site.external_id}"
            refs.sites[site.key] = self.write("PUT", path, site.body())["id"]
        return len(plan.sites)

    def put_clubs(self, plan: Plan, refs: Refs) -> int:
        for club in plan.clubs:
            site_id = refs.sites[club.site] if club.site else None
            path = f"/v1/clubs/{club.source_system}/{club.external_id}"
            refs.clubs[club.key] = self.write("PUT", path, club.body(site_id))["id"]
        return len(plan.clubs)

    def put_members(self, plan: Plan, refs: Refs) -> int:
        count = 0
        for key, members in plan.members.items():
            club_id = refs.clubs[key]
            for start in range(0, len(members), MEMBERS_PER_CALL):
                chunk = members[start : start + MEMBERS_PER_CALL]
                answer = self.write("POST", f"/v1/clubs/{club_id}/members:bulk", chunk)
                rejected = [item for item in answer["results"] if item["status"] == "rejected"]
                if rejected:
                    raise DemoDataError(f"members of club {key} rejected: {rejected[:5]}")
                self.created += answer["counts"].get("created", 0)
            count += len(members)
        return count

    def put_targets(self) -> int:
        merged: dict[str, list[Body]] = {}
        for plan in self.plans:
            for programme, targets in plan.targets.items():
                merged.setdefault(programme, []).extend(targets)
        for programme, targets in merged.items():
            self.write("PUT", f"/v1/programmes/{programme}/targets", targets)
        return sum(len(targets) for targets in merged.values())

    def read_successors(self, refs: Refs) -> None:
        """Each old unit's principal successor: the largest share, ties to the smaller id."""
        for plan in self.plans:
            for unit_id in plan.reformed_units:
                if unit_id in refs.successors:
                    continue
                links = self.api.get("registry", f"/v1/units/{unit_id}/successors")
                if not links:
                    raise DemoDataError(f"the registry names no successor of {unit_id}")
                best = min(links, key=lambda link: (-link["share"], link["unit_id"]))
                refs.successors[unit_id] = best["unit_id"]

    # ---------------------------------------------------------------- events
    def put_activities(self, activities: list[Body]) -> tuple[int, int]:
        """Send every activity dated up to today (Viet Nam); return (sent, after the reform)."""
        today = datetime.now(UTC).astimezone(VIETNAM).date()
        due = [item for item in activities if date.fromisoformat(item["ended_on"]) <= today]
        for start in range(0, len(due), BATCH_SIZE):
            batch = due[start : start + BATCH_SIZE]
            # Clubs were registered a moment ago: the events service may not have them yet.
            path = "/v1/activities:batch?allow_pending=true"
            answer = self.write("POST", path, batch, service="events")
            rejected = [
                {**result, "external_id": batch[result["index"]]["external_id"]}
                for result in answer["results"]
                if result["status"] == "rejected"
            ]
            if rejected:
                raise DemoDataError(f"{len(rejected)} demo activities rejected: {rejected[:5]}")
            self.created += answer["summary"]["created"]
        after = sum(date.fromisoformat(item["started_on"]) >= REFORM_DATE for item in due)
        return len(due), after
