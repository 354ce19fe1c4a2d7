"""Hostile input: unknown fields, long strings, MongoDB operators in queries and bodies."""

from __future__ import annotations

from typing import Any

import httpx

from services.registry.clubs import club_id_of
from tests.registry_support.access import BAN_MAY, api_client, sliced
from tests.registry_support.helpers import HUU_LUNG, LANG_SON, VAN_NHAM, problem_type
from tests.support.apps import ADMIN_ID
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

SOURCE = "hostile"
OPERATOR = '{"$gt": ""}'
# What an attacker sends where a plain value is expected.
INJECTIONS = [OPERATOR, "$gt", '{"$ne": null}', "[$ne]=1", '{"$where": "1"}']
MEMBER = {"sex": "female", "ethnic_minority": True, "joined_on": "2023-09-05"}
CLUB = {
    "name": "CLB Vân Nham",
    "kind": "community",
    "unit_id": VAN_NHAM,
    "programme": "P8",
    "established_on": "2023-09-05",
}
SITE = {"kind": "school", "name": "Trường THCS Vân Nham", "unit_id": VAN_NHAM}
TARGET = {"indicator": "club_members", "unit_id": HUU_LUNG, "period": "2023", "value": 1}


def writes(club_id: str) -> list[tuple[str, str, Any]]:
    """Every write of the registry with a good body (method, path, body)."""
    return [
        ("POST", "/v1/units", {"parent_id": VAN_NHAM, "code": "T9", "name": "Thôn 9"}),
        (
            "PUT",
            f"/v1/units/{VAN_NHAM}/classifications/region",
            {"value": "III", "valid_from": "2021-01-01"},
        ),
        ("PUT", "/v1/programmes/P8", {"name": "Project 8", "name_vi": "Dự án 8"}),
        ("PUT", f"/v1/sites/{SOURCE}/S1", SITE),
        ("PUT", f"/v1/clubs/{SOURCE}/C1", CLUB),
        ("PUT", f"/v1/clubs/{club_id}/members/M1", MEMBER),
        ("POST", "/v1/clients", {"name": "x", "roles": ["viewer"], "provinces": [LANG_SON]}),
    ]


async def test_bodies_are_strict_and_bounded(mongo: MongoBackend, nats_server: NatsServer) -> None:
    async with sliced(mongo, nats_server.url) as (_app, admin):
        club_id = (await admin.put(f"/v1/clubs/{SOURCE}/C0", json=CLUB)).json()["id"]
        for method, path, body in writes(club_id):
            for extra in ("$gt", "colour"):
                response = await admin.request(method, path, json={**body, extra: ""})
                assert (response.status_code, problem_type(response)) == (422, "validation"), path
                assert ["body", extra] in [e["loc"] for e in response.json()["errors"]], path
            # An operator where a value belongs is a type error, never a query.
            for field in [name for name in body if name not in ("roles", "provinces")]:
                response = await admin.request(method, path, json={**body, field: {"$gt": ""}})
                assert response.status_code == 422, (path, field)
        plan = await admin.put("/v1/programmes/P8/targets", json=[{**TARGET, "$gt": ""}])
        assert ["body", 0, "$gt"] in [e["loc"] for e in plan.json()["errors"]]
        operator_plan = await admin.put(
            "/v1/programmes/P8/targets", json=[{**TARGET, "unit_id": {"$gt": ""}}]
        )
        assert operator_plan.status_code == 422
        bulk = await admin.post(
            f"/v1/clubs/{club_id}/members:bulk",
            json=[{"member_code": "B1", **MEMBER, "$gt": ""}, {"member_code": {"$gt": ""}}],
        )
        results = bulk.json()["results"]
        assert [r["status"] for r in results] == ["rejected", "rejected"]
        assert [0, "$gt"] in [e["loc"] for e in results[0]["errors"]]
        not_a_list = await admin.post(f"/v1/clubs/{club_id}/members:bulk", json={"$gt": ""})
        assert not_a_list.status_code == 422

        too_long = [
            ("PUT", f"/v1/sites/{SOURCE}/S2", {**SITE, "name": "x" * 301}, "name"),
            ("PUT", f"/v1/sites/{SOURCE}/S2", {**SITE, "unit_id": "vn63:" + "1" * 60}, "unit_id"),
            ("PUT", f"/v1/clubs/{SOURCE}/C2", {**CLUB, "site_id": "x" * 101}, "site_id"),
            (
                "PUT",
                f"/v1/clubs/{club_id}/members/M2",
                {**MEMBER, "ethnicity": "x" * 41},
                "ethnicity",
            ),
            (
                "PUT",
                f"/v1/units/{VAN_NHAM}/classifications/region",
                {"value": "I" * 21, "valid_from": "2030-01-01"},
                "constrained-str",
            ),
            ("PUT", "/v1/programmes/P8/targets", [{**TARGET, "indicator": "x" * 61}], "indicator"),
            ("PUT", "/v1/programmes/P8/targets", [{**TARGET, "period": "2" * 31}], "period"),
            ("POST", "/v1/units", {"parent_id": VAN_NHAM, "code": "T" * 33, "name": "x"}, "code"),
            ("PUT", f"/v1/clubs/{SOURCE}/{'x' * 201}", CLUB, "external_id"),
            ("PUT", f"/v1/clubs/{'x' * 101}/members/M3", MEMBER, "club_id"),
            (
                "PUT",
                f"/v1/units/{VAN_NHAM}/classifications/{'x' * 41}",
                {"value": "I", "valid_from": "2030-01-01"},
                "name",
            ),
            ("GET", f"/v1/clubs/{'x' * 101}", None, "club_id"),
            ("GET", f"/v1/units/{'x' * 61}", None, "unit_id"),
            ("GET", "/v1/units", None, "q"),
            ("GET", "/v1/clubs", None, "unit_id"),
        ]
        for method, path, body, field in too_long:
            params = {"q": "x" * 201, "unit_id": "x" * 61} if method == "GET" else None
            response = await admin.request(method, path, json=body, params=params)
            assert (response.status_code, problem_type(response)) == (422, "validation"), path
            assert field in [str(e["loc"][-1]) for e in response.json()["errors"]], path
        # Batch limits are named.
        many = [{**TARGET, "period": f"{2000 + i % 50}"} for i in range(20_001)]
        over = await admin.put("/v1/programmes/P8/targets", json=many)
        assert (over.status_code, problem_type(over), over.json()["limit_items"]) == (
            422,
            "too-many-targets",
            20_000,
        )
        crowd = [{"member_code": f"Z{i}", **MEMBER} for i in range(5_001)]
        crowded = await admin.post(f"/v1/clubs/{club_id}/members:bulk", json=crowd)
        assert (crowded.status_code, crowded.json()["limit"]) == (413, 5_000)
        # A literal that looks like an operator is stored as text.
        literal = await admin.put(f"/v1/sites/{SOURCE}/S3", json={**SITE, "name": OPERATOR})
        stored = await admin.get(f"/v1/sites/{literal.json()['id']}")
        assert stored.json()["name"] == OPERATOR
        members = (await admin.get(f"/v1/clubs/{club_id}/members")).json()["items"]
        assert members == []


# Every filter of every list, with what it holds when not attacked.
FILTERS: list[tuple[str, str]] = [
    ("/v1/units", "level"),
    ("/v1/units", "parent"),
    ("/v1/units", "q"),
    ("/v1/units", "as_of"),
    ("/v1/units", "edition"),
    ("/v1/units", "cursor"),
    ("/v1/units", "limit"),
    ("/v1/sites", "unit_id"),
    ("/v1/sites", "kind"),
    ("/v1/sites", "cursor"),
    ("/v1/clubs", "unit_id"),
    ("/v1/clubs", "programme"),
    ("/v1/clubs", "kind"),
    ("/v1/clubs", "as_of"),
    ("/v1/clubs", "cursor"),
    ("/v1/audit", "client_id"),
    ("/v1/audit", "since"),
    ("/v1/audit", "cursor"),
]


async def ids(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> set[str]:
    response = await client.get(path, params={**params, "limit": "1000"})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_operators_in_queries_match_nothing(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with sliced(mongo, nats_server.url) as (app, admin):
        for number, unit in enumerate((VAN_NHAM, BAN_MAY)):
            await admin.put(f"/v1/sites/{SOURCE}/S{number}", json={**SITE, "unit_id": unit})
            await admin.put(f"/v1/clubs/{SOURCE}/C{number}", json={**CLUB, "unit_id": unit})
        club_id = club_id_of(SOURCE, "C0")
        await admin.put(f"/v1/clubs/{club_id}/members/M1", json=MEMBER)
        async with api_client(app, admin, ["viewer"], [LANG_SON]) as viewer:
            for client in (admin, viewer.http):
                for path, param in [*FILTERS, (f"/v1/clubs/{club_id}/members", "cursor")]:
                    if path == "/v1/audit" and client is not admin:
                        continue
                    baseline = await ids(client, path, {})
                    for value in INJECTIONS:
                        response = await client.get(path, params={param: value})
                        assert response.status_code in (200, 400, 403, 404, 422), (
                            path,
                            param,
                            value,
                        )
                        if response.status_code == 200:
                            found = {item["id"] for item in response.json()["items"]}
                            # A cursor skips ahead at most; a filter matches the literal.
                            assert found <= baseline, (path, param, value)
                            if param not in ("cursor", "limit"):
                                assert found == set(), (path, param, value)
                    # PHP-style operator keys are not parsed: the filter is absent.
                    bracket = await ids(client, path, {f"{param}[$gt]": ""})
                    assert bracket == baseline, (path, param)
            viewer_clubs = await ids(viewer.http, "/v1/clubs", {"unit_id[$ne]": LANG_SON})
            assert viewer_clubs == {club_id}
        for value in INJECTIONS:
            for path in (f"/v1/clubs/{value}", f"/v1/sites/{value}", f"/v1/units/{value}"):
                response = await admin.get(path)
                assert response.status_code in (404, 422), (path, response.text)
            member = await admin.put(f"/v1/clubs/{club_id}/members/{value}", json=MEMBER)
            assert member.status_code in (404, 422), value
            token = await admin.post(
                "/v1/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": value,
                    "client_secret": value,
                },
            )
            assert (token.status_code, token.json()["error"]) == (401, "invalid_client")
            audit = await admin.get("/v1/audit", params={"client_id": value})
            assert audit.json()["items"] == []
        assert await ids(admin, "/v1/audit", {"client_id": ADMIN_ID})
        # An import cell is a value too.
        quoted = '"' + OPERATOR.replace('"', '""') + '"'
        rows = f"club_id,member_code,sex,ethnic_minority,joined_on\n{quoted},X1,Nữ,Có,2023-09-05\n"
        imported = await admin.post("/v1/imports/members", content=rows.encode())
        assert (imported.status_code, problem_type(imported)) == (422, "import-rejected")
        assert imported.json()["rows"][0]["problem"]["type"].endswith("/unknown-club")
