"""Period locks and approval steps on the registry: who may, what is stored, audited and
published (the slice of Lạng Sơn and Hà Giang, real NATS)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.registry_support.access import HA_GIANG, api_client, audit_of, sliced
from tests.registry_support.helpers import HUU_LUNG, LANG_SON, VAN_NHAM, Stream, problem_type
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

LOCK = "/v1/locks/P8/2024"
# Xã Vân Nham after 2025-07-01: a commune directly under vn34 Lạng Sơn.
VAN_NHAM_34 = "vn34:06415"


def kind(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, problem_type(response)


async def lock_events(stream: Stream) -> list[dict[str, Any]]:
    return [event["data"] for event in await stream.messages("bdg.registry.v1.lock.set")]


async def test_lock_and_reopen_by_province_approvers(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    async with sliced(mongo, nats_server.url) as (app, admin):
        async with (
            api_client(app, admin, ["approver"], [LANG_SON]) as approver,
            api_client(app, admin, ["approver"], [HA_GIANG]) as other_approver,
            api_client(app, admin, ["viewer"], [LANG_SON]) as viewer,
            api_client(app, admin, ["submitter"], [LANG_SON]) as submitter,
        ):
            body = {"unit_id": HUU_LUNG, "reason": "Báo cáo năm 2024 đã chốt"}
            # Refused before anything is stored: wrong role, wrong province.
            for client, role, province in (
                (viewer, "approver", LANG_SON),
                (submitter, "approver", LANG_SON),
                (other_approver, "approver", LANG_SON),
            ):
                refused = await client.http.put(LOCK, json=body)
                assert kind(refused) == (403, "forbidden"), refused.text
                assert refused.json()["required_role"] == role
                assert refused.json()["required_province"] == province
            assert (await admin.get("/v1/locks")).json()["items"] == []

            created = await approver.http.put(LOCK, json=body)
            assert created.status_code == 201, created.text
            lock = created.json()
            assert {k: lock[k] for k in ("programme", "period", "unit_id", "locked", "by")} == {
                "programme": "P8",
                "period": "2024",
                "unit_id": HUU_LUNG,
                "locked": True,
                "by": approver.client_id,
            }
            assert (lock["id"], lock["origin"], lock["revision"]) == (
                f"P8|2024|{HUU_LUNG}",
                "lock",
                1,
            )
            assert lock["reason"] == "Báo cáo năm 2024 đã chốt"
            # Locking again changes nothing.
            again = await approver.http.put(LOCK, json={**body, "reason": "lần nữa"})
            assert (again.status_code, again.json()) == (200, lock)

            # Viewers of the province read it, also through a unit under it; another
            # province's approver does not.
            listed = await viewer.http.get("/v1/locks")
            assert listed.json() == {"items": [lock], "next_cursor": None}
            covering = await viewer.http.get(
                "/v1/locks", params={"unit_id": VAN_NHAM, "programme": "P8"}
            )
            assert covering.json()["items"] == [lock]
            # Through the province: the locks of the units under it are listed too.
            province = await viewer.http.get("/v1/locks", params={"unit_id": "vn63:20"})
            assert province.json()["items"] == [lock]
            other_programme = await viewer.http.get(
                "/v1/locks", params={"unit_id": VAN_NHAM, "programme": "SFES"}
            )
            assert other_programme.json()["items"] == []
            assert (await other_approver.http.get("/v1/locks")).json()["items"] == []
            hidden = await other_approver.http.get("/v1/locks", params={"unit_id": VAN_NHAM})
            assert kind(hidden) == (403, "forbidden")

            # Reopening needs a reason, and a lock in force.
            no_reason = await approver.http.delete(LOCK, params={"unit_id": HUU_LUNG})
            assert kind(no_reason) == (422, "reason-required")
            assert no_reason.json()["errors"][0]["loc"] == ["query", "reason"]
            refused = await viewer.http.delete(LOCK, params={"unit_id": HUU_LUNG, "reason": "x"})
            assert kind(refused) == (403, "forbidden")
            reopened = await approver.http.delete(
                LOCK, params={"unit_id": HUU_LUNG, "reason": "Bổ sung hoạt động bị sót"}
            )
            assert reopened.status_code == 200, reopened.text
            assert (reopened.json()["locked"], reopened.json()["revision"]) == (False, 2)
            assert reopened.json()["reason"] == "Bổ sung hoạt động bị sót"
            assert (await viewer.http.get("/v1/locks")).json()["items"] == []
            twice = await approver.http.delete(LOCK, params={"unit_id": HUU_LUNG, "reason": "x"})
            assert kind(twice) == (404, "not-locked")

            # An admin may lock anywhere, a later lock of the same key is a new revision.
            relocked = await admin.put(LOCK, json=body)
            assert (relocked.status_code, relocked.json()["revision"]) == (201, 3)
            hg = await admin.put(LOCK, json={"unit_id": HA_GIANG, "reason": "chốt số liệu"})
            assert hg.status_code == 201

            audited = [
                (e["action"], e["key"], e["version"])
                for e in await audit_of(admin, approver.client_id)
            ]
            key = f"P8|2024|{HUU_LUNG}"
            assert audited == [
                ("lock.set", key, 1),
                ("lock.unchanged", key, 1),
                ("lock.reopened", key, 2),
            ]
        await stream.settle(admin)
        published = await lock_events(stream)
        # Each lock's revisions in order (the relay keeps one document's events in order).
        assert sorted((e["id"], e["revision"], e["locked"]) for e in published) == [
            (f"P8|2024|{HA_GIANG}", 1, True),
            (key, 1, True),
            (key, 2, False),
            (key, 3, True),
        ]
        assert [e["revision"] for e in published if e["id"] == key] == [1, 2, 3]
        assert [e["reason"] for e in published if e["id"] == key][1] == "Bổ sung hoạt động bị sót"


async def test_lock_input_is_checked_field_by_field(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with sliced(mongo, nats_server.url) as (_, admin):
        body = {"unit_id": HUU_LUNG, "reason": "chốt"}
        unknown = await admin.put("/v1/locks/NOPE/2024", json=body)
        assert kind(unknown) == (404, "unknown-programme")
        assert unknown.json()["errors"][0]["loc"] == ["path", "programme"]
        # As a filter of a list it is a mistaken value: 422 naming the field.
        for path in ("/v1/locks", "/v1/approvals"):
            filtered = await admin.get(path, params={"programme": "NOPE"})
            assert kind(filtered) == (422, "unknown-programme"), path
            assert filtered.json()["errors"][0]["loc"] == ["query", "programme"]
        nowhere = await admin.put(LOCK, json={**body, "unit_id": "vn63:99999"})
        assert kind(nowhere) == (422, "unknown-unit")
        assert nowhere.json()["errors"][0]["loc"] == ["body", "unit_id"]
        for period in ("2024Q5", "2024-13", "SY2024-2026", "2024-01-01..2024-03-31"):
            bad = await admin.put(f"/v1/locks/P8/{period}", json=body)
            assert kind(bad) == (422, "invalid-period"), (period, bad.text)
            assert bad.json()["errors"][0]["loc"] == ["path", "period"]
        in_vietnamese = await admin.put(
            "/v1/locks/P8/2024-01-01..2024-03-31",
            json=body,
            headers={"Accept-Language": "vi"},
        )
        assert "khoảng ngày" in in_vietnamese.json()["detail"]
        no_reason = await admin.put(LOCK, json={"unit_id": HUU_LUNG, "reason": "  "})
        assert no_reason.status_code == 422
        assert (await admin.get("/v1/locks")).json()["items"] == []
        for period in ("2022H1", "2022Q1", "2022-03", "SY2022-2023"):
            made = await admin.put(f"/v1/locks/P8/{period}", json=body)
            assert made.status_code == 201, made.text
        page = await admin.get("/v1/locks", params={"limit": 3})
        rest = await admin.get(
            "/v1/locks", params={"limit": 3, "cursor": page.json()["next_cursor"]}
        )
        periods = [lock["period"] for lock in [*page.json()["items"], *rest.json()["items"]]]
        assert sorted(periods) == ["2022-03", "2022H1", "2022Q1", "SY2022-2023"]
        assert rest.json()["next_cursor"] is None


async def step(
    client: httpx.AsyncClient, unit_id: str, action: str, period: str = "2024Q4", **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/approvals/P8/{period}", json={"unit_id": unit_id, "action": action, **extra}
    )


async def test_approval_path_of_a_vn63_commune_locks_what_it_approves(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    stream = Stream(nats_server.url)
    key = f"P8|2024Q4|{VAN_NHAM}"
    async with sliced(mongo, nats_server.url) as (app, admin):
        async with (
            api_client(app, admin, ["submitter"], [LANG_SON]) as submitter,
            api_client(app, admin, ["approver"], [LANG_SON]) as approver,
            api_client(app, admin, ["approver"], [HA_GIANG]) as other_approver,
        ):
            fresh = await submitter.http.get(f"/v1/approvals/P8/2024Q4/{VAN_NHAM}")
            assert fresh.status_code == 200, fresh.text
            assert (fresh.json()["state"], fresh.json()["revision"]) == ("open", 0)
            assert fresh.json()["path"] == ["open", "submitted", "approved", "accepted"]
            assert fresh.json()["allowed"] == ["submit"]

            early = await step(approver.http, VAN_NHAM, "approve")
            assert kind(early) == (409, "approval-out-of-order")
            assert (early.json()["state"], early.json()["allowed"]) == ("open", ["submit"])
            submitted = await step(submitter.http, VAN_NHAM, "submit")
            assert submitted.json()["state"] == "submitted", submitted.text
            assert kind(await step(submitter.http, VAN_NHAM, "approve")) == (403, "forbidden")
            assert kind(await step(other_approver.http, VAN_NHAM, "approve")) == (403, "forbidden")
            approved = await step(approver.http, VAN_NHAM, "approve")
            assert (approved.json()["state"], approved.json()["locked"]) == ("approved", True)
            assert approved.json()["allowed"] == ["accept", "reopen"]
            repeated = await step(approver.http, VAN_NHAM, "approve")
            assert kind(repeated) == (409, "approval-out-of-order")
            assert repeated.json()["allowed"] == ["accept", "reopen"]
            locks = (await submitter.http.get("/v1/locks", params={"unit_id": VAN_NHAM})).json()
            assert [(lock["id"], lock["origin"]) for lock in locks["items"]] == [
                (f"{key}|approval", "approval")
            ]
            accepted = await step(admin, VAN_NHAM, "accept")
            assert accepted.json()["state"] == "accepted"
            no_reason = await step(approver.http, VAN_NHAM, "reopen")
            assert kind(no_reason) == (422, "reason-required")
            back = await step(approver.http, VAN_NHAM, "reopen", reason="Thiếu tháng 12")
            assert (back.json()["state"], back.json()["locked"]) == ("approved", True)
            open_again = await step(approver.http, VAN_NHAM, "reopen", reason="Sửa số liệu")
            assert (open_again.json()["state"], open_again.json()["locked"]) == (
                "submitted",
                False,
            )
            assert (await admin.get("/v1/locks")).json()["items"] == []
            record = (await approver.http.get(f"/v1/approvals/P8/2024Q4/{VAN_NHAM}")).json()
            assert [(s["action"], s["state"], s["by"]) for s in record["steps"]] == [
                ("submit", "submitted", submitter.client_id),
                ("approve", "approved", approver.client_id),
                ("accept", "accepted", "test-admin"),
                ("reopen", "approved", approver.client_id),
                ("reopen", "submitted", approver.client_id),
            ]
            assert record["steps"][3]["reason"] == "Thiếu tháng 12"
            assert record["revision"] == 5
            # The district's approver sees its communes' records.
            listed = await approver.http.get("/v1/approvals", params={"unit_id": HUU_LUNG})
            assert [item["id"] for item in listed.json()["items"]] == [key]
            audited = [
                (e["action"], e["key"], e["version"])
                for e in await audit_of(admin, approver.client_id)
            ]
            assert audited == [
                ("approval.approve", key, 2),
                ("lock.set", f"{key}|approval", 1),
                ("approval.reopen", key, 4),
                ("approval.reopen", key, 5),
                ("lock.reopened", f"{key}|approval", 2),
            ]
        await stream.settle(admin)
        approvals = [e["data"] for e in await stream.messages("bdg.registry.v1.approval.set")]
        assert [(a["revision"], a["state"], len(a["steps"])) for a in approvals] == [
            (1, "submitted", 1),
            (2, "approved", 2),
            (3, "accepted", 3),
            (4, "approved", 4),
            (5, "submitted", 5),
        ]
        assert approvals[0]["province_id"] == LANG_SON
        published = await lock_events(stream)
        assert [(e["id"], e["revision"], e["locked"], e["origin"]) for e in published] == [
            (f"{key}|approval", 1, True, "approval"),
            (f"{key}|approval", 2, False, "approval"),
        ]


async def test_short_paths_and_editions(mongo: MongoBackend, nats_server: NatsServer) -> None:
    async with sliced(mongo, nats_server.url) as (_, admin):
        # A vn34 commune: straight to the province.
        submitted = await step(admin, VAN_NHAM_34, "submit", "2025H2")
        assert submitted.json()["path"] == ["open", "submitted", "accepted"], submitted.text
        assert kind(await step(admin, VAN_NHAM_34, "approve", "2025H2")) == (
            409,
            "approval-out-of-order",
        )
        accepted = await step(admin, VAN_NHAM_34, "accept", "2025H2")
        assert (accepted.json()["state"], accepted.json()["locked"]) == ("accepted", True)
        reopened = await step(admin, VAN_NHAM_34, "reopen", "2025H2", reason="Sai số liệu")
        assert (reopened.json()["state"], reopened.json()["locked"]) == ("submitted", False)
        # A vn63 district lies directly under its province: the short path too.
        district = await step(admin, HUU_LUNG, "submit", "2024")
        assert district.json()["path"] == ["open", "submitted", "accepted"]

        # Periods outside the unit's edition name what to use.
        late = await step(admin, VAN_NHAM, "submit", "2025H2")
        assert kind(late) == (422, "wrong-edition-period")
        assert VAN_NHAM_34 in late.json()["detail"]
        early = await step(admin, VAN_NHAM_34, "submit", "2024")
        assert kind(early) == (422, "wrong-edition-period")
        across = await step(admin, VAN_NHAM, "submit", "2025")
        assert kind(across) == (422, "wrong-edition-period")
        assert "2025H1" in across.json()["detail"]
        province = await step(admin, LANG_SON, "submit", "2024")
        assert kind(province) == (422, "approval-unit-level")
        vi = await admin.post(
            "/v1/approvals/P8/2025H2",
            json={"unit_id": VAN_NHAM, "action": "submit"},
            headers={"Accept-Language": "vi"},
        )
        assert "sau ngày sắp xếp" in vi.json()["detail"]
