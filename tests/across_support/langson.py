"""A Lạng Sơn scenario on the real units, sent through the registry's and the events
service's public APIs the way a province's system would send it.

Units (read from the registry in the test, named here for the reader), vn63 commune
(district) → where it went on 2025-07-01:

- 06433 Xã Vân Nham (Hữu Lũng 186) → whole to vn34:06415 Xã Vân Nham;
- 06415 Xã Minh Tiến (Hữu Lũng 186) → whole to vn34:06415 (same code, other commune);
- 06436 Xã Đồng Tiến (Hữu Lũng 186) → whole to vn34:06436 Xã Thiện Tân;
- 06622 Xã Bính Xá (Đình Lập 189), divided → about 0.283 to vn34:06613 Xã Đình Lập
  and 0.717 to vn34:06625 Xã Kiên Mộc;
- 06625 Xã Kiên Mộc (Đình Lập 189), divided → about 0.581 to vn34:06625 Xã Kiên Mộc
  and 0.419 to vn34:06637 Xã Châu Sơn.

Clubs (programme P8) and members (sex, EM = ethnic minority, joined → left):

- K1 school, Vân Nham, from 2023-02-01: M01 F EM; M02 F, left 2023-12-31; M03 M EM
  (first sent as female, then corrected); M04 M, joined 2024-01-10;
- K2 community, Minh Tiến, 2023-03-01, dissolved 2024-06-30: M05 F; M06 M EM;
- K3 school, Bính Xá, from 2023-09-05: M07 F; M08 F EM; M09 M, 2023-10-01 → 2023-11-15;
- K4 community, vn34:06637 Châu Sơn, from 2025-08-01: M10 F EM; M11 M.

Activities (participants female/male, ethnic minority in brackets when reported;
programme P8 unless CLC), and how they are sent:

- A1 club_meeting of K1, Vân Nham, 2023-10-05, 10/8 (9), budget 500,000 (PUT);
- A2 club_meeting of K2, Minh Tiến, 2023-11-02, 6/5 (batch);
- A3 communication_session, Bính Xá, 2023-10-12, 31/24 (40), budget 2,000,000 (PUT),
  revised to 33/22 (40) (PUT);
- A4 communication_session, Vân Nham, 2023-07-20, 12/3 (0) (batch);
- A5 training_course on the province vn63:20, 2023-05-10 to 11, 60/40 (30), 2 sessions,
  1.5 days, budget 30,000,000 (batch);
- A6 communication_session, Kiên Mộc, 2023-12-28, 40/40, budget 1,000,000 (batch), then
  voided;
- A7 club_meeting of K3, Bính Xá, 2023-12-05, 4/3 (batch);
- A8 communication_session, Kiên Mộc, 2023-11-11, 20/15 (batch);
- A10 communication_session, Bính Xá, 2025-03-10, 10/7 (batch);
- A13 communication_session, Vân Nham, 2025-05-05, 7/3 (batch);
- A11 communication_session on vn34:06625, 2025-09-15, 5/5 (PUT);
- A12 club_meeting of K4 on vn34:06637, 2025-09-20, 3/2 (PUT);
- A15 club_meeting of K1 (a vn63 club) on vn34:06415, 2025-10-01, 2/2 (PUT);
- R1 to R4 learning_centre_rating (CLC) of school year 2016-2017, dated 2017-06-15:
  Vân Nham excellent, Đồng Tiến average, Bính Xá good, Kiên Mộc good (batch);
- R5 learning_centre_rating (CLC) of 2017-2018, 2018-06-01, Vân Nham good (batch);
- X1 communication_session on vn63:06433 dated 2025-08-01: a vn63 unit after the
  reform, rejected without blocking the rest of its batch.
"""

from __future__ import annotations

from typing import Any

import httpx

SOURCE = "langson-mis"

SITES: dict[str, dict[str, str]] = {
    "thcs-van-nham": {"kind": "school", "name": "Trường THCS Vân Nham", "unit_id": "vn63:06433"},
    "thcs-binh-xa": {
        "kind": "school",
        "name": "Trường PTDTBT THCS Bính Xá",
        "unit_id": "vn63:06622",
    },
    "tthtcd-van-nham": {
        "kind": "learning_centre",
        "name": "Trung tâm học tập cộng đồng xã Vân Nham",
        "unit_id": "vn63:06433",
    },
    "tthtcd-dong-tien": {
        "kind": "learning_centre",
        "name": "Trung tâm học tập cộng đồng xã Đồng Tiến",
        "unit_id": "vn63:06436",
    },
    "tthtcd-binh-xa": {
        "kind": "learning_centre",
        "name": "Trung tâm học tập cộng đồng xã Bính Xá",
        "unit_id": "vn63:06622",
    },
    "tthtcd-kien-moc": {
        "kind": "learning_centre",
        "name": "Trung tâm học tập cộng đồng xã Kiên Mộc",
        "unit_id": "vn63:06625",
    },
}


def _club(name: str, kind: str, unit: str, established: str, **extra: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "unit_id": unit,
        "programme": "P8",
        "established_on": established,
        **extra,
    }


# `site` names a key of SITES (replaced by the site's id when sent).
CLUBS: dict[str, dict[str, Any]] = {
    "K1": _club(
        "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
        "school",
        "vn63:06433",
        "2023-02-01",
        site="thcs-van-nham",
    ),
    "K2": _club(
        "CLB Thủ lĩnh xã Minh Tiến",
        "community",
        "vn63:06415",
        "2023-03-01",
        dissolved_on="2024-06-30",
    ),
    "K3": _club(
        "CLB Thủ lĩnh của sự thay đổi trường PTDTBT THCS Bính Xá",
        "school",
        "vn63:06622",
        "2023-09-05",
        site="thcs-binh-xa",
    ),
    "K4": _club("CLB Thủ lĩnh xã Châu Sơn", "community", "vn34:06637", "2025-08-01"),
}


def _m(sex: str, joined: str, ethnicity: str = "01", left: str | None = None) -> dict[str, Any]:
    """A member; ethnicity 01 Kinh (not a minority), 02 Tày, 07 Nùng, 09 Dao."""
    body: dict[str, Any] = {"sex": sex, "birth_year": 2010, "ethnicity": ethnicity}
    body["joined_on"] = joined
    if left is not None:
        body["left_on"] = left
    return body


# club → member code → body; K1, K3 and K4 in one bulk call each, K2 by PUTs.
MEMBERS: dict[str, dict[str, dict[str, Any]]] = {
    "K1": {
        "M01": _m("female", "2023-02-01", "02"),
        "M02": _m("female", "2023-02-01", left="2023-12-31"),
        "M03": _m("female", "2023-02-01", "02"),
        "M04": _m("male", "2024-01-10"),
    },
    "K2": {"M05": _m("female", "2023-03-01"), "M06": _m("male", "2023-03-01", "07")},
    "K3": {
        "M07": _m("female", "2023-09-05"),
        "M08": _m("female", "2023-09-05", "09"),
        "M09": _m("male", "2023-10-01", left="2023-11-15"),
    },
    "K4": {"M10": _m("female", "2025-08-01", "02"), "M11": _m("male", "2025-08-01")},
}
# M03's sex was entered wrongly: the province sends the record again.
CORRECTION = ("K1", "M03", _m("male", "2023-02-01", "02"))

TARGETS = [
    {"indicator": "trainees", "unit_id": "vn63:20", "period": "2023", "value": 120},
    {"indicator": "communication_sessions", "unit_id": "vn63:189", "period": "2023Q4", "value": 4},
    {"indicator": "club_members", "unit_id": "vn63:20", "period": "2023", "value": 8},
    {"indicator": "training_courses", "unit_id": "vn63:20", "period": "2023", "value": 0},
    {
        "indicator": "communication_participants",
        "unit_id": "vn34:20",
        "period": "2025",
        "value": 60,
    },
    {"indicator": "club_meetings", "unit_id": "vn34:06625", "period": "2023", "value": 2},
    {
        "indicator": "communication_participants",
        "unit_id": "vn34:06613",
        "period": "2025",
        "value": 10,
    },
]

# Sent to the registry: targets, sites, clubs, member calls (bulk items count one
# each), the correction; one REGISTRY event each.
REGISTRY_EVENTS = 1 + len(SITES) + len(CLUBS) + sum(map(len, MEMBERS.values())) + 1


def _a(
    kind: str,
    unit: str,
    day: str,
    female: int,
    male: int,
    minority: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An activity body; `club`/`site` name keys of CLUBS/SITES."""
    participants: dict[str, int] = {"female": female, "male": male}
    if minority is not None:
        participants["ethnic_minority"] = minority
    body: dict[str, Any] = {
        "type": kind,
        "programme": extra.pop("programme", "P8"),
        "unit_id": unit,
        "title": f"{kind} {unit} {day}",
        "organiser": "Hội Liên hiệp Phụ nữ tỉnh Lạng Sơn",
        "started_on": day,
        "ended_on": extra.pop("ended_on", day),
        "participants": participants,
        "budget_vnd": extra.pop("budget", 0),
    }
    return body | extra


def _rating(site: str, unit: str, day: str, year: str, grade: str) -> dict[str, Any]:
    return _a(
        "learning_centre_rating",
        unit,
        day,
        0,
        0,
        programme="CLC",
        site=site,
        school_year=year,
        grade=grade,
    )


COMMUNICATION = "communication_session"
A3_V1 = _a(COMMUNICATION, "vn63:06622", "2023-10-12", 31, 24, 40, budget=2_000_000)
A3_V2 = _a(COMMUNICATION, "vn63:06622", "2023-10-12", 33, 22, 40, budget=2_000_000)
PUT_FIRST = {
    "A1": _a("club_meeting", "vn63:06433", "2023-10-05", 10, 8, 9, club="K1", budget=500_000),
    "A3": A3_V1,
}
BATCH = {
    "A2": _a("club_meeting", "vn63:06415", "2023-11-02", 6, 5, club="K2"),
    "A4": _a(COMMUNICATION, "vn63:06433", "2023-07-20", 12, 3, 0),
    "A5": _a(
        "training_course",
        "vn63:20",
        "2023-05-10",
        60,
        40,
        30,
        ended_on="2023-05-11",
        sessions=2,
        duration_days=1.5,
        budget=30_000_000,
    ),
    "A6": _a(COMMUNICATION, "vn63:06625", "2023-12-28", 40, 40, budget=1_000_000),
    "A7": _a("club_meeting", "vn63:06622", "2023-12-05", 4, 3, club="K3"),
    "A8": _a(COMMUNICATION, "vn63:06625", "2023-11-11", 20, 15),
    "A10": _a(COMMUNICATION, "vn63:06622", "2025-03-10", 10, 7),
    "A13": _a(COMMUNICATION, "vn63:06433", "2025-05-05", 7, 3),
    "R1": _rating("tthtcd-van-nham", "vn63:06433", "2017-06-15", "2016-2017", "excellent"),
    "R2": _rating("tthtcd-dong-tien", "vn63:06436", "2017-06-15", "2016-2017", "average"),
    "R3": _rating("tthtcd-binh-xa", "vn63:06622", "2017-06-15", "2016-2017", "good"),
    "R4": _rating("tthtcd-kien-moc", "vn63:06625", "2017-06-15", "2016-2017", "good"),
    "R5": _rating("tthtcd-van-nham", "vn63:06433", "2018-06-01", "2017-2018", "good"),
    "X1": _a(COMMUNICATION, "vn63:06433", "2025-08-01", 9, 9),
}
PUT_AFTER_REFORM = {
    "A11": _a(COMMUNICATION, "vn34:06625", "2025-09-15", 5, 5),
    "A12": _a("club_meeting", "vn34:06637", "2025-09-20", 3, 2, club="K4"),
    "A15": _a("club_meeting", "vn34:06415", "2025-10-01", 2, 2, club="K1"),
}
VOIDED = ("A6", "duplicate of a report sent by the district")
# What reaches ACTIVITIES: one `recorded` per accepted activity (X1 is rejected), the
# revision of A3 and the void of A6.
ACTIVITY_EVENTS = len(PUT_FIRST) + len(BATCH) - 1 + len(PUT_AFTER_REFORM) + 1 + 1


def _resolved(body: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The body as sent: club and site keys replaced by the registry's ids."""
    sent = {key: value for key, value in body.items() if key not in ("club", "site")}
    if "club" in body:
        sent["club_id"] = ids[body["club"]]
    if "site" in body:
        sent["site_id"] = ids[body["site"]]
    return sent


async def register(registry: httpx.AsyncClient) -> dict[str, str]:
    """Targets, sites, clubs and members through the registry; returns the ids of the
    sites and clubs by key."""
    response = await registry.put("/v1/programmes/P8/targets", json=TARGETS)
    assert response.status_code == 200, response.text
    ids: dict[str, str] = {}
    for key, body in SITES.items():
        response = await registry.put(f"/v1/sites/{SOURCE}/{key}", json=body)
        assert response.status_code == 201, response.text
        ids[key] = response.json()["id"]
    for key, club in CLUBS.items():
        response = await registry.put(f"/v1/clubs/{SOURCE}/{key}", json=_resolved(club, ids))
        assert response.status_code == 201, response.text
        ids[key] = response.json()["id"]
    for club_key, members in MEMBERS.items():
        club_id = ids[club_key]
        if club_key == "K2":
            for code, member in members.items():
                response = await registry.put(f"/v1/clubs/{club_id}/members/{code}", json=member)
                assert response.status_code == 201, response.text
            continue
        items = [{"member_code": code, **member} for code, member in members.items()]
        response = await registry.post(f"/v1/clubs/{club_id}/members:bulk", json=items)
        assert response.status_code == 200, response.text
        assert [r["status"] for r in response.json()["results"]] == ["created"] * len(items)
    corrected, code, member = CORRECTION
    response = await registry.put(f"/v1/clubs/{ids[corrected]}/members/{code}", json=member)
    assert response.status_code == 200, response.text
    return ids


async def put_activity(
    events: httpx.AsyncClient, key: str, body: dict[str, Any], ids: dict[str, str]
) -> httpx.Response:
    return await events.put(f"/v1/activities/{SOURCE}/{key}", json=_resolved(body, ids))


def batch_items(ids: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"source_system": SOURCE, "external_id": key, **_resolved(body, ids)}
        for key, body in BATCH.items()
    ]


async def report_activities(events: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, str]:
    """Every activity through the events API; returns the activity ids by key."""
    activity_ids: dict[str, str] = {}
    for key, body in PUT_FIRST.items():
        response = await put_activity(events, key, body, ids)
        assert response.status_code == 201, response.text
        assert (response.json()["version"], response.json()["status"]) == (1, "active")
        activity_ids[key] = response.json()["id"]

    revised = await put_activity(events, "A3", A3_V2, ids)
    assert revised.status_code == 200, revised.text
    assert (revised.json()["version"], revised.json()["status"]) == (2, "active")

    response = await events.post("/v1/activities:batch", json=batch_items(ids))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    statuses = {key: result["status"] for key, result in zip(BATCH, results, strict=True)}
    assert statuses == {key: "rejected" if key == "X1" else "created" for key in BATCH}
    assert all(r["activity_status"] == "active" for r in results if r["status"] == "created")
    # X1: a vn63 unit for an activity after 2025-07-01 is refused, naming the unit to
    # use; the rest of the batch stands.
    [error] = results[-1]["errors"]
    assert error["loc"] == ["unit_id"]
    assert "must use a vn34 unit: vn34:06415 (Xã Vân Nham)" in error["msg"]
    activity_ids |= {key: r["id"] for key, r in zip(BATCH, results, strict=True) if r.get("id")}

    for key, body in PUT_AFTER_REFORM.items():
        response = await put_activity(events, key, body, ids)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "active", response.text
        activity_ids[key] = response.json()["id"]

    key, reason = VOIDED
    response = await events.request(
        "DELETE", f"/v1/activities/{activity_ids[key]}", json={"reason": reason}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["status"]) == (2, "voided")
    return activity_ids
