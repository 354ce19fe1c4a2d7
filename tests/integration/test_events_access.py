"""Who may write and read which activities: tokens, roles and provinces, and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import SigningKey, issue_token
from tests.events_support.access import (
    client_of,
    hagiang_submitter,
    langson_submitter,
    langson_viewer,
    national_viewer,
    problem_of,
)
from tests.events_support.activities import batch_item, communication_session
from tests.events_support.registry import publish_and_wait, reference_events
from tests.events_support.stream import MARKER_SOURCE, Settled, activity_count, published
from tests.support.apps import events_app, running, signed_token
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

HAGIANG = {"unit_id": "vn63:01024", "title": "Giao lưu trường THCS Bản Máy"}
AFTER_REFORM = {"started_on": "2025-09-01", "ended_on": "2025-09-01"}


@dataclass
class Events:
    app: FastAPI
    admin: httpx.AsyncClient


@pytest.fixture
async def events(mongo: MongoBackend, nats_server: NatsServer) -> AsyncIterator[Events]:
    app = events_app(mongo, nats_server.url)
    async with running(app) as admin:
        await publish_and_wait(nats_server.url, admin, reference_events())
        yield Events(app, admin)


async def all_stored(admin: httpx.AsyncClient) -> list[str]:
    """Keys of every stored activity, whatever its status, as an administrator sees them."""
    response = await admin.get("/v1/activities", params={"status": "all", "limit": 1000})
    assert response.status_code == 200
    items = response.json()["items"]
    return sorted(
        f"{i['source_system']}/{i['external_id']}"
        for i in items
        if i["source_system"] != MARKER_SOURCE
    )


async def audit_of(
    admin: httpx.AsyncClient, client_id: str
) -> list[tuple[str, str | None, int | None]]:
    """The client's audit entries, sorted (entries of one request share their time)."""
    response = await admin.get("/v1/audit", params={"client_id": client_id})
    assert response.status_code == 200
    return sorted((e["action"], e["key"], e["version"]) for e in response.json()["items"])


async def test_requests_without_a_valid_token_are_401_and_write_nothing(
    events: Events, nats_server: NatsServer
) -> None:
    expired = signed_token(lifetime_seconds=-60)
    foreign = issue_token(SigningKey.generate(), "intruder", ["admin"], ["vn"], 3600)
    url = "/v1/activities/langson-p8/HL-401"
    async with client_of(events.app, None) as anonymous:
        problem = problem_of(
            await anonymous.put(url, json=communication_session()), 401, "unauthenticated"
        )
        assert "Bearer" in problem["detail"]
        problem_of(await anonymous.get("/v1/activities"), 401, "unauthenticated")
        problem_of(await anonymous.get("/v1/activity-types"), 401, "unauthenticated")
    async with client_of(events.app, expired) as late:
        problem = problem_of(
            await late.put(url, json=communication_session()), 401, "invalid-token"
        )
        assert "expired" in problem["detail"]
    async with client_of(events.app, foreign) as stranger:
        problem = problem_of(
            await stranger.put(url, json=communication_session()), 401, "invalid-token"
        )
        assert "unknown key" in problem["detail"]
    async with client_of(events.app, "not-a-jwt") as garbled:
        problem_of(await garbled.get("/v1/activities"), 401, "invalid-token")
    assert await all_stored(events.admin) == []
    assert await audit_of(events.admin, "intruder") == []
    assert await activity_count(nats_server.url) == 0


async def test_a_langson_submitter_writes_langson_in_both_editions_but_not_hagiang(
    events: Events, nats_server: NatsServer
) -> None:
    async with client_of(events.app, langson_submitter()) as langson:
        before = await langson.put("/v1/activities/langson-p8/LS-1", json=communication_session())
        after = await langson.put(
            "/v1/activities/langson-p8/LS-2",
            json=communication_session(unit_id="vn34:06415", **AFTER_REFORM),
        )
        assert [before.status_code, after.status_code] == [201, 201]
        again = await langson.put("/v1/activities/langson-p8/LS-1", json=communication_session())
        assert (again.status_code, again.json()["version"]) == (200, 1)

        old = await langson.put(
            "/v1/activities/langson-p8/HG-1", json=communication_session(**HAGIANG)
        )
        problem = problem_of(old, 403, "forbidden")
        assert (problem["required_role"], problem["required_province"]) == (
            "submitter",
            "vn63:02",
        )
        # The refusal names the province the client lacks, not a role it has.
        assert "does not act for province vn63:02" in problem["detail"]
        assert "needs role" not in problem["detail"]
        assert problem["errors"][0]["loc"] == ["body", "unit_id"]
        new = await langson.put(
            "/v1/activities/langson-p8/HG-2",
            json=communication_session(unit_id="vn34:01024", **AFTER_REFORM),
        )
        assert problem_of(new, 403, "forbidden")["required_province"] == "vn34:08"

    assert await all_stored(events.admin) == ["langson-p8/LS-1", "langson-p8/LS-2"]
    messages = await published(nats_server.url, 2)
    assert {m.body["data"]["external_id"] for m in messages} == {"LS-1", "LS-2"}
    # The events say who caused them.
    assert [m.body["type"] for m in messages] == ["vn.bdg.activity.recorded.v1"] * 2
    assert {m.body["clientid"] for m in messages} == {"langson-app"}
    assert await audit_of(events.admin, "langson-app") == [
        ("activity.created", "langson-p8/LS-1", 1),
        ("activity.created", "langson-p8/LS-2", 1),
        ("activity.unchanged", "langson-p8/LS-1", 1),
    ]
    assert await audit_of(events.admin, "test-admin") == []
    # Last, as the markers are written by the administrator.
    assert await Settled(nats_server.url).count(events.admin) == 2, "a refused write went out"


async def test_a_batch_rejects_the_items_of_other_provinces_and_writes_the_rest(
    events: Events, nats_server: NatsServer
) -> None:
    items = [
        batch_item("B-0", communication_session()),
        batch_item("B-1", communication_session(**HAGIANG)),
        # A village not yet registered lies in its commune's province: Lạng Sơn.
        batch_item("B-2", communication_session(unit_id="vn63:06433.T05")),
        # A commune the replica does not know: nobody can tell its province.
        batch_item("B-3", communication_session(unit_id="vn63:99999")),
        batch_item("B-4", communication_session(participants={"female": -1})),
    ]
    async with client_of(events.app, langson_submitter()) as langson:
        # Without `allow_pending`, unknown units are refused at once, named.
        strict = await langson.post("/v1/activities:batch", json=items[2:4])
        units = ("vn63:06433.T05", "vn63:99999")
        for result, unit in zip(strict.json()["results"], units, strict=True):
            assert result["status"] == "rejected"
            assert result["problem"]["type"].endswith("/unknown-unit")
            assert result["errors"][0]["loc"] == ["unit_id"]
            assert repr(unit) in result["errors"][0]["msg"]
        response = await langson.post(
            "/v1/activities:batch", params={"allow_pending": "true"}, json=items
        )
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {"created": 2, "revised": 0, "unchanged": 0, "rejected": 3}
    results = body["results"]
    assert [r["status"] for r in results] == [
        "created",
        "rejected",
        "created",
        "rejected",
        "rejected",
    ]
    assert results[2]["activity_status"] == "pending_reference"
    assert results[1]["problem"] == {
        "type": "https://bdg.gov.vn/problems/forbidden",
        "title": "Not allowed for this client",
        "status": 403,
        "required_role": "submitter",
        "required_province": "vn63:02",
    }
    assert results[1]["errors"][0]["loc"] == ["unit_id"]
    assert "province vn63:02" in results[1]["errors"][0]["msg"]
    assert (results[3]["problem"]["status"], results[3]["problem"]["required_province"]) == (
        403,
        "vn",
    )
    assert "national scope" in results[3]["errors"][0]["msg"]
    assert results[4]["problem"]["status"] == 422
    assert results[4]["problem"]["type"].endswith("/validation")

    assert await all_stored(events.admin) == ["langson-p8/B-0", "langson-p8/B-2"]
    assert await audit_of(events.admin, "langson-app") == [
        # The strict batch: a success that wrote nothing, noted by its request.
        ("POST /v1/activities:batch", None, None),
        ("activity.created", "langson-p8/B-0", 1),
        ("activity.created", "langson-p8/B-2", 1),
    ]
    await published(nats_server.url, 1)
    assert await Settled(nats_server.url).count(events.admin) == 1

    # National scope may write where no province can be determined.
    national = await events.admin.post(
        "/v1/activities:batch", params={"allow_pending": "true"}, json=[items[3]]
    )
    assert national.json()["results"][0]["activity_status"] == "pending_reference"


async def test_a_key_stored_in_another_province_cannot_be_revised_or_voided_from_outside(
    events: Events, nats_server: NatsServer
) -> None:
    url = "/v1/activities/shared-system/K-1"
    async with client_of(events.app, hagiang_submitter()) as hagiang:
        created = await hagiang.put(url, json=communication_session(**HAGIANG))
        assert created.status_code == 201
    activity_id = created.json()["id"]
    async with client_of(events.app, langson_submitter()) as langson:
        # The new version would lie in Lạng Sơn, but the stored one lies in Hà Giang.
        moved = await langson.put(url, json=communication_session())
        problem = problem_of(moved, 403, "forbidden")
        assert problem["required_province"] == "vn63:02"
        assert "is stored in province vn63:02" in problem["detail"]
        in_batch = await langson.post(
            "/v1/activities:batch",
            json=[batch_item("K-1", communication_session(), "shared-system")],
        )
        assert in_batch.json()["results"][0]["problem"]["required_province"] == "vn63:02"
        voided = await langson.request(
            "DELETE", f"/v1/activities/{activity_id}", json={"reason": "nhầm tỉnh"}
        )
        assert problem_of(voided, 403, "forbidden")["required_province"] == "vn63:02"

    stored = (await events.admin.get(f"/v1/activities/{activity_id}")).json()
    assert (stored["version"], stored["status"], stored["activity"]["unit_id"]) == (
        1,
        "active",
        "vn63:01024",
    )
    # The refused PUT and DELETE left nothing; the batch (200, all items rejected) left
    # one entry naming the request, with no activity key.
    assert await audit_of(events.admin, "langson-app") == [
        ("POST /v1/activities:batch", None, None)
    ]
    assert await Settled(nats_server.url).count(events.admin) == 1
    assert await audit_of(events.admin, "langson-app") == [
        ("POST /v1/activities:batch", None, None)
    ]

    async with client_of(events.app, hagiang_submitter()) as hagiang:
        voided = await hagiang.request(
            "DELETE", f"/v1/activities/{activity_id}", json={"reason": "Nhập trùng"}
        )
        assert (voided.status_code, voided.json()["version"]) == (200, 2)
    assert await audit_of(events.admin, "hagiang-app") == [
        ("activity.created", "shared-system/K-1", 1),
        ("activity.voided", "shared-system/K-1", 2),
    ]


async def test_an_upload_rejects_the_rows_of_other_provinces(events: Events) -> None:
    csv = (
        "source_system,external_id,programme,unit_id,title,started_on,ended_on\n"
        "langson-p8,U-1,P8,vn63:06433,Tuyên truyền,2023-10-12,2023-10-12\n"
        "langson-p8,U-2,P8,vn63:01024,Giao lưu,2023-10-12,2023-10-12\n"
    )
    files = {"file": ("rows.csv", csv.encode(), "text/csv")}
    params = {"type": "communication_session"}
    async with client_of(events.app, langson_submitter()) as langson:
        # All or nothing by default: one refused row keeps the other from being written.
        whole = await langson.post("/v1/imports/activities", params=params, files=files)
        problem = problem_of(whole, 422, "import-rejected")
        assert [(r["row"], r["status"]) for r in problem["rows"]] == [(2, "valid"), (3, "rejected")]
        assert await all_stored(events.admin) == []
        partial = {**params, "partial": "true"}
        response = await langson.post("/v1/imports/activities", params=partial, files=files)
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert [(r["row"], r["status"]) for r in rows] == [(2, "created"), (3, "rejected")]
    assert rows[1]["problem"]["required_province"] == "vn63:02"
    assert await all_stored(events.admin) == ["langson-p8/U-1"]
    assert await audit_of(events.admin, "langson-app") == [
        ("activity.created", "langson-p8/U-1", 1)
    ]

    async with client_of(events.app, langson_viewer()) as viewer:
        refused = await viewer.post("/v1/imports/activities", params=params, files=files)
    assert problem_of(refused, 403, "forbidden")["required_role"] == "submitter"


async def ids_in(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/activities", params={"status": "all", **params})
    assert response.status_code == 200, response.text
    return [item["external_id"] for item in response.json()["items"]]


async def test_viewers_read_their_provinces_and_national_scope_reads_all(events: Events) -> None:
    written = {}
    for key, body in {
        "R-LS": communication_session(),
        "R-LS-34": communication_session(unit_id="vn34:06415", **AFTER_REFORM),
        "R-HG": communication_session(**HAGIANG),
        "R-NOWHERE": communication_session(unit_id="vn63:99999"),
        # Pending until the village is registered, but already in Lạng Sơn.
        "R-VILLAGE": communication_session(unit_id="vn63:06433.T05"),
    }.items():
        response = await events.admin.put(
            f"/v1/activities/langson-p8/{key}", params={"allow_pending": "true"}, json=body
        )
        assert response.status_code in (201, 202)
        written[key] = response.json()["id"]

    async with client_of(events.app, langson_viewer()) as viewer:
        mine = await viewer.get(f"/v1/activities/{written['R-LS']}")
        assert (mine.status_code, mine.json()["external_id"]) == (200, "R-LS")
        theirs = problem_of(await viewer.get(f"/v1/activities/{written['R-HG']}"), 403, "forbidden")
        assert (theirs["required_role"], theirs["required_province"]) == ("viewer", "vn63:02")
        nowhere = await viewer.get(f"/v1/activities/{written['R-NOWHERE']}")
        assert problem_of(nowhere, 403, "forbidden")["required_province"] == "vn"

        village = await viewer.get(f"/v1/activities/{written['R-VILLAGE']}")
        assert (village.status_code, village.json()["status"]) == (200, "pending_reference")
        assert await ids_in(viewer) == ["R-LS", "R-VILLAGE", "R-LS-34"]
        assert await ids_in(viewer, unit_id="vn") == ["R-LS", "R-VILLAGE", "R-LS-34"]
        assert await ids_in(viewer, unit_id="vn63:186") == ["R-LS"]
        assert await ids_in(viewer, unit_id="vn34:20") == ["R-LS-34"]
        assert await ids_in(viewer, unit_id="vn63:06433.T05") == ["R-VILLAGE"]
        assert await ids_in(viewer, source_system="langson-p8") == [
            "R-LS",
            "R-VILLAGE",
            "R-LS-34",
        ]
        hagiang = await viewer.get("/v1/activities", params={"unit_id": "vn63:032"})
        assert problem_of(hagiang, 403, "forbidden")["required_province"] == "vn63:02"
        unknown = await viewer.get("/v1/activities", params={"unit_id": "vn63:99999"})
        assert problem_of(unknown, 422, "unknown-unit")["value"] == "vn63:99999"

        # A viewer writes nothing.
        put = await viewer.put("/v1/activities/langson-p8/R-V", json=communication_session())
        assert problem_of(put, 403, "forbidden")["required_role"] == "submitter"
        batch = await viewer.post(
            "/v1/activities:batch", json=[batch_item("R-V", communication_session())]
        )
        assert problem_of(batch, 403, "forbidden")["required_role"] == "submitter"
        void = await viewer.request(
            "DELETE", f"/v1/activities/{written['R-LS']}", json={"reason": "x"}
        )
        problem_of(void, 403, "forbidden")

        # National reference is for every client; operations are for admins.
        assert (await viewer.get("/v1/activity-types")).status_code == 200
        template = "/v1/imports/activities/forum/template.xlsx"
        assert (await viewer.get(template)).status_code == 200
        assert problem_of(await viewer.get("/v1/status"), 403, "forbidden")["required_role"] == (
            "admin"
        )
        problem_of(await viewer.get("/v1/audit"), 403, "forbidden")

    everything = ["R-LS", "R-HG", "R-NOWHERE", "R-VILLAGE", "R-LS-34"]
    async with client_of(events.app, national_viewer()) as board:
        assert sorted(await ids_in(board)) == sorted(everything)
        assert (await board.get(f"/v1/activities/{written['R-HG']}")).status_code == 200
        problem_of(await board.get("/v1/status"), 403, "forbidden")
    assert sorted(await ids_in(events.admin)) == sorted(everything)
    assert sorted(await ids_in(events.admin, unit_id="vn")) == sorted(everything)
    assert await ids_in(events.admin, unit_id="vn63:02") == ["R-HG"]
    assert (await events.admin.get("/v1/status")).status_code == 200
    assert await all_stored(events.admin) == [f"langson-p8/{key}" for key in sorted(everything)]
