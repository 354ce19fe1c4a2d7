"""After a full load, events and reporting hold the units, sites, clubs and members the
registry holds (all three services in process, on one real NATS server).

The registry starts with the whole national reference (14,150 units); a few sites,
clubs and members are registered through its API in Lạng Sơn (vn63:20), Hà Giang
(vn63:02) and, on a vn34 unit, Tuyên Quang (vn34:08). Once both consumers have
applied the whole `REGISTRY` stream, what they hold is compared with the registry's
API, entity by entity and field by field (see tests/across_support/holdings.py for
how each service's copy is read), and the figures reporting computes from its copy
are compared with the registry's own member counts.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from tests.across_support.holdings import (
    events_replica,
    fields,
    node_rows,
    pages,
    reporting_entities,
    successor_map,
    unit_row,
)
from tests.across_support.stack import (
    Stack,
    applied,
    stream_last_sequences,
    three_services,
    wait_caught_up,
    wait_published,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

# The national reference: 1 nation, 63 + 696 + 10,035 units until 2025-06-30, then
# 34 + 3,321 (no districts); plus the one village this test adds.
REFERENCE_UNITS = 14_150
UNIT_COUNTS = {
    ("vn", "nation"): 1,
    ("vn63", "province"): 63,
    ("vn63", "district"): 696,
    ("vn63", "commune"): 10_035,
    ("vn63", "village"): 1,
    ("vn34", "province"): 34,
    ("vn34", "commune"): 3_321,
}
SEEDED_PROGRAMMES = 3

SOURCE = "bdg-test"
VILLAGE = {"parent_id": "vn63:06433", "code": "T05", "name": "Thôn Đồng Tâm"}
SITES = {
    "ls-thcs-van-nham": {"kind": "school", "name": "Trường THCS Vân Nham", "unit_id": "vn63:06433"},
    "hg-thcs-ban-may": {"kind": "school", "name": "Trường THCS Bản Máy", "unit_id": "vn63:01024"},
    "tq-tthtcd-hoang-su-phi": {
        "kind": "learning_centre",
        "name": "Trung tâm học tập cộng đồng xã Hoàng Su Phì",
        "unit_id": "vn34:01021",
    },
}
CLUBS: dict[str, dict[str, Any]] = {
    "ls-clb-van-nham": {
        "name": "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
        "kind": "school",
        "unit_id": "vn63:06433",
        "site": "ls-thcs-van-nham",
        "programme": "P8",
        "established_on": "2023-02-01",
    },
    "ls-clb-dong-tam": {
        "name": "CLB Thủ lĩnh thôn Đồng Tâm",
        "kind": "community",
        "unit_id": "vn63:06433.T05",
        "programme": "P8",
        "established_on": "2023-03-01",
        "dissolved_on": "2024-06-30",
    },
    "hg-clb-ban-may": {
        "name": "CLB Thủ lĩnh của sự thay đổi trường THCS Bản Máy",
        "kind": "school",
        "unit_id": "vn63:01024",
        "site": "hg-thcs-ban-may",
        "programme": "P8",
        "established_on": "2022-09-05",
    },
    "tq-clb-hoang-su-phi": {
        "name": "CLB Thủ lĩnh xã Hoàng Su Phì",
        "kind": "community",
        "unit_id": "vn34:01021",
        "programme": "P8",
        "established_on": "2025-08-01",
    },
}


def _member(
    sex: str, joined: str, ethnicity: str = "01", left: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"sex": sex, "birth_year": 2010, "ethnicity": ethnicity}
    body["joined_on"] = joined
    if left is not None:
        body["left_on"] = left
    return body


# Members sent in one bulk call per club; 02 Tày, 08 HMông, 01 Kinh.
MEMBERS: dict[str, dict[str, dict[str, Any]]] = {
    "ls-clb-van-nham": {
        "M01": _member("female", "2023-02-01", "02"),
        "M02": _member("female", "2023-02-01", left="2023-12-31"),
        "M03": _member("female", "2023-02-01", "02"),  # corrected to male below
        "M04": _member("male", "2024-01-10"),
    },
    "ls-clb-dong-tam": {
        "M05": _member("female", "2023-03-01"),
        "M06": _member("male", "2023-03-01", "02"),
    },
    "hg-clb-ban-may": {
        "M01": _member("female", "2022-09-05", "08"),
        "M02": _member("male", "2022-09-05", "08"),
        "M03": _member("female", "2023-09-05"),
    },
    "tq-clb-hoang-su-phi": {
        "M01": _member("female", "2025-08-01", "08"),
        "M02": _member("male", "2025-08-01"),
    },
}
CORRECTION = ("ls-clb-van-nham", "M03", _member("male", "2023-02-01", "02"))
# One event per write: the village, each site, club and member, and the correction.
REGISTER_EVENTS = 1 + len(SITES) + len(CLUBS) + sum(map(len, MEMBERS.values())) + 1


async def register(registry: httpx.AsyncClient) -> dict[str, str]:
    """Everything above through the registry's API; returns the clubs' ids by key and
    the sites' ids by `site:<key>`."""
    response = await registry.post("/v1/units", json=VILLAGE)
    assert response.status_code == 201, response.text
    sites = {}
    for key, body in SITES.items():
        response = await registry.put(f"/v1/sites/{SOURCE}/{key}", json=body)
        assert response.status_code == 201, response.text
        sites[key] = response.json()["id"]
    clubs = {}
    for key, club in CLUBS.items():
        body = {name: value for name, value in club.items() if name != "site"}
        if "site" in club:
            body["site_id"] = sites[club["site"]]
        response = await registry.put(f"/v1/clubs/{SOURCE}/{key}", json=body)
        assert response.status_code == 201, response.text
        clubs[key] = response.json()["id"]
    for key, members in MEMBERS.items():
        items = [{"member_code": code, **body} for code, body in members.items()]
        response = await registry.post(f"/v1/clubs/{clubs[key]}/members:bulk", json=items)
        assert response.status_code == 200, response.text
        assert [r["status"] for r in response.json()["results"]] == ["created"] * len(items)
    corrected, code, body = CORRECTION
    response = await registry.put(f"/v1/clubs/{clubs[corrected]}/members/{code}", json=body)
    assert response.status_code == 200, response.text
    return clubs | {f"site:{key}": site_id for key, site_id in sites.items()}


def _sample(unit_ids: list[str]) -> list[str]:
    """Units whose successors are compared one by one with the registry's API: every
    province and every 97th vn63 unit, the village, Lạng Sơn's two divided communes
    (Bính Xá, Kiên Mộc) and the island district Bạch Long Vĩ."""
    vn63 = sorted(unit for unit in unit_ids if unit.startswith("vn63:"))
    chosen = {unit for unit in unit_ids if unit.count(":") == 1 and len(unit) == 7}
    chosen |= set(vn63[::97])
    chosen |= {"vn63:06433.T05", "vn63:06622", "vn63:06625", "vn63:318"}
    return sorted(chosen)


async def compare_units(stack: Stack) -> dict[str, Any]:
    registry_units = await pages(stack.registry, "/v1/units")
    expected = {item["id"]: unit_row(item) for item in registry_units}
    assert len(expected) == len(registry_units) == REFERENCE_UNITS + 1
    assert Counter((row[0], row[3]) for row in expected.values()) == UNIT_COUNTS

    # Reporting: the hierarchy in memory that every figure is rolled up with.
    reporting = stack.reporting_service.generations.active.units
    assert node_rows(reporting) == expected
    # Events: its replica, as a restart would load it, with the registry's revisions.
    events = await events_replica(stack.apps["events"])
    assert node_rows(events.units) == expected
    assert events.revisions["unit"] == {item["id"]: item["revision"] for item in registry_units}

    # Successors: the same in both consumers for every unit, and as the registry
    # answers for a sample.
    successors = successor_map(reporting)
    assert successor_map(events.units) == successors
    # Every vn63 unit but none of vn34 has successors (the village carries its
    # commune's).
    assert len(successors) == 63 + 696 + 10_035 + 1
    for unit_id in _sample(list(expected)):
        response = await stack.registry.get(f"/v1/units/{unit_id}/successors")
        assert response.status_code == 200, response.text
        links = sorted((link["unit_id"], link["share"]) for link in response.json())
        assert links == successors.get(unit_id, []), unit_id
    # Bính Xá was divided between two new communes (shares by area, adding up to 1).
    binh_xa = successors["vn63:06622"]
    assert [unit for unit, _ in binh_xa] == ["vn34:06613", "vn34:06625"]
    assert sum(share for _, share in binh_xa) == 1.0
    return expected


async def compare_units_through_reporting_api(
    reporting: httpx.AsyncClient, expected: dict[str, Any]
) -> None:
    """Reporting's completeness report lists the units in force at a level below a
    parent, with their names: the same units as the registry's, level by level."""
    span = "2020-01-01..2026-12-31"  # both editions were in force during it
    for level, parent in (
        ("province", "vn"),
        ("district", "vn"),
        ("commune", "vn"),
        ("village", "vn63:06433"),
    ):
        params = {"period": span, "level": level, "parent": parent}
        response = await reporting.get("/v1/reports/completeness", params=params)
        assert response.status_code == 200, response.text
        listed = {item["unit_id"]: item["name"] for item in response.json()["items"]}
        wanted = {
            unit_id: row[2]
            for unit_id, row in expected.items()
            if row[3] == level and (parent == "vn" or row[4] == parent)
        }
        assert listed == wanted, level


CLUB_FIELDS = (
    "source_system",
    "external_id",
    "name",
    "kind",
    "unit_id",
    "province_id",
    "site_id",
    "programme",
    "established_on",
    "dissolved_on",
    "revision",
)
# What the events service keeps of a club and a site to validate activities.
EVENTS_CLUB_FIELDS = ("name", "unit_id", "province_id", "established_on", "dissolved_on")
EVENTS_SITE_FIELDS = ("name", "kind", "unit_id", "province_id")
SITE_FIELDS = ("source_system", "external_id", "kind", "name", "unit_id", "province_id")
MEMBER_FIELDS = (
    "club_id",
    "member_code",
    "sex",
    "birth_year",
    "ethnicity",
    "ethnic_minority",
    "joined_on",
    "left_on",
    "revision",
)


async def compare_registers(stack: Stack) -> list[dict[str, Any]]:
    events = await events_replica(stack.apps["events"])
    service = stack.reporting_service

    sites = await pages(stack.registry, "/v1/sites")
    assert len(sites) == len(SITES)
    held_sites = await reporting_entities(service, "sites")
    assert {s["id"]: fields(s, SITE_FIELDS) for s in sites} == {
        key: fields(document, SITE_FIELDS) for key, document in held_sites.items()
    }
    assert {s["id"]: fields(s, EVENTS_SITE_FIELDS) for s in sites} == {
        key: fields(vars(ref), EVENTS_SITE_FIELDS) for key, ref in events.sites.items()
    }

    clubs = await pages(stack.registry, "/v1/clubs", unit_id="vn")
    assert len(clubs) == len(CLUBS)
    held_clubs = await reporting_entities(service, "clubs")
    assert {c["id"]: fields(c, CLUB_FIELDS) for c in clubs} == {
        key: fields(document, CLUB_FIELDS) for key, document in held_clubs.items()
    }
    assert {c["id"]: fields(c, EVENTS_CLUB_FIELDS) for c in clubs} == {
        key: fields(vars(ref), EVENTS_CLUB_FIELDS) for key, ref in events.clubs.items()
    }
    assert events.revisions["club"] == {c["id"]: c["revision"] for c in clubs}
    assert {c["province_id"] for c in clubs} == {"vn63:20", "vn63:02", "vn34:08"}

    # Members: only reporting holds them (events does not need them).
    members = [
        member
        for club in clubs
        for member in await pages(stack.registry, f"/v1/clubs/{club['id']}/members")
    ]
    assert len(members) == sum(map(len, MEMBERS.values()))
    held_members = await reporting_entities(service, "members")
    assert {m["id"]: fields(m, MEMBER_FIELDS) for m in members} == {
        key: fields(document, MEMBER_FIELDS) for key, document in held_members.items()
    }
    corrected = next(m for m in members if m["id"].endswith("/M03") and m["revision"] == 2)
    assert held_members[corrected["id"]]["sex"] == "male"
    return clubs


async def _indicator(reporting: httpx.AsyncClient, code: str, **params: str) -> dict[str, Any]:
    response = await reporting.get(f"/v1/indicators/{code}/values", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def compare_member_figures(stack: Stack, clubs: list[dict[str, Any]]) -> None:
    """Reporting's club figures at a period end equal the registry's own counts on
    that day (over the clubs existing then), and the hand-counted numbers."""
    # 2024-12-31: Vân Nham (M01 F, M03 corrected to M, M04 M; M02 left on 2023-12-31)
    # and Bản Máy (M01 F, M02 M, M03 F); Đồng Tâm was dissolved on 2024-06-30 and the
    # Hoàng Su Phì club founded in 2025. 2025-12-31 adds Hoàng Su Phì (F, M).
    hand = {"2024": (2, 3, 3), "2025": (3, 4, 4)}
    for year, (club_count, female, male) in hand.items():
        day = f"{year}-12-31"
        existing = [
            club
            for club in await pages(stack.registry, "/v1/clubs", unit_id="vn", as_of=day)
            if club["established_on"] <= day
            and (club["dissolved_on"] is None or club["dissolved_on"] > day)
        ]
        registry_female = sum(club["members"]["female"] for club in existing)
        registry_male = sum(club["members"]["male"] for club in existing)
        assert (len(existing), registry_female, registry_male) == (club_count, female, male)

        active = await _indicator(stack.reporting, "clubs_active", unit_id="vn", period=year)
        assert active["total"] == club_count
        by_sex = await _indicator(
            stack.reporting, "club_members", unit_id="vn", period=year, by="sex"
        )
        assert {row["sex"]: row["value"] for row in by_sex["rows"]} == {
            "female": female,
            "male": male,
        }

    # Province by province at the end of 2024 (only vn63 provinces were in force).
    by_province = await _indicator(
        stack.reporting, "club_members", unit_id="vn", period="2024", by="child_unit"
    )
    rows = {row["unit_id"]: row["value"] for row in by_province["rows"] if row["value"]}
    assert rows == {"vn63:20": 3, "vn63:02": 3}
    assert len(by_province["rows"]) == 63
    for province in ("vn63:20", "vn63:02"):
        listed = await pages(stack.registry, "/v1/clubs", unit_id=province, as_of="2024-12-31")
        alive = [c for c in listed if c["dissolved_on"] is None]
        assert sum(c["members"]["total"] for c in alive) == rows[province]


async def check_events_knows_every_club_and_site(stack: Stack, ids: dict[str, str]) -> int:
    """An activity naming each club and each site is accepted as `active`: the events
    service's live memory knows them, their units and their provinces. One naming a
    club the registry never had waits as `pending_reference`."""

    def item(key: str, body: dict[str, Any]) -> dict[str, Any]:
        base = {
            "source_system": SOURCE,
            "external_id": key,
            "programme": "P8",
            "title": "Sinh hoạt câu lạc bộ",
            "participants": {"female": 6, "male": 4},
        }
        return base | body

    def on(unit_id: str) -> dict[str, str]:
        day = "2025-09-10" if unit_id.startswith("vn34:") else "2024-05-10"
        return {"unit_id": unit_id, "started_on": day, "ended_on": day}

    batch = [
        item(f"meeting-{key}", {"type": "club_meeting", "club_id": ids[key], **on(club["unit_id"])})
        for key, club in CLUBS.items()
    ]
    for key, site in SITES.items():
        kind = "learning_centre_class" if site["kind"] == "learning_centre" else "forum"
        batch.append(item(f"at-{key}", {"type": kind, "site_id": ids[f"site:{key}"]}))
        batch[-1].update(on(site["unit_id"]))
    unknown = {"type": "club_meeting", "club_id": "no-such-club", **on("vn63:06433")}
    batch.append(item("meeting-unknown", unknown))

    response = await stack.events.post("/v1/activities:batch", json=batch)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["status"], r.get("activity_status")) for r in results] == [("created", "active")] * (
        len(batch) - 1
    ) + [("rejected", None)]
    # The unknown club is named at once, not left pending.
    assert results[-1]["problem"]["type"].endswith("/unknown-club")
    return len(batch) - 1


async def test_consumers_hold_what_the_registry_holds_after_a_full_load(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    started = time.monotonic()
    async with three_services(mongo, nats_server.url, "all") as stack:
        ids = await register(stack.registry)
        registry_goal = REFERENCE_UNITS + SEEDED_PROGRAMMES + REGISTER_EVENTS
        await wait_published(nats_server.url, {"REGISTRY": registry_goal}, timeout=60)
        goal = await wait_caught_up(stack, timeout=30)
        loaded = time.monotonic() - started
        assert goal == {"REGISTRY": registry_goal, "ACTIVITIES": 0}
        assert (await applied(stack.events))["REGISTRY"] == registry_goal

        expected_units = await compare_units(stack)
        await compare_units_through_reporting_api(stack.reporting, expected_units)
        clubs = await compare_registers(stack)
        await compare_member_figures(stack, clubs)

        recorded = await check_events_knows_every_club_and_site(stack, ids)
        await wait_published(nats_server.url, {"ACTIVITIES": recorded}, timeout=10)
        await wait_caught_up(stack, timeout=10)
        meetings = await _indicator(
            stack.reporting, "club_meetings", unit_id="vn", period="2024-01-01..2025-12-31"
        )
        assert meetings["total"] == len(CLUBS)
        assert await stream_last_sequences(nats_server.url) == {
            "REGISTRY": registry_goal,
            "ACTIVITIES": recorded,
        }
    print(f"\nfull load applied by both consumers after {loaded:.1f} s")
