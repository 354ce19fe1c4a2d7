"""API clients, their secrets and the keys that sign their access tokens.

A client belongs to one or more provinces with roles (`submitter`, `viewer`,
`approver`, `admin`); its secret is shown once and stored only as an Argon2 hash. Tokens are
JWTs signed with Ed25519 (EdDSA) and verified offline by every service against the
JWKS. Rotation adds a new signing key and retires the old one, which stays in the
JWKS until every token it signed has expired.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization

from services.registry.access_schemas import ClientCreated, ClientView
from services.registry.directory import UnitDirectory
from services.registry.repository import AccessRepository
from shared.auth import NATIONAL_SCOPE, ROLES, SigningKey, issue_token, public_jwks
from shared.edge import problems
from shared.logging import get_logger
from shared.mongo import Document

log = get_logger(__name__)
_HASHER = PasswordHasher()
# A dummy hash verified for unknown clients, so timing does not tell them apart.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_KEY_CACHE_SECONDS = 30.0


class KeyStore:
    """The registry's signing keys: the newest signs, the retired stay for verification.

    Private keys are kept in the database encrypted (PKCS #8, with the passphrase of
    `BDG_SIGNING_KEY_PASSPHRASE[_FILE]`), and decrypted in memory only; a key stored
    in plain text by an earlier version is encrypted when it is next loaded. Without the
    passphrase they cannot be read: a stolen database copy signs no token.
    """

    def __init__(
        self, repository: AccessRepository, token_lifetime_seconds: int, passphrase: str
    ) -> None:
        self._repository = repository
        self._lifetime = token_lifetime_seconds
        self._passphrase = passphrase.encode()
        self._keys: list[Document] = []
        self._loaded_at = float("-inf")

    async def load(self) -> None:
        stored = await self._repository.signing_keys()
        if not stored:
            await self._repository.add_signing_key(self._new_key_document())
            stored = await self._repository.signing_keys()
        keys = []
        for document in stored:
            if not document.get("encrypted"):
                await self._repository.put_signing_key(self._encrypted(document))
            keys.append({**document, "private_pem": self._plain(document)})
        self._keys = keys
        self._loaded_at = time.monotonic()

    def _encrypted(self, document: Document) -> Document:
        key = serialization.load_pem_private_key(document["private_pem"].encode(), password=None)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        ).decode()
        return {**document, "private_pem": pem, "encrypted": True}

    def _plain(self, document: Document) -> str:
        if not document.get("encrypted"):
            return str(document["private_pem"])
        try:
            key = serialization.load_pem_private_key(
                document["private_pem"].encode(), password=self._passphrase
            )
        except ValueError as exc:
            raise RuntimeError(
                f"signing key {document['_id']} cannot be decrypted: "
                "BDG_SIGNING_KEY_PASSPHRASE is not the one it was stored with"
            ) from exc
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    async def _fresh(self) -> list[Document]:
        # Another registry instance may have rotated: look again now and then.
        if time.monotonic() - self._loaded_at > _KEY_CACHE_SECONDS:
            await self.load()
        return self._keys

    def _new_key_document(self) -> Document:
        key = SigningKey.generate()
        return self._encrypted(
            {
                "_id": key.kid,
                "private_pem": key.private_pem,
                "created_at": datetime.now(UTC),
                "retired_at": None,
            }
        )

    async def signing_key(self) -> SigningKey:
        active = [key for key in await self._fresh() if key.get("retired_at") is None]
        newest = max(active or self._keys, key=lambda key: key["created_at"])
        return SigningKey(newest["_id"], newest["private_pem"], newest["created_at"].timestamp())

    async def jwks(self) -> dict[str, object]:
        """Active keys, and retired ones while tokens they signed may still be valid."""
        now = datetime.now(UTC)
        keep = [
            SigningKey(key["_id"], key["private_pem"], key["created_at"].timestamp())
            for key in await self._fresh()
            if key.get("retired_at") is None
            or (now - _aware(key["retired_at"])).total_seconds() < self._lifetime + 60
        ]
        return public_jwks(keep)

    async def rotate(self) -> str:
        """Sign with a new key from now on; returns its id."""
        document = self._new_key_document()
        await self._repository.add_signing_key(document)
        await self._repository.retire_signing_keys_except(document["_id"], document["created_at"])
        await self.load()
        log.info("signing key rotated", kid=document["_id"])
        return str(document["_id"])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ClientService:
    def __init__(
        self,
        repository: AccessRepository,
        keys: KeyStore,
        directory: UnitDirectory,
        token_lifetime_seconds: int,
    ) -> None:
        self._repository = repository
        self._keys = keys
        self._directory = directory
        self._lifetime = token_lifetime_seconds

    def scope_of(self, provinces: Sequence[str]) -> list[str]:
        """The provinces a client may act for: the ones asked for, and across the
        2025 reorganisation their successors and predecessors, so a merged province's
        client covers both its old and its new id."""
        scope: set[str] = set()
        for province in provinces:
            if province == NATIONAL_SCOPE:
                scope.add(province)
                continue
            unit = self._directory.get(province)
            if unit is None or unit["level"] != "province":
                raise problems.unknown_reference(
                    "province",
                    province,
                    ["body", "provinces"],
                    "Give a province id (e.g. `vn63:20`, `vn34:20`) or `vn`.",
                    "Hãy ghi mã tỉnh (ví dụ `vn63:20`, `vn34:20`) hoặc `vn`.",
                )
            scope.add(province)
            scope.update(successor for successor, _ in self._directory.index.successors(province))
            scope.update(old for old, _ in self._directory.predecessors(province, "province"))
        return sorted(scope)

    async def create(
        self, name: str, roles: Sequence[str], provinces: Sequence[str], created_by: str
    ) -> ClientCreated:
        """A new client and its secret (shown this once)."""
        scope = self.scope_of(provinces)
        client_id = f"bdg-{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(32)
        document: Document = {
            "_id": client_id,
            "name": name,
            "roles": sorted(set(roles)),
            "provinces": sorted(set(provinces)),
            "scope": scope,
            "secret_hash": await asyncio.to_thread(_HASHER.hash, secret),
            "created_at": datetime.now(UTC),
            "created_by": created_by,
        }
        await self._repository.add_client(document)
        return ClientCreated(
            client_id=client_id,
            client_secret=secret,
            name=name,
            roles=document["roles"],
            provinces=document["provinces"],
            scope=scope,
        )

    async def ensure_admin(self, client_id: str, secret: str) -> None:
        """The bootstrap admin from configuration: created, or its secret updated."""
        current = await self._repository.client(client_id)
        if current is not None and await _verifies(current["secret_hash"], secret):
            return
        await self._repository.put_client(
            {
                "_id": client_id,
                "name": "bootstrap administrator",
                "roles": ["admin"],
                "provinces": [NATIONAL_SCOPE],
                "scope": [NATIONAL_SCOPE],
                "secret_hash": await asyncio.to_thread(_HASHER.hash, secret),
                "created_at": datetime.now(UTC),
                "created_by": "configuration",
            }
        )
        log.info("bootstrap admin client ready", client_id=client_id)

    async def token(self, client_id: str, secret: str) -> str | None:
        """A signed access token, or `None` when the credentials are wrong."""
        client = await self._repository.client(client_id)
        hashed = client["secret_hash"] if client is not None else _DUMMY_HASH
        verified = await _verifies(hashed, secret)
        if not verified or client is None or client.get("revoked_at") is not None:
            return None
        roles = [role for role in client["roles"] if role in ROLES]
        return issue_token(
            await self._keys.signing_key(), client_id, roles, client["scope"], self._lifetime
        )

    async def clients(self, after: str | None, limit: int) -> list[ClientView]:
        return [client_view(document) for document in await self._repository.clients(after, limit)]

    async def revoke(self, client_id: str) -> ClientView:
        """Revoke a client: it gets no new token, and every service refuses its live
        ones once it has fetched the list of revoked clients (within a minute)."""
        if not await self._repository.revoke_client(client_id, datetime.now(UTC)):
            raise problems.missing("client", client_id)
        revoked = await self._repository.client(client_id)
        if revoked is None:  # removed from the database in between
            raise problems.missing("client", client_id)
        log.info("client revoked", client_id=client_id)
        return client_view(revoked)

    async def rotate_secret(self, client_id: str) -> str:
        """A new secret for a client (shown once); the old one stops working at once."""
        secret = secrets.token_urlsafe(32)
        hashed = await asyncio.to_thread(_HASHER.hash, secret)
        if not await self._repository.replace_secret(client_id, hashed, datetime.now(UTC)):
            raise problems.missing("client", client_id)
        return secret

    async def revoked(self) -> list[str]:
        return await self._repository.revoked_clients()


def client_view(document: Document) -> ClientView:
    """A client as administrators see it: no secret, no hash."""
    return ClientView.model_validate({**document, "client_id": document["_id"]})


async def _verifies(hashed: str, secret: str) -> bool:
    try:
        return await asyncio.to_thread(_HASHER.verify, hashed, secret)
    except (VerificationError, InvalidHashError):
        return False
