"""Signing and verifying access tokens (JWT, EdDSA with Ed25519 keys)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jwt.algorithms import OKPAlgorithm
from prometheus_client import Gauge

from shared.auth.principal import Principal

ISSUER = "bdg-registry"
AUDIENCE = "bdg"
ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 5

KEYS_USABLE = Gauge(
    "bdg_signing_keys_usable",
    "1 while this service holds a key to verify tokens with",
    ["service"],
)


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by a key we trust."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str
    created_at: float

    @classmethod
    def generate(cls) -> SigningKey:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return cls(kid=uuid.uuid4().hex[:16], private_pem=pem, created_at=time.time())

    def private_key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"signing key {self.kid} is not an Ed25519 key")
        return key

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = OKPAlgorithm.to_jwk(self.private_key().public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def public_jwks(keys: Sequence[SigningKey]) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def issue_token(
    key: SigningKey,
    client_id: str,
    roles: Sequence[str],
    provinces: Sequence[str],
    lifetime_seconds: int,
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(sorted(roles)),
        "provinces": sorted(provinces),
    }
    return jwt.encode(claims, key.private_key(), algorithm=ALGORITHM, headers={"kid": key.kid})


JwksSource = Callable[[], Awaitable[dict[str, Any]]]


def jwks_from_url(url: str, timeout: float = 3.0) -> JwksSource:
    """Fetch a JWKS over HTTP (off the event loop)."""

    def fetch() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document

    async def source() -> dict[str, Any]:
        return await asyncio.to_thread(fetch)

    return source


class KeysUnavailable(Exception):
    """No key can verify the token now, though it may be valid: answer 503, not 401."""


class KeyStore(Protocol):
    """Where a verifier keeps the last good public keys (its service's database)."""

    async def load(self) -> list[dict[str, Any]]: ...

    async def save(self, keys: Sequence[dict[str, Any]]) -> None: ...


@dataclass
class _Held:
    jwk: dict[str, Any]
    key: Ed25519PublicKey
    last_seen: float  # wall clock: when a JWKS last listed it


class TokenVerifier:
    """Verifies tokens offline against the registry's public keys.

    The keys are kept in the service's own database and loaded at start, so a restart
    verifies tokens at once even while the registry is unreachable. They are refreshed
    in the background, and when a token names a key not held: one fetch at a time,
    shared by every request waiting for it, at most once per `min_refresh_seconds`, and
    after a failure not again before a cool-down that doubles up to a minute. A fetched
    key set is *merged*: a key the registry no longer lists is dropped only once no
    token it signed can still be valid (`retain_seconds`, the longest token lifetime).

    A token whose key cannot be had because the registry cannot be reached is
    `KeysUnavailable` (503 with Retry-After), never `InvalidToken` (401).
    """

    def __init__(
        self,
        source: JwksSource,
        min_refresh_seconds: float = 2.0,
        *,
        refresh_every_seconds: float = 300.0,
        retain_seconds: float = 2 * 86_400,
    ) -> None:
        self._source = source
        self._store: KeyStore | None = None
        self._keys: dict[str, _Held] = {}
        self._min_refresh = min_refresh_seconds
        self._refresh_every = refresh_every_seconds
        self._retain = retain_seconds
        self._last_refresh = float("-inf")
        self._cooldown = 0.0
        self._failed_at = float("-inf")
        self._fetch: asyncio.Task[None] | None = None
        self._background: asyncio.Task[None] | None = None
        self._service = "bdg"
        # Key ids a fetch just did not find, until when they are refused without a fetch.
        self._unknown: dict[str, float] = {}

    @property
    def usable(self) -> bool:
        """Whether any key is held at all (`/readyz` reports it)."""
        return bool(self._keys)

    async def start(self, store: KeyStore | None = None, service: str = "bdg") -> None:
        """Load the keys kept in the database, then keep them fresh in the background."""
        self._store = store
        self._service = service
        if store is not None:
            self._merge(await store.load(), seen=False)
        self._background = asyncio.create_task(self._refresh_forever(), name="jwks-refresh")

    async def stop(self) -> None:
        for task in (self._background, self._fetch):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _refresh_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # logged by `refresh`'s caller below
                await self.refresh()
            delay = self._refresh_every if self._cooldown == 0 else self._cooldown
            await asyncio.sleep(delay)

    def _merge(self, jwks: Sequence[dict[str, Any]], *, seen: bool) -> None:
        now = time.time()
        for jwk in jwks:
            kid = jwk.get("kid")
            key = OKPAlgorithm.from_jwk(jwk) if isinstance(kid, str) else None
            if isinstance(kid, str) and isinstance(key, Ed25519PublicKey):
                stored = float(jwk.get("last_seen", now))
                last_seen = (
                    now
                    if seen
                    else max(stored, self._keys[kid].last_seen if kid in self._keys else 0)
                )
                public = {k: v for k, v in jwk.items() if k != "last_seen"}
                self._keys[kid] = _Held(public, key, last_seen)
        self._keys = {
            kid: held for kid, held in self._keys.items() if now - held.last_seen <= self._retain
        }
        KEYS_USABLE.labels(self._service).set(1 if self._keys else 0)

    async def refresh(self) -> None:
        """Fetch the registry's key set once (joining a fetch under way) and merge it."""
        if self._fetch is None or self._fetch.done():
            self._fetch = asyncio.create_task(self._fetch_and_merge(), name="jwks-fetch")
        await asyncio.shield(self._fetch)

    async def _fetch_and_merge(self) -> None:
        try:
            document = await self._source()
        except Exception:
            self._failed_at = time.monotonic()
            self._cooldown = min(max(self._cooldown * 2, 1.0), 60.0)
            raise
        self._cooldown = 0.0
        self._last_refresh = time.monotonic()
        self._merge(document.get("keys", []), seen=True)
        if self._store is not None:
            await self._store.save(
                [{**held.jwk, "last_seen": held.last_seen} for held in self._keys.values()]
            )

    async def _key_for(self, kid: str) -> Ed25519PublicKey:
        held = self._keys.get(kid)
        if held is not None:
            return held.key
        now = time.monotonic()
        if self._unknown.get(kid, 0.0) > now:
            # Just looked for and not found: the same key id again is refused at once
            # (tokens with made-up key ids cannot make every request wait for a fetch).
            raise InvalidToken("the token is signed by an unknown key")
        if now - self._failed_at < self._cooldown:
            raise KeysUnavailable(
                f"the registry's keys could not be fetched; retry in {self._retry_after():.0f} s"
            )
        # A token of a key rotated in just after a fetch waits for the next allowed one.
        wait = self._min_refresh - (now - self._last_refresh)
        if wait > 0:
            await asyncio.sleep(wait)
        if kid not in self._keys:
            try:
                await self.refresh()
            except Exception as exc:
                raise KeysUnavailable("the registry's signing keys cannot be fetched now") from exc
        held = self._keys.get(kid)
        if held is None:
            now = time.monotonic()
            self._unknown = {k: until for k, until in self._unknown.items() if until > now}
            if len(self._unknown) < 10_000:
                self._unknown[kid] = now + self._min_refresh
            raise InvalidToken("the token is signed by an unknown key")
        return held.key

    def _retry_after(self) -> float:
        return max(self._cooldown - (time.monotonic() - self._failed_at), 1.0)

    def retry_after_seconds(self) -> int:
        return int(self._retry_after() + 0.999)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a JWT") from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise InvalidToken("the token must be EdDSA-signed and name its key (kid)")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        return Principal(
            client_id=str(claims["sub"]),
            roles=frozenset(str(claims.get("scope", "")).split()),
            provinces=frozenset(str(p) for p in claims.get("provinces", [])),
        )
