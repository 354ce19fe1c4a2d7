"""FastAPI side of authentication: bearer tokens, scopes, per-client rate limits."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from shared.auth.principal import Principal, Role
from shared.auth.tokens import InvalidToken, KeysUnavailable, TokenVerifier
from shared.http import Problem
from shared.logging import bind_client_id

_BEARER = "bearer "


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


@dataclass
class Authenticator:
    verifier: TokenVerifier
    limiter: RateLimiter

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith(_BEARER):
            raise Problem(
                401,
                "unauthenticated",
                "Authentication required",
                "Send `Authorization: Bearer <access_token>`; get a token from the "
                "registry's POST /v1/oauth/token (client credentials).",
                headers={"WWW-Authenticate": 'Bearer realm="bdg"'},
            )
        try:
            principal = await self.verifier.verify(header[len(_BEARER) :].strip())
        except KeysUnavailable as exc:
            # The token may well be valid: the keys to check it cannot be had now.
            raise Problem(
                503,
                "keys-unavailable",
                "Token cannot be checked now",
                f"{exc}. Send the request again shortly.",
                headers={"Retry-After": str(self.verifier.retry_after_seconds())},
            ) from exc
        except InvalidToken as exc:
            raise Problem(
                401,
                "invalid-token",
                "Invalid access token",
                str(exc),
                headers={"WWW-Authenticate": 'Bearer realm="bdg", error="invalid_token"'},
            ) from exc
        wait = self.limiter.retry_after(principal.client_id)
        if wait > 0:
            raise Problem(
                429,
                "rate-limited",
                "Too many requests",
                f"Client {principal.client_id} is over its limit of "
                f"{self.limiter.rate:g} requests per second.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        request.state.principal = principal
        bind_client_id(principal.client_id)
        return principal


async def current_principal(request: Request) -> Principal:
    """The dependency every `/v1` route takes: 401 without a valid token."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.principal(request)


Caller = Annotated[Principal, Depends(current_principal)]


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Problem(
            403,
            "forbidden",
            "Not allowed for this client",
            f"This request needs role 'admin'; client {principal.client_id} has roles "
            f"{sorted(principal.roles)}.",
            required_role="admin",
        )


def authorize(principal: Principal, role: Role, province_id: str | None) -> None:
    """Raise 403 unless the client has `role` for the province (`None`: national)."""
    if principal.may(role, province_id):
        return
    raise Problem(
        403,
        "forbidden",
        "Not allowed for this client",
        f"This request needs {principal.missing_scope(role, province_id)}; client "
        f"{principal.client_id} has roles {sorted(principal.roles)} for provinces "
        f"{sorted(principal.provinces)}.",
        required_role=role,
        required_province=province_id or "vn",
    )
