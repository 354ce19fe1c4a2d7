"""Routes of API clients, OAuth 2.0 tokens, the JWKS, revocations and key rotation."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Path, Request

from services.registry.access_schemas import (
    ClientCreated,
    ClientIn,
    ClientList,
    ClientView,
    RevokedClients,
    RotatedKey,
    RotatedSecret,
    Token,
)
from services.registry.deps import AccessDep, Caller, Cursor, Limit
from shared.audit import note_write
from shared.auth.http import Authenticator
from shared.edge import problems
from shared.edge.authorization import require_admin
from shared.edge.cursors import decode_cursor, page_cursor

router = APIRouter()
ClientPath = Annotated[str, Path(max_length=200, description="The client's id")]
_BASIC = "basic "


def _oauth_error(status: int, error: str, en: str, vi: str) -> Exception:
    return problems.oauth_error(status, error, en, vi)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """`client_secret_basic` (RFC 6749 §2.3.1): id and secret, form-urlencoded, in HTTP
    Basic; `None` without an `Authorization: Basic` header."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(_BASIC):
        return None
    try:
        decoded = base64.b64decode(header[len(_BASIC) :].strip(), validate=True).decode()
        client_id, _, secret = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _oauth_error(
            401,
            "invalid_client",
            "The Basic credentials cannot be decoded.",
            "Không giải mã được thông tin Basic.",
        ) from None
    return unquote(client_id), unquote(secret)


@router.post(
    "/v1/oauth/token",
    response_model=Token,
    tags=["access"],
    summary="OAuth 2.0 client-credentials grant",
    responses={400: {"description": "Bad grant"}, 401: {"description": "Bad credentials"}},
)
async def token(
    request: Request,
    service: AccessDep,
    grant_type: Annotated[str, Form(max_length=50)],
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=500)] = None,
) -> Token:
    """Form field `grant_type=client_credentials`, and the client's credentials either
    as HTTP Basic (`client_secret_basic`) or as the form fields `client_id` and
    `client_secret` (`client_secret_post`). A revoked client gets no token."""
    if grant_type != "client_credentials":
        raise _oauth_error(
            400,
            "unsupported_grant_type",
            "Only grant_type=client_credentials is supported.",
            "Chỉ hỗ trợ grant_type=client_credentials.",
        )
    basic = _basic_credentials(request)
    if basic is not None and client_id is not None and client_id != basic[0]:
        raise _oauth_error(
            400,
            "invalid_request",
            "Send the client's credentials one way: HTTP Basic or form fields.",
            "Chỉ gửi thông tin ứng dụng theo một cách: HTTP Basic hoặc trường biểu mẫu.",
        )
    identity, secret = basic or (client_id, client_secret)
    if identity is None or secret is None:
        raise _oauth_error(
            401,
            "invalid_client",
            "Send client_id and client_secret as form fields or as HTTP Basic.",
            "Hãy gửi client_id và client_secret trong biểu mẫu hoặc qua HTTP Basic.",
        )
    signed = await service.clients.token(identity, secret)
    if signed is None:
        raise _oauth_error(
            401,
            "invalid_client",
            "Unknown or revoked client, or wrong secret.",
            "Ứng dụng không tồn tại hoặc đã bị thu hồi, hoặc sai mật khẩu.",
        )
    return Token(access_token=signed, expires_in=service.lifetime_seconds)


@router.get("/.well-known/jwks.json", tags=["access"], summary="Public keys of access tokens")
async def jwks(service: AccessDep) -> dict[str, Any]:
    """The Ed25519 public keys every service verifies access tokens with."""
    return await service.keys.jwks()


@router.get(
    "/.well-known/revoked-clients.json",
    response_model=RevokedClients,
    tags=["access"],
    summary="Revoked clients",
)
async def revoked_clients(service: AccessDep) -> RevokedClients:
    """The ids of revoked clients: every service refuses their tokens (it fetches this
    list every 30 seconds, so a revocation holds everywhere within a minute)."""
    return RevokedClients(revoked=await service.clients.revoked())


@router.post(
    "/v1/clients",
    response_model=ClientCreated,
    status_code=201,
    tags=["access"],
    summary="Create an API client (admins only); its secret is returned once",
)
async def create_client(body: ClientIn, caller: Caller, service: AccessDep) -> ClientCreated:
    """A client acts for the provinces given (and, across the 2025 reorganisation,
    their predecessors and successors) with the roles given."""
    require_admin(caller)
    created = await service.clients.create(body.name, body.roles, body.provinces, caller.client_id)
    note_write("client.created", created.client_id)
    return created


@router.get(
    "/v1/clients",
    response_model=ClientList,
    tags=["access"],
    summary="List API clients (admins only); never their secrets",
)
async def list_clients(
    caller: Caller, service: AccessDep, limit: Limit = 100, cursor: Cursor = None
) -> ClientList:
    """Every client by id, revoked ones included (with `revoked_at`)."""
    require_admin(caller)
    key = decode_cursor(cursor, (str,))
    found = await service.clients.clients(None if key is None else str(key[0]), limit + 1)
    return ClientList(
        items=found[:limit],
        next_cursor=page_cursor(found, limit, lambda client: [client.client_id]),
    )


@router.delete(
    "/v1/clients/{client_id}",
    response_model=ClientView,
    tags=["access"],
    summary="Revoke an API client (admins only)",
    responses={404: {"description": "No such client (`unknown-client`)"}},
)
async def revoke_client(
    client_id: ClientPath, request: Request, caller: Caller, service: AccessDep
) -> ClientView:
    """The client gets no new token from now on, and its live tokens are refused by
    every service within a minute (at once by this one). Revoking again changes
    nothing."""
    require_admin(caller)
    revoked = await service.clients.revoke(client_id)
    service.revocations.revoke(client_id)
    note_write("client.revoked", client_id)
    return revoked


@router.post(
    "/v1/clients/{client_id}/secret:rotate",
    response_model=RotatedSecret,
    tags=["access"],
    summary="Give an API client a new secret (admins only)",
    responses={404: {"description": "No such client, or revoked (`unknown-client`)"}},
)
async def rotate_client_secret(
    client_id: ClientPath, caller: Caller, service: AccessDep
) -> RotatedSecret:
    """The new secret is shown once; the old one gets no token from now on (tokens
    already issued stay valid until they expire)."""
    require_admin(caller)
    secret = await service.clients.rotate_secret(client_id)
    note_write("client.secret-rotated", client_id)
    return RotatedSecret(client_id=client_id, client_secret=secret)


@router.post(
    "/v1/admin/signing-keys:rotate",
    response_model=RotatedKey,
    tags=["access"],
    summary="Sign new tokens with a new key; tokens of the old one stay valid until they expire",
)
async def rotate_signing_key(request: Request, caller: Caller, service: AccessDep) -> RotatedKey:
    """A new Ed25519 key signs from now on; the old one stays in the JWKS until every
    token it signed has expired."""
    require_admin(caller)
    kid = await service.keys.rotate()
    # This instance trusts the new key at once (its verifier would otherwise wait for
    # its next refresh before it looks the new key up).
    authenticator: Authenticator = request.app.state.authenticator
    await authenticator.verifier.refresh()
    note_write("signing-key.rotated", kid)
    return RotatedKey(kid=kid)
