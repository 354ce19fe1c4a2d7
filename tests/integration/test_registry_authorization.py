"""Province scopes: Lạng Sơn's clients write and read Lạng Sơn only; audit of writes."""

from __future__ import annotations

from typing import Any

import httpx

from services.registry.clubs import club_id_of, site_id_of
from tests.registry_support.access import (
    BAN_MAY,
    HA_GIANG,
    acting_as,
    api_client,
    audit_of,
    sliced,
)
from tests.registry_support.helpers import (
    HUU_LUNG,
    LANG_SON,
    VAN_NHAM,
    Stream,
    problem_type,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

SOURCE = "scope-test"
MEMBER = {"sex": "female", "ethnicity": "02", "joined_on": "2023-09-05"}


def site(unit_id: str) -> dict[str, Any]:
    return {"kind": "school", "name": "Trường THCS", "unit_id": unit_id}


def club(unit_id: str) -> dict[str, Any]:
    return {
        "name": "CLB Thủ lĩnh của sự thay đổi",
        "kind": "community",
        "unit_id": unit_id,
        "programme": "P8",
        "established_on": "2023-09-05",
    }


def target(unit_id: str, value: float = 10) -> dict[str, Any]:
    return {"indicator": "club_members", "unit_id": unit_id, "period": "2023", "value": value}


async def seed_ha_giang(admin: httpx.AsyncClient) -> str:
    """Hà Giang's register, written by the administrator: returns its club id."""
    assert (await admin.put(f"/v1/sites/{SOURCE}/HG-SITE", json=site(BAN_MAY))).status_code == 201
    response = await admin.put(f"/v1/clubs/{SOURCE}/HG-CLUB", json=club(BAN_MAY))
    assert response.status_code == 201
    club_id: str = response.json()["id"]
    member = await admin.put(f"/v1/clubs/{club_id}/members/HG1", json=MEMBER)
    assert member.status_code == 201
    return club_id


def refused(response: httpx.Response, province: str, role: str = "submitter") -> bool:
    assert (response.status_code, problem_type(response)) == (403, "forbidden"), response.text
    body = response.json()
    # Operations need the admin role whatever the province (no `required_province`).
    assert (body["required_role"], body.get("required_province", "vn")) == (role, province), body
    return True


async def test_lang_son_submitter_cannot_write_ha_giang_data(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    async with sliced(mongo, nats_server.url) as (app, admin):
        hg_club = await seed_ha_giang(admin)
        plan = [target(BAN_MAY), target("vn", 100)]
        assert (await admin.put("/v1/programmes/P8/targets", json=plan)).status_code == 200
        before = await stream.settle(admin)
        async with api_client(app, admin, ["submitter"], [LANG_SON]) as lang_son:
            ls = lang_son.http
            assert refused(
                await ls.post("/v1/units", json={"parent_id": BAN_MAY, "code": "T1", "name": "X"}),
                HA_GIANG,
            )
            path = f"/v1/units/{BAN_MAY}/classifications/region"
            period = {"value": "III", "valid_from": "2021-01-01"}
            assert refused(await ls.put(path, json=period), HA_GIANG)
            assert refused(await ls.delete(f"{path}/2021-01-01"), HA_GIANG)
            assert refused(await ls.put(f"/v1/sites/{SOURCE}/LS-X", json=site(BAN_MAY)), HA_GIANG)
            assert refused(await ls.put(f"/v1/clubs/{SOURCE}/LS-X", json=club(BAN_MAY)), HA_GIANG)
            # Hà Giang's club, under its natural key, moved into Lạng Sơn: refused too.
            moved = await ls.put(f"/v1/clubs/{SOURCE}/HG-CLUB", json=club(VAN_NHAM))
            assert refused(moved, HA_GIANG)
            assert moved.json()["errors"][0]["loc"] == ["body", "unit_id"]
            assert "registered in province vn63:02" in moved.json()["detail"]
            moved_site = await ls.put(f"/v1/sites/{SOURCE}/HG-SITE", json=site(VAN_NHAM))
            assert refused(moved_site, HA_GIANG)
            assert refused(await ls.put(f"/v1/clubs/{hg_club}/members/X1", json=MEMBER), HA_GIANG)
            bulk = [{"member_code": "X2", **MEMBER}]
            assert refused(await ls.post(f"/v1/clubs/{hg_club}/members:bulk", json=bulk), HA_GIANG)
            # An unknown unit is said to be unknown, naming the field and the value,
            # not refused as if the province were missing a right.
            nowhere = await ls.put(f"/v1/sites/{SOURCE}/LS-Y", json=site("vn63:99999"))
            assert (nowhere.status_code, problem_type(nowhere)) == (422, "unknown-unit")
            assert (nowhere.json()["field"], nowhere.json()["value"]) == ("unit_id", "vn63:99999")
            # Reading another province's data names the province, not a role.
            other = await ls.get(f"/v1/clubs/{hg_club}")
            assert refused(other, HA_GIANG, "viewer")
            assert f"does not act for province {HA_GIANG}" in other.json()["detail"]
            assert "needs role" not in other.json()["detail"]
            # Targets: one on Hà Giang, one national; both named.
            targets = await ls.put(
                "/v1/programmes/P8/targets",
                json=[target(HUU_LUNG), target(BAN_MAY), target("vn")],
            )
            assert refused(targets, HA_GIANG)
            assert [e["loc"] for e in targets.json()["errors"]] == [
                ["body", 1, "unit_id"],
                ["body", 2, "unit_id"],
            ]
            programme = await ls.put("/v1/programmes/P8", json={"name": "x", "name_vi": "x"})
            assert refused(programme, "vn", role="admin")

            # Nothing stored, nothing published, nothing audited.
            assert await stream.settle(admin) == before  # nothing but the markers
            assert await audit_of(admin, lang_son.client_id) == []
        assert (await admin.get(f"/v1/units/{BAN_MAY}.T1")).status_code == 404
        assert (await admin.get(f"/v1/units/{BAN_MAY}")).json()["classifications"] == {}
        assert (await admin.get(f"/v1/sites/{site_id_of(SOURCE, 'LS-X')}")).status_code == 404
        held = (await admin.get(f"/v1/clubs/{hg_club}")).json()
        assert (held["unit_id"], held["revision"], held["members"]["total"]) == (BAN_MAY, 1, 1)
        held_site = (await admin.get(f"/v1/sites/{site_id_of(SOURCE, 'HG-SITE')}")).json()
        assert (held_site["unit_id"], held_site["revision"]) == (BAN_MAY, 1)
        stored_plan = (await admin.get("/v1/programmes/P8/targets")).json()
        assert (stored_plan["targets"], stored_plan["revision"]) == (sorted_plan(plan), 1)


def sorted_plan(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(plan, key=lambda t: (t["indicator"], t["unit_id"], t["period"]))


async def test_lang_son_submitter_writes_lang_son_and_is_audited(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    async with sliced(mongo, nats_server.url) as (app, admin):
        await seed_ha_giang(admin)
        hg_plan = [target(BAN_MAY), target("vn", 100)]
        assert (await admin.put("/v1/programmes/P8/targets", json=hg_plan)).status_code == 200
        before = await stream.settle(admin)
        async with api_client(app, admin, ["submitter"], [LANG_SON]) as lang_son:
            ls = lang_son.http
            village = {"parent_id": VAN_NHAM, "code": "T05", "name": "Thôn Đồng Mới"}
            assert (await ls.post("/v1/units", json=village)).status_code == 201
            assert (await ls.post("/v1/units", json=village)).status_code == 200
            region = {"value": "III", "valid_from": "2021-01-01"}
            classified = await ls.put(f"/v1/units/{VAN_NHAM}/classifications/region", json=region)
            assert classified.status_code == 201
            # vn34 Lạng Sơn comes with vn63:20 in the client's scope.
            new_unit = await ls.put(f"/v1/sites/{SOURCE}/LS-NEW", json=site("vn34:20"))
            assert new_unit.status_code == 201
            assert (
                await ls.put(f"/v1/sites/{SOURCE}/LS-1", json=site(VAN_NHAM))
            ).status_code == 201
            made = await ls.put(f"/v1/clubs/{SOURCE}/LS-1", json=club(VAN_NHAM))
            club_id = made.json()["id"]
            renamed = await ls.put(
                f"/v1/clubs/{SOURCE}/LS-1", json={**club(VAN_NHAM), "name": "CLB Vân Nham"}
            )
            assert (made.status_code, renamed.status_code) == (201, 200)
            assert (await ls.put(f"/v1/clubs/{club_id}/members/A1", json=MEMBER)).status_code == 201
            bulk = [{"member_code": "A2", **MEMBER}, {"member_code": "A3", "sex": "x"}]
            results = (await ls.post(f"/v1/clubs/{club_id}/members:bulk", json=bulk)).json()
            assert [r["status"] for r in results["results"]] == ["created", "rejected"]
            plan = await ls.put("/v1/programmes/P8/targets", json=[target(HUU_LUNG, 257)])
            assert plan.status_code == 200
            # The answer is the plan as Lạng Sơn sees it; Hà Giang's and the national
            # targets are kept.
            assert plan.json()["targets"] == [target(HUU_LUNG, 257)]
            assert plan.json()["revision"] == 2
            whole = (await admin.get("/v1/programmes/P8/targets")).json()["targets"]
            assert whole == sorted_plan([*hg_plan, target(HUU_LUNG, 257)])
            again = await ls.put("/v1/programmes/P8/targets", json=[target(HUU_LUNG, 257)])
            assert again.json()["revision"] == 2

            published = await stream.settle(admin)
            # village, classification, 2 sites, club twice, 2 members, one plan
            assert published == before + 9
            events = (await stream.messages())[-11:-2]  # before the two markers
            assert {event["clientid"] for event in events} == {lang_son.client_id}
            # Events of different entities keep no order among themselves (the relay
            # publishes a pass collection by collection): found by type.
            [target_event] = [e for e in events if e["type"] == "vn.bdg.target.set.v1"]
            assert target_event["data"]["targets"] == whole

            audited = [
                (e["action"], e["key"], e["version"])
                for e in await audit_of(admin, lang_son.client_id)
            ]
            assert audited == [
                ("village.upserted", f"{VAN_NHAM}.T05", 1),
                ("village.upserted", f"{VAN_NHAM}.T05", 1),
                ("classification.set", f"{VAN_NHAM}/region", 1),
                ("site.upserted", f"{SOURCE}/LS-NEW", 1),
                ("site.upserted", f"{SOURCE}/LS-1", 1),
                ("club.upserted", f"{SOURCE}/LS-1", 1),
                ("club.upserted", f"{SOURCE}/LS-1", 2),
                ("member.upserted", f"{club_id}/A1", 1),
                ("member.upserted", f"{club_id}/A2", 1),
                ("targets.set", "P8", 2),
                ("targets.set", "P8", 2),
            ]
            assert club_id == club_id_of(SOURCE, "LS-1")


async def test_imports_reject_rows_of_other_provinces(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with sliced(mongo, nats_server.url) as (app, admin):
        hg_club = await seed_ha_giang(admin)
        async with api_client(app, admin, ["submitter"], [LANG_SON]) as lang_son:
            ls = lang_son.http
            sites_csv = (
                "source_system,external_id,kind,name,unit_id\n"
                f"{SOURCE},IMP-1,school,Trường Vân Nham,{VAN_NHAM}\n"
                f"{SOURCE},IMP-2,school,Trường Bản Máy,{BAN_MAY}\n"
                f"{SOURCE},HG-SITE,school,Trường chuyển đi,{VAN_NHAM}\n"
            )
            whole = await ls.post("/v1/imports/sites", content=sites_csv.encode())
            assert (whole.status_code, problem_type(whole)) == (422, "import-rejected")
            statuses = [
                (r["row"], r["status"], r.get("problem", {}).get("type", ""))
                for r in whole.json()["rows"]
            ]
            assert [(row, status) for row, status, _ in statuses] == [
                (2, "valid"),
                (3, "rejected"),
                (4, "rejected"),
            ]
            assert all(kind.endswith("/forbidden") for _, _, kind in statuses[1:])
            assert whole.json()["rows"][1]["errors"][0]["loc"] == ["unit_id"]
            assert "vn63:02" in whole.json()["rows"][1]["errors"][0]["msg"]
            assert await audit_of(admin, lang_son.client_id) == []

            partial = await ls.post(
                "/v1/imports/sites", params={"partial": "true"}, content=sites_csv.encode()
            )
            assert partial.status_code == 200
            summary = partial.json()["summary"]
            assert (summary["created"], summary["rejected"]) == (1, 2)
            members_csv = (
                f"club_id,member_code,sex,ethnicity,joined_on\n{hg_club},Z1,Nữ,02,2023-09-05\n"
            )
            members = await ls.post("/v1/imports/members", content=members_csv.encode())
            assert members.json()["rows"][0]["problem"]["type"].endswith("/forbidden")
            classes = (
                f"unit_id,name,value,valid_from\n{BAN_MAY},region,III,2021-01-01\n"
                f"{VAN_NHAM},region,II,2021-01-01\n"
            )
            classified = await ls.post(
                "/v1/imports/classifications", params={"partial": "true"}, content=classes.encode()
            )
            assert [r["status"] for r in classified.json()["rows"]] == ["rejected", "created"]
            removed = await ls.delete(f"/v1/units/{VAN_NHAM}/classifications/region/2021-01-01")
            assert removed.json()["periods"] == []
            audited = [
                (e["action"], e["key"], e["version"])
                for e in await audit_of(admin, lang_son.client_id)
            ]
            assert audited == [
                ("site.upserted", f"{SOURCE}/IMP-1", 1),
                ("classification.set", f"{VAN_NHAM}/region", 1),
                ("classification.removed", f"{VAN_NHAM}/region", 2),
            ]
        assert (await admin.get(f"/v1/sites/{site_id_of(SOURCE, 'IMP-2')}")).status_code == 404
        assert (await admin.get(f"/v1/sites/{site_id_of(SOURCE, 'HG-SITE')}")).json()[
            "unit_id"
        ] == BAN_MAY
        assert (await admin.get(f"/v1/clubs/{hg_club}")).json()["members"]["total"] == 1
        assert (await admin.get(f"/v1/units/{BAN_MAY}")).json()["classifications"] == {}


async def test_reads_follow_the_callers_provinces(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with sliced(mongo, nats_server.url) as (app, admin):
        hg_club = await seed_ha_giang(admin)
        ls_site = (await admin.put(f"/v1/sites/{SOURCE}/LS", json=site(VAN_NHAM))).json()["id"]
        ls_club = (await admin.put(f"/v1/clubs/{SOURCE}/LS", json=club(VAN_NHAM))).json()["id"]
        await admin.put(f"/v1/clubs/{ls_club}/members/L1", json=MEMBER)
        hg_site = site_id_of(SOURCE, "HG-SITE")
        plan = [target(HUU_LUNG), target(BAN_MAY), target("vn")]
        assert (await admin.put("/v1/programmes/P8/targets", json=plan)).status_code == 200

        # Administrators read everything.
        assert {c["id"] for c in (await admin.get("/v1/clubs")).json()["items"]} == {
            hg_club,
            ls_club,
        }
        assert len((await admin.get("/v1/sites")).json()["items"]) == 2
        assert len((await admin.get("/v1/programmes/P8/targets")).json()["targets"]) == 3

        async with api_client(app, admin, ["viewer"], ["vn34:20"]) as viewer:
            lv = viewer.http
            # Lạng Sơn's own data.
            assert (await lv.get(f"/v1/clubs/{ls_club}")).json()["members"]["total"] == 1
            assert (await lv.get(f"/v1/clubs/{ls_club}/members")).status_code == 200
            assert (await lv.get(f"/v1/sites/{ls_site}")).status_code == 200
            assert (await lv.get("/v1/clubs", params={"unit_id": HUU_LUNG})).status_code == 200
            for params in ({}, {"unit_id": "vn"}):
                clubs = (await lv.get("/v1/clubs", params=params)).json()["items"]
                assert [c["id"] for c in clubs] == [ls_club], params
                sites = (await lv.get("/v1/sites", params=params)).json()["items"]
                assert [s["id"] for s in sites] == [ls_site], params
            visible = (await lv.get("/v1/programmes/P8/targets")).json()["targets"]
            assert visible == [target(HUU_LUNG)]
            # Hà Giang's data.
            assert refused(await lv.get(f"/v1/clubs/{hg_club}"), HA_GIANG, "viewer")
            assert refused(await lv.get(f"/v1/clubs/{hg_club}/members"), HA_GIANG, "viewer")
            assert refused(await lv.get(f"/v1/sites/{hg_site}"), HA_GIANG, "viewer")
            for path in ("/v1/clubs", "/v1/sites"):
                by_unit = await lv.get(path, params={"unit_id": BAN_MAY})
                assert refused(by_unit, HA_GIANG, "viewer")
            # A viewer writes nothing, even in Lạng Sơn.
            write = await lv.put(f"/v1/sites/{SOURCE}/LS-V", json=site(VAN_NHAM))
            assert refused(write, LANG_SON)
            empty_plan = await lv.put("/v1/programmes/P8/targets", json=[])
            assert (empty_plan.status_code, empty_plan.json()["required_role"]) == (
                403,
                "submitter",
            )
            # National reference data: any client.
            for path in (
                "/v1/units?parent=vn",
                f"/v1/units/{BAN_MAY}",
                "/v1/programmes",
                "/v1/programmes/P8",
                "/v1/ethnicities",
                "/v1/imports/clubs/template.xlsx",
            ):
                assert (await lv.get(path)).status_code == 200, path
            # Operations: administrators only.
            for path in ("/v1/reference", "/v1/audit"):
                assert refused(await lv.get(path), "vn", "admin")
        assert len((await admin.get("/v1/programmes/P8/targets")).json()["targets"]) == 3


async def test_national_clients_reach_every_province(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with sliced(mongo, nats_server.url) as (app, admin):
        hg_club = await seed_ha_giang(admin)
        async with api_client(app, admin, ["submitter"], ["vn"]) as national:
            nat = national.http
            assert (await nat.get(f"/v1/clubs/{hg_club}")).status_code == 200
            put = await nat.put(f"/v1/clubs/{hg_club}/members/N1", json=MEMBER)
            assert put.status_code == 201
            plan = await nat.put("/v1/programmes/P8/targets", json=[target("vn", 5)])
            assert plan.json()["targets"] == [target("vn", 5)]
            # With national scope an unknown unit is reported as unknown.
            nowhere = await nat.put(f"/v1/sites/{SOURCE}/N", json=site("vn63:99999"))
            assert (nowhere.status_code, problem_type(nowhere)) == (422, "unknown-unit")
            # Still not an administrator.
            programme = await nat.put("/v1/programmes/P8", json={"name": "x", "name_vi": "x"})
            assert refused(programme, "vn", "admin")
            assert refused(await nat.get("/v1/reference"), "vn", "admin")
        async with acting_as(app, "x") as nobody:
            assert (await nobody.get(f"/v1/clubs/{hg_club}")).status_code == 401
