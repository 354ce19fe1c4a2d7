"""Access tokens: issued by the registry's keys, verified offline, rotated without downtime."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from shared.auth import InvalidToken, Principal, SigningKey, TokenVerifier, issue_token, public_jwks
from shared.auth.http import RateLimiter


class Jwks:
    """The registry's JWKS as a verifier would fetch it, counting fetches."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = keys
        self.fetches = 0

    async def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        return public_jwks(self.keys)


async def test_a_token_carries_the_clients_roles_and_provinces() -> None:
    key = SigningKey.generate()
    token = issue_token(key, "lang-son-app", ["submitter"], ["vn63:20", "vn34:20"], 900)
    principal = await TokenVerifier(Jwks([key])).verify(token)
    assert principal == Principal(
        client_id="lang-son-app",
        roles=frozenset({"submitter"}),
        provinces=frozenset({"vn63:20", "vn34:20"}),
    )


async def test_expired_token_is_rejected() -> None:
    key = SigningKey.generate()
    token = issue_token(key, "c", ["viewer"], ["vn34:20"], lifetime_seconds=-60)
    with pytest.raises(InvalidToken, match="expired"):
        await TokenVerifier(Jwks([key])).verify(token)


async def test_token_signed_by_a_key_not_in_the_jwks_is_rejected() -> None:
    trusted, forged = SigningKey.generate(), SigningKey.generate()
    token = issue_token(forged, "c", ["admin"], ["vn"], 900)
    with pytest.raises(InvalidToken, match="unknown key"):
        await TokenVerifier(Jwks([trusted])).verify(token)


async def test_token_with_a_tampered_payload_is_rejected() -> None:
    key = SigningKey.generate()
    token = issue_token(key, "c", ["viewer"], ["vn34:20"], 900)
    header, _payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        b'{"iss":"bdg-registry","aud":"bdg","sub":"c","scope":"admin","provinces":["vn"],'
        + f'"iat":{int(time.time())},"exp":{int(time.time()) + 900}}}'.encode()
    ).decode()
    with pytest.raises(InvalidToken, match="not valid"):
        await TokenVerifier(Jwks([key])).verify(f"{header}.{forged_payload}.{signature}")


async def test_hs256_token_is_rejected_even_when_signed_with_the_public_key() -> None:
    key = SigningKey.generate()
    token = jwt.encode(
        {"sub": "c", "scope": "admin"}, "s" * 32, algorithm="HS256", headers={"kid": key.kid}
    )
    with pytest.raises(InvalidToken, match="EdDSA"):
        await TokenVerifier(Jwks([key])).verify(token)


async def test_rotation_keeps_old_tokens_valid_and_picks_up_the_new_key() -> None:
    old = SigningKey.generate()
    jwks = Jwks([old])
    verifier = TokenVerifier(jwks, min_refresh_seconds=0)
    old_token = issue_token(old, "c", ["viewer"], ["vn34:20"], 900)
    assert (await verifier.verify(old_token)).client_id == "c"

    new = SigningKey.generate()
    jwks.keys = [new, old]  # during rotation both keys are published
    new_token = issue_token(new, "c", ["viewer"], ["vn34:20"], 900)
    assert (await verifier.verify(new_token)).client_id == "c"
    assert (await verifier.verify(old_token)).client_id == "c"
    fetches = jwks.fetches
    await verifier.verify(new_token)
    assert jwks.fetches == fetches, "known keys are verified offline, without a fetch"


def test_principal_scopes() -> None:
    submitter = Principal("ls", frozenset({"submitter"}), frozenset({"vn63:20", "vn34:20"}))
    assert submitter.may("submitter", "vn63:20")
    assert submitter.may("viewer", "vn34:20")
    assert not submitter.may("submitter", "vn63:02")
    assert not submitter.may("viewer", None), "national figures need national scope"
    viewer = Principal("v", frozenset({"viewer"}), frozenset({"vn34:20"}))
    assert not viewer.may("submitter", "vn34:20")
    admin = Principal("a", frozenset({"admin"}), frozenset())
    assert admin.may("submitter", "vn63:02")
    assert admin.may("viewer", None)


def test_rate_limiter_allows_a_burst_then_says_when_to_retry() -> None:
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.retry_after("c", now=100.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("c", now=100.0) == pytest.approx(0.5)
    assert limiter.retry_after("other", now=100.0) == 0, "limits are per client"
    assert limiter.retry_after("c", now=101.0) == 0


async def test_a_key_rotated_in_just_after_a_fetch_is_accepted_not_refused() -> None:
    old = SigningKey.generate()
    jwks = Jwks([old])
    verifier = TokenVerifier(jwks, min_refresh_seconds=0.3)
    await verifier.verify(issue_token(old, "c", ["viewer"], ["vn34:20"], 900))  # fetches

    new = SigningKey.generate()
    jwks.keys = [new, old]
    started = time.monotonic()
    principal = await verifier.verify(issue_token(new, "c", ["viewer"], ["vn34:20"], 900))
    assert principal.client_id == "c"
    assert time.monotonic() - started < 1.0
    assert jwks.fetches == 2, "one fetch per interval, even for a new key"
