"""API clients, tokens and signing keys: who gets a token, what it carries, rotation."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from services.registry.deps import Registry
from services.registry.repository import Repositories
from shared.auth import issue_token
from tests.registry_support.access import acting_as, audit_of, claims, create_client
from tests.registry_support.helpers import problem_type
from tests.support.apps import (
    ADMIN_ID,
    ADMIN_SECRET,
    events_app,
    eventually,
    registry_app,
    registry_token,
    running,
    runtime_of,
    signed_token,
    unique_database,
)
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

PROGRAMME = {"name": "Probe", "name_vi": "Thử"}


async def test_requests_without_a_valid_token_are_refused(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    app = registry_app(mongo, nats_server.url)
    async with running(app) as admin:
        service: Registry = app.state.service
        key = await service.access.keys.signing_key()
        expired = issue_token(key, ADMIN_ID, ["admin"], ["vn"], lifetime_seconds=-60)
        refusals = [
            (None, "unauthenticated"),
            ("Basic dGVzdDp0ZXN0", "unauthenticated"),
            ("Bearer not-a-jwt", "invalid-token"),
            (f"Bearer {expired}", "invalid-token"),
            # Signed by a key the registry never had (the test key events trust).
            (f"Bearer {signed_token()}", "invalid-token"),
        ]
        for header, kind in refusals:
            async with acting_as(app, "") as client:
                del client.headers["Authorization"]
                if header is not None:
                    client.headers["Authorization"] = header
                read = await client.get("/v1/programmes")
                write = await client.put("/v1/programmes/PROBE", json=PROGRAMME)
                for response in (read, write):
                    assert (response.status_code, problem_type(response)) == (401, kind), header
                    assert response.headers["www-authenticate"].startswith("Bearer")
        assert "expired" in (await _with(app, expired)).json()["detail"]
        assert "unknown key" in (await _with(app, signed_token())).json()["detail"]
        # Nothing was written by any of them; the public keys need no token.
        assert (await admin.get("/v1/programmes/PROBE")).status_code == 404
        async with acting_as(app, "") as anonymous:
            del anonymous.headers["Authorization"]
            assert (await anonymous.get("/.well-known/jwks.json")).status_code == 200


async def _with(app: Any, token: str) -> Any:
    async with acting_as(app, token) as client:
        return await client.get("/v1/programmes")


async def test_clients_get_tokens_for_their_provinces(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    # Hà Giang and Tuyên Quang (vn63) merged into Tuyên Quang (vn34:08).
    app = registry_app(mongo, nats_server.url, reference_provinces="vn63:02,vn63:08")
    async with running(app) as admin:
        created = await create_client(admin, ["submitter"], ["vn34:08"], "Sở LĐTB&XH Tuyên Quang")
        assert created["client_id"].startswith("bdg-")
        assert created["provinces"] == ["vn34:08"]
        assert set(created["scope"]) == {"vn34:08", "vn63:02", "vn63:08"}
        token = await registry_token(admin, created["client_id"], created["client_secret"])
        carried = claims(token)
        assert carried["sub"] == created["client_id"]
        assert carried["scope"] == "submitter"
        assert set(carried["provinces"]) == {"vn34:08", "vn63:02", "vn63:08"}

        # The secret is kept only as an Argon2 hash.
        stored = await Repositories(runtime_of(app).mongo.db).access.client(created["client_id"])
        assert stored is not None
        assert stored["secret_hash"].startswith("$argon2")
        assert created["client_secret"] not in repr(stored)

        form = {
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        }
        wrong_secret = await admin.post(
            "/v1/oauth/token", data={**form, "client_secret": "not-the-secret"}
        )
        unknown = await admin.post("/v1/oauth/token", data={**form, "client_id": "bdg-nobody"})
        for response in (wrong_secret, unknown):
            assert response.status_code == 401
            assert response.json()["error"] == "invalid_client"
            assert "access_token" not in response.json()
        grant = await admin.post("/v1/oauth/token", data={**form, "grant_type": "password"})
        assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
        missing = await admin.post("/v1/oauth/token", data={"grant_type": "client_credentials"})
        assert (missing.status_code, missing.json()["error"]) == (401, "invalid_client")

        # Only administrators create clients or rotate keys.
        async with acting_as(app, token) as submitter:
            refused = await submitter.post(
                "/v1/clients", json={"name": "x", "roles": ["admin"], "provinces": ["vn"]}
            )
            assert (refused.status_code, problem_type(refused)) == (403, "forbidden")
            assert refused.json()["required_role"] == "admin"
            rotate = await submitter.post("/v1/admin/signing-keys:rotate")
            assert rotate.status_code == 403
        bad = [
            ({"name": "x", "roles": ["viewer"], "provinces": ["vn63:99"]}, "unknown-province"),
            ({"name": "x", "roles": ["viewer"], "provinces": ["vn63:08"], "x": 1}, "validation"),
            ({"name": "x", "roles": ["owner"], "provinces": ["vn63:08"]}, "validation"),
        ]
        for body, kind in bad:
            response = await admin.post("/v1/clients", json=body)
            assert (response.status_code, problem_type(response)) == (422, kind), body
        audited = await audit_of(admin, ADMIN_ID)
        assert [(e["action"], e["key"]) for e in audited] == [
            ("client.created", created["client_id"])
        ]


async def test_the_bootstrap_admin_comes_from_settings(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = unique_database("test_registry")
    async with running(registry_app(mongo, nats_server.url, database=database)) as admin:
        token = admin.headers["Authorization"].removeprefix("Bearer ")
        assert (claims(token)["scope"], claims(token)["provinces"]) == ("admin", ["vn"])
    # A new secret in the settings replaces the stored one at the next start.
    changed = "another-admin-secret-0123456789"
    restarted = registry_app(mongo, nats_server.url, database=database, admin_client_secret=changed)
    async with running(restarted, token="none") as client:
        form = {"grant_type": "client_credentials", "client_id": ADMIN_ID}
        old = await client.post("/v1/oauth/token", data={**form, "client_secret": ADMIN_SECRET})
        assert old.status_code == 401
        token = await registry_token(client, ADMIN_ID, changed)
        async with acting_as(restarted, token) as admin:
            await create_client(admin, ["viewer"], ["vn"])


async def test_rotation_keeps_issued_tokens_valid(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    registry = registry_app(mongo, nats_server.url)
    async with running(registry) as admin:
        old_token = admin.headers["Authorization"].removeprefix("Bearer ")

        async def registry_jwks() -> dict[str, Any]:
            document: dict[str, Any] = (await admin.get("/.well-known/jwks.json")).json()
            return document

        events = events_app(mongo, nats_server.url, jwks=registry_jwks)
        async with running(events, token=old_token) as on_events:
            assert (await on_events.get("/v1/activity-types")).status_code == 200
            old_kid = jwt.get_unverified_header(old_token)["kid"]

            rotated = await admin.post("/v1/admin/signing-keys:rotate")
            assert rotated.status_code == 200
            new_kid = rotated.json()["kid"]
            assert new_kid != old_kid
            kids = {key["kid"] for key in (await registry_jwks())["keys"]}
            assert kids == {old_kid, new_kid}

            # The token issued before rotation still works on both services.
            assert (await admin.get("/v1/programmes")).status_code == 200
            assert (await on_events.get("/v1/activity-types")).status_code == 200

            new_token = await registry_token(admin, ADMIN_ID, ADMIN_SECRET)
            assert jwt.get_unverified_header(new_token)["kid"] == new_kid
            async with acting_as(registry, new_token) as renewed:
                assert (await renewed.get("/v1/programmes")).status_code == 200
            async with acting_as(events, new_token) as renewed_on_events:

                async def accepted() -> bool:
                    response = await renewed_on_events.get("/v1/activity-types")
                    return response.status_code == 200

                # Events looks the new key up at its next JWKS refresh (within 2 s).
                await eventually(accepted, timeout=5.0, interval=0.2)
        audited = await audit_of(admin, ADMIN_ID)
        assert [(e["action"], e["key"]) for e in audited] == [("signing-key.rotated", new_kid)]


async def test_signing_keys_are_kept_encrypted_and_survive_a_restart(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    database = unique_database("test_registry")
    first = registry_app(mongo, nats_server.url, database=database)
    async with running(first) as admin:
        token = admin.headers["Authorization"].removeprefix("Bearer ")
        jwks = (await admin.get("/.well-known/jwks.json")).json()
        stored = await runtime_of(first).mongo.db["signing_keys"].find({}).to_list(None)
        assert stored
        assert all("ENCRYPTED PRIVATE KEY" in key["private_pem"] for key in stored)
    # Restarted: the same key, so a token issued before still verifies.
    again = registry_app(mongo, nats_server.url, database=database)
    async with running(again) as client:
        assert (await client.get("/.well-known/jwks.json")).json() == jwks
        async with acting_as(again, token) as same:
            assert (await same.get("/v1/clients")).status_code == 200
    # Another passphrase cannot read them: the registry refuses to start.
    wrong = registry_app(
        mongo,
        nats_server.url,
        database=database,
        signing_key_passphrase="not-the-passphrase-it-was-stored-with",
    )
    with pytest.raises(RuntimeError, match="cannot be decrypted"):
        async with running(wrong):
            pass
