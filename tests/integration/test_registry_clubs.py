"""Sites, clubs and members: the Hữu Lũng example, idempotence, and every rejection."""

from __future__ import annotations

from typing import Any

import httpx

from services.registry.clubs import club_id_of, site_id_of
from tests.registry_support.helpers import (
    DONG_TIEN,
    HUU_LUNG,
    LANG_SON,
    VAN_NHAM,
    YEN_BINH,
    Stream,
    problem_type,
    registry,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

SOURCE = "langson-sldtbxh"
# Ten clubs of Hữu Lũng: eight in lower secondary schools, two in villages.
SCHOOL_COMMUNES = [VAN_NHAM, DONG_TIEN, YEN_BINH, "vn63:06394", "vn63:06400", "vn63:06403",
                   "vn63:06406", "vn63:06412"]  # fmt: skip
SIZES = [26, 26, 26, 26, 26, 26, 26, 25, 25, 25]  # 257 members
FEMALE = [16, 16, 16, 15, 15, 15, 15, 16, 15, 15]  # 154 female, 103 male


def member(index: int, female: bool) -> dict[str, Any]:
    minority = index % 3 != 0
    return {
        "sex": "female" if female else "male",
        "birth_year": 2010 + index % 3,
        "ethnicity": ("02" if index % 2 else "07") if minority else "01",
        "joined_on": "2023-09-05",
    }


async def register_huu_lung(client: httpx.AsyncClient) -> tuple[list[str], list[int]]:
    """Put the sites, clubs and members; returns the club ids and the response statuses."""
    statuses: list[int] = []
    for village, commune in (("T05", VAN_NHAM), ("T02", DONG_TIEN)):
        response = await client.post(
            "/v1/units", json={"parent_id": commune, "code": village, "name": f"Thôn {village}"}
        )
        statuses.append(response.status_code)
    clubs: list[str] = []
    for number, commune in enumerate(SCHOOL_COMMUNES, start=1):
        site = await client.put(
            f"/v1/sites/{SOURCE}/THCS-{number:02d}",
            json={"kind": "school", "name": f"Trường THCS số {number}", "unit_id": commune},
        )
        statuses.append(site.status_code)
        club = await client.put(
            f"/v1/clubs/{SOURCE}/CLB-{number:02d}",
            json={
                "name": f"CLB Thủ lĩnh của sự thay đổi trường THCS số {number}",
                "kind": "school",
                "unit_id": commune,
                "site_id": site.json()["id"],
                "programme": "SFES" if number <= 4 else "P8",
                "established_on": "2023-09-05",
            },
        )
        statuses.append(club.status_code)
        clubs.append(club.json()["id"])
    for number, village in ((9, f"{VAN_NHAM}.T05"), (10, f"{DONG_TIEN}.T02")):
        club = await client.put(
            f"/v1/clubs/{SOURCE}/CLB-{number:02d}",
            json={
                "name": f"CLB Thủ lĩnh của sự thay đổi thôn {village[-3:]}",
                "kind": "community",
                "unit_id": village,
                "programme": "P8",
                "established_on": "2023-10-01",
            },
        )
        statuses.append(club.status_code)
        clubs.append(club.json()["id"])
    for club_id, size, female in zip(clubs, SIZES, FEMALE, strict=True):
        items = [
            {"member_code": f"M{index:03d}", **member(index, index < female)}
            for index in range(size)
        ]
        # The first member one by one, the rest in bulk.
        single = await client.put(f"/v1/clubs/{club_id}/members/M000", json=member(0, True))
        statuses.append(single.status_code)
        bulk = await client.post(f"/v1/clubs/{club_id}/members:bulk", json=items[1:])
        assert bulk.status_code == 200, bulk.text
        statuses += [201 if r["status"] == "created" else 200 for r in bulk.json()["results"]]
    return clubs, statuses


async def test_ten_clubs_with_257_members(mongo: MongoBackend, nats_server: NatsServer) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        clubs, statuses = await register_huu_lung(client)
        assert set(statuses) == {201}
        assert clubs[0] == club_id_of(SOURCE, "CLB-01")
        published = await stream.settle(client)

        listed = await client.get("/v1/clubs", params={"unit_id": HUU_LUNG})
        items = listed.json()["items"]
        assert len(items) == 10
        totals = {sex: sum(item["members"][sex] for item in items) for sex in ("female", "male")}
        assert totals == {"female": 154, "male": 103}
        assert sum(item["members"]["total"] for item in items) == 257
        assert sum(item["members"]["ethnic_minority"] for item in items) == sum(
            sum(1 for i in range(size) if i % 3) for size in SIZES
        )
        first = (await client.get(f"/v1/clubs/{clubs[0]}")).json()
        assert first["members"]["female"] == 16
        assert first["members"]["male"] == 10
        assert (first["province_id"], first["site_id"]) == (LANG_SON, site_id_of(SOURCE, "THCS-01"))
        in_province = (await client.get("/v1/clubs", params={"unit_id": LANG_SON})).json()
        assert len(in_province["items"]) == 10
        sfes = (await client.get("/v1/clubs", params={"unit_id": "vn", "programme": "SFES"})).json()
        assert len(sfes["items"]) == 4
        village = (await client.get("/v1/clubs", params={"unit_id": f"{VAN_NHAM}.T05"})).json()
        assert [club["kind"] for club in village["items"]] == ["community"]
        elsewhere = (await client.get("/v1/clubs", params={"unit_id": "vn63:02"})).json()
        assert elsewhere["items"] == []
        paged = (await client.get("/v1/clubs", params={"limit": 4})).json()
        rest = (await client.get("/v1/clubs", params={"cursor": paged["next_cursor"]})).json()
        assert len(paged["items"]) + len(rest["items"]) == 10

        # Repeating every call changes nothing and publishes nothing.
        _, again = await register_huu_lung(client)
        assert set(again) == {200}
        assert await stream.settle(client) == published  # nothing but the markers

        events = await stream.messages("bdg.registry.v1.>")
        kinds = [event["type"] for event in events]
        assert kinds.count("vn.bdg.club.upserted.v1") == 10
        assert kinds.count("vn.bdg.member.upserted.v1") == 257
        assert kinds.count("vn.bdg.site.upserted.v1") == 8
        club_event = next(e for e in events if e["type"] == "vn.bdg.club.upserted.v1")
        assert club_event["province"] == LANG_SON
        assert club_event["data"]["province_id"] == LANG_SON
        member_event = next(e for e in events if e["type"] == "vn.bdg.member.upserted.v1")
        assert member_event["province"] == LANG_SON
        assert member_event["data"]["id"] == f"{member_event['data']['club_id']}/M000"
        assert set(member_event["data"]) == {
            "id", "club_id", "member_code", "sex", "birth_year", "ethnicity",
            "ethnic_minority", "joined_on", "left_on", "revision",
        }  # fmt: skip


async def test_changes_are_revisions_and_leavers_stop_counting(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with registry(mongo, nats_server.url) as client:
        club = await client.put(
            f"/v1/clubs/{SOURCE}/CLB-X",
            json={
                "name": "CLB Vân Nham",
                "kind": "community",
                "unit_id": VAN_NHAM,
                "programme": "P8",
                "established_on": "2023-09-05",
            },
        )
        club_id = club.json()["id"]
        path = f"/v1/clubs/{club_id}/members/A1"
        body = {"sex": "female", "ethnic_minority": True, "joined_on": "2023-09-05"}
        assert (await client.put(path, json=body)).status_code == 201
        left = {**body, "left_on": "2024-06-01"}
        assert (await client.put(path, json=left)).status_code == 200
        today = (await client.get(f"/v1/clubs/{club_id}")).json()["members"]
        assert (today["female"], today["total"]) == (0, 0)
        earlier = await client.get(f"/v1/clubs/{club_id}", params={"as_of": "2024-05-31"})
        assert earlier.json()["members"]["female"] == 1
        stored = (await client.get(f"/v1/clubs/{club_id}/members")).json()["items"]
        assert stored[0]["revision"] == 2
        assert stored[0]["left_on"] == "2024-06-01"
        renamed = await client.put(
            f"/v1/clubs/{SOURCE}/CLB-X",
            json={
                "name": "CLB Thủ lĩnh của sự thay đổi Vân Nham",
                "kind": "community",
                "unit_id": VAN_NHAM,
                "programme": "P8",
                "established_on": "2023-09-05",
            },
        )
        assert (renamed.status_code, renamed.json()["id"]) == (200, club_id)
        assert (await client.get(f"/v1/clubs/{club_id}")).json()["revision"] == 2


async def test_every_rejection_stores_and_publishes_nothing(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    async with registry(mongo, nats_server.url) as client:
        site = await client.put(
            f"/v1/sites/{SOURCE}/THCS-VN",
            json={"kind": "school", "name": "Trường THCS Vân Nham", "unit_id": VAN_NHAM},
        )
        site_id = site.json()["id"]
        good_club = {
            "name": "CLB trường THCS Vân Nham",
            "kind": "school",
            "unit_id": VAN_NHAM,
            "site_id": site_id,
            "programme": "SFES",
            "established_on": "2023-09-05",
        }
        club_id = (await client.put(f"/v1/clubs/{SOURCE}/GOOD", json=good_club)).json()["id"]
        good_member = {"sex": "male", "ethnicity": "02", "joined_on": "2023-09-05"}
        assert (
            await client.put(f"/v1/clubs/{club_id}/members/OK1", json=good_member)
        ).status_code == 201
        count = await stream.settle(client)

        club_rejections: list[tuple[dict[str, Any], int, str]] = [
            ({"unit_id": "vn63:99999"}, 422, "unknown-unit"),
            ({"unit_id": DONG_TIEN}, 422, "club-outside-site"),
            ({"unit_id": HUU_LUNG, "site_id": None}, 422, "club-unit-level"),
            ({"programme": "NOPE"}, 422, "unknown-programme"),
            ({"site_id": "no-such-site"}, 422, "unknown-site"),
            ({"dissolved_on": "2023-01-01"}, 422, "dissolved-before-established"),
            ({"established_on": "2025-09-01"}, 422, "unit-not-in-force"),
            ({"kind": "online"}, 422, "validation"),
        ]
        for number, (change, status, kind) in enumerate(club_rejections):
            response = await client.put(
                f"/v1/clubs/{SOURCE}/BAD-{number}", json={**good_club, **change}
            )
            assert (response.status_code, problem_type(response)) == (status, kind), change
            assert response.json()["errors"], change
            stored = await client.get(f"/v1/clubs/{club_id_of(SOURCE, f'BAD-{number}')}")
            assert stored.status_code == 404

        member_rejections: list[tuple[dict[str, Any], int, str]] = [
            ({"left_on": "2023-09-01"}, 422, "left-before-joined"),
            ({"birth_year": 1850}, 422, "birth-year-out-of-range"),
            ({"birth_year": 2999}, 422, "birth-year-out-of-range"),
            ({"ethnicity": "77"}, 422, "unknown-ethnicity"),
            ({"ethnicity": "01", "ethnic_minority": True}, 422, "ethnicity-mismatch"),
            ({"ethnicity": None}, 422, "ethnic-minority-required"),
            ({"sex": "unknown"}, 422, "validation"),
        ]
        for number, (change, status, kind) in enumerate(member_rejections):
            body = {**good_member, **change}
            response = await client.put(f"/v1/clubs/{club_id}/members/BAD{number}", json=body)
            assert (response.status_code, problem_type(response)) == (status, kind), change
        no_club = await client.put("/v1/clubs/no-such-club/members/X1", json=good_member)
        assert (no_club.status_code, problem_type(no_club)) == (404, "unknown-club")
        members = (await client.get(f"/v1/clubs/{club_id}/members")).json()["items"]
        assert [m["member_code"] for m in members] == ["OK1"]

        no_unit = await client.put(
            f"/v1/sites/{SOURCE}/NOWHERE", json={"kind": "school", "name": "X", "unit_id": "vn63:1"}
        )
        assert (no_unit.status_code, problem_type(no_unit)) == (422, "unknown-unit")
        assert (await client.get(f"/v1/sites/{site_id_of(SOURCE, 'NOWHERE')}")).status_code == 404
        bad_key = await client.put(
            "/v1/sites/bad key/X", json={"kind": "school", "name": "X", "unit_id": VAN_NHAM}
        )
        assert (bad_key.status_code, problem_type(bad_key)) == (422, "validation")

        too_many = [{"member_code": f"Z{i}", **good_member} for i in range(5001)]
        response = await client.post(f"/v1/clubs/{club_id}/members:bulk", json=too_many)
        assert (response.status_code, problem_type(response)) == (413, "too-many-members")
        mixed = [
            {"member_code": "B1", **good_member},
            {"member_code": "B2", **good_member, "left_on": "2020-01-01"},
            {"member_code": "B3", "sex": "female"},
            {"member_code": "B1", **good_member},
        ]
        results = (await client.post(f"/v1/clubs/{club_id}/members:bulk", json=mixed)).json()
        assert [r["status"] for r in results["results"]] == [
            "created",
            "rejected",
            "rejected",
            "rejected",
        ]
        assert [r.get("type", "").rsplit("/", 1)[-1] for r in results["results"][1:]] == [
            "left-before-joined",
            "validation",
            "duplicate-member",
        ]
        assert results["counts"] == {"created": 1, "rejected": 3}
        # Only B1.
        assert await stream.settle(client) == count + 1
        counts = (await client.get(f"/v1/clubs/{club_id}")).json()["members"]
        assert counts["total"] == 2
