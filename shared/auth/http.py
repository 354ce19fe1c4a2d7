"""FastAPI side of authentication: bearer tokens, revoked clients, per-client rate limits."""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.principal import Principal, Role
from shared.auth.tokens import InvalidToken, KeysUnavailable, TokenVerifier
from shared.edge import authorization, problems
from shared.edge.i18n import say
from shared.logging import bind_client_id, get_logger

_BEARER = "bearer "
log = get_logger(__name__)


@dataclass
class RateLimiter:
    """A token bucket per client: `rate` requests per second, bursts up to `burst`."""

    rate: float
    burst: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, client_id: str, now: float | None = None) -> float:
        """Take one token; 0 when allowed, else the seconds until one is available."""
        moment = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(client_id, (self.burst, moment))
        tokens = min(self.burst, tokens + (moment - last) * self.rate)
        if tokens >= 1:
            self._buckets[client_id] = (tokens - 1, moment)
            return 0.0
        self._buckets[client_id] = (tokens, moment)
        return (1 - tokens) / self.rate


RevocationSource = Callable[[], Awaitable[dict[str, Any]]]
"""Gives `{"revoked": ["<client id>", …]}`: the clients whose tokens are refused."""


def revocations_from_url(url: str, timeout: float = 3.0) -> RevocationSource:
    """Fetch the registry's list of revoked clients over HTTP (off the event loop)."""

    def fetch() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document

    async def source() -> dict[str, Any]:
        return await asyncio.to_thread(fetch)

    return source


class RevocationList:
    """The revoked clients, as the registry lists them, refreshed every `refresh_seconds`.

    Tokens are verified offline, so a revoked client's tokens would stay valid until
    they expire; every service therefore refuses the tokens of clients on this list.
    The list is fetched in the background, on the first request and then whenever it
    is older than `refresh_seconds` (30 s: a revocation takes effect everywhere within a
    minute); no request waits for it. While the registry cannot be reached the last
    list is kept.
    """

    def __init__(self, source: RevocationSource, refresh_seconds: float = 30.0) -> None:
        self._source = source
        self._refresh_seconds = refresh_seconds
        self._revoked: frozenset[str] = frozenset()
        self._fetched_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            document = await self._source()
        except Exception as exc:  # registry away: keep what we have.
            log.warning("revoked clients cannot be fetched", error=repr(exc))
            return
        self._revoked = frozenset(str(client) for client in document.get("revoked", []))

    def revoke(self, client_id: str) -> None:
        """Take effect at once in this process (the registry revoking locally)."""
        self._revoked = self._revoked | {client_id}

    async def is_revoked(self, client_id: str) -> bool:
        stale = time.monotonic() - self._fetched_at > self._refresh_seconds
        if stale and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self.refresh(), name="revocations-refresh")
        return client_id in self._revoked


@dataclass
class Authenticator:
    verifier: TokenVerifier
    limiter: RateLimiter
    revocations: RevocationList | None = None

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith(_BEARER):
            raise problems.unauthenticated()
        try:
            principal = await self.verifier.verify(header[len(_BEARER) :].strip())
        except KeysUnavailable as exc:
            # The token may well be valid: the keys to check it cannot be had now.
            raise problems.keys_unavailable(self.verifier.retry_after_seconds()) from exc
        except InvalidToken as exc:
            raise problems.invalid_token(_token_fault(str(exc))) from exc
        if self.revocations is not None and await self.revocations.is_revoked(principal.client_id):
            raise problems.invalid_token(
                say(
                    f"Client {principal.client_id} has been revoked.",
                    f"Ứng dụng {principal.client_id} đã bị thu hồi.",
                )
            )
        wait = self.limiter.retry_after(principal.client_id)
        if wait > 0:
            raise problems.rate_limited(
                principal.client_id, self.limiter.rate, max(1, math.ceil(wait))
            )
        request.state.principal = principal
        bind_client_id(principal.client_id)
        return principal


# What the verifier says about a token, said in Vietnamese too.
_TOKEN_FAULTS_VI = {
    "the token is not a JWT": "mã truy cập không phải JWT",
    "the token must be EdDSA-signed and name its key (kid)": (
        "mã truy cập phải được ký EdDSA và ghi khóa ký (kid)"
    ),
    "the signing keys cannot be fetched right now": "hiện không lấy được khóa ký",
    "the token is signed by an unknown key": "mã truy cập được ký bằng khóa không xác định",
    "the token has expired": "mã truy cập đã hết hạn",
}


def _token_fault(english: str) -> str:
    vietnamese = _TOKEN_FAULTS_VI.get(english, f"mã truy cập không hợp lệ ({english})")
    return say(english, vietnamese)


# Declares the bearer scheme on every operation that takes `current_principal` (the
# OpenAPI document and Swagger UI's Authorize button); the check itself is ours.
BEARER_SCHEME = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access token from the registry's `POST /v1/oauth/token`.",
    auto_error=False,
)


async def current_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)] = None,
) -> Principal:
    """The dependency every `/v1` route takes: 401 without a valid token."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.principal(request)


Caller = Annotated[Principal, Depends(current_principal)]


def require_admin(principal: Principal) -> None:
    authorization.require_admin(principal)


def authorize(principal: Principal, role: Role, province_id: str | None) -> None:
    """Raise 403 unless the client has `role` for the province (`None`: national)."""
    authorization.require(principal, role, province_id)
