"""Signing and verifying access tokens (JWT, EdDSA with Ed25519 keys)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jwt.algorithms import OKPAlgorithm

from shared.auth.principal import Principal

ISSUER = "bdg-registry"
AUDIENCE = "bdg"
ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 5


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


class TokenVerifier:
    """Verifies tokens offline against cached public keys.

    The JWKS is fetched when a token names a key id not in the cache (at most once per
    `min_refresh_seconds`; a request arriving sooner waits for that moment), so a
    rotated-in key is picked up on its first use and keys still in the JWKS keep
    verifying the tokens they signed until those expire.
    """

    def __init__(self, source: JwksSource, min_refresh_seconds: float = 2.0) -> None:
        self._source = source
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._min_refresh = min_refresh_seconds
        self._last_refresh = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        document = await self._source()
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in document.get("keys", []):
            key = OKPAlgorithm.from_jwk(jwk)
            if isinstance(key, Ed25519PublicKey) and isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = key
        self._keys = keys
        self._last_refresh = time.monotonic()

    async def _key_for(self, kid: str) -> Ed25519PublicKey:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            if kid not in self._keys:
                # At most one fetch per `min_refresh_seconds`: a token of a key rotated
                # in just after a fetch waits for the next one rather than failing.
                wait = self._min_refresh - (time.monotonic() - self._last_refresh)
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    await self.refresh()
                except Exception as exc:
                    raise InvalidToken("the signing keys cannot be fetched right now") from exc
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed by an unknown key")
        return key

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
