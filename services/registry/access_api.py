"""Routes of API clients, OAuth 2.0 tokens, the JWKS and key rotation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request

from services.registry.access import ClientService, KeyStore
from services.registry.access_schemas import ClientCreated, ClientIn, RotatedKey, Token
from shared.audit import note_write
from shared.auth.http import Authenticator, Caller, require_admin
from shared.http import Problem

router = APIRouter()


class Access:
    def __init__(self, clients: ClientService, keys: KeyStore, lifetime_seconds: int) -> None:
        self.clients = clients
        self.keys = keys
        self.lifetime_seconds = lifetime_seconds


def access(request: Request) -> Access:
    found: Access = request.app.state.service.access
    return found


AccessDep = Annotated[Access, Depends(access)]


def _oauth_error(status: int, error: str, description: str) -> Problem:
    # RFC 6749 §5.2 names the error in `error`; the body is also a problem document.
    return Problem(
        status,
        f"oauth-{error.replace('_', '-')}",
        "Token request refused",
        description,
        headers={"WWW-Authenticate": 'Basic realm="bdg"'} if status == 401 else None,
        error=error,
        error_description=description,
    )


@router.post(
    "/v1/oauth/token",
    response_model=Token,
    tags=["access"],
    summary="OAuth 2.0 client-credentials grant",
    responses={400: {"description": "Bad grant"}, 401: {"description": "Bad credentials"}},
)
async def token(
    service: AccessDep,
    grant_type: Annotated[str, Form(max_length=50)],
    client_id: Annotated[str, Form(max_length=200)],
    client_secret: Annotated[str, Form(max_length=500)],
) -> Token:
    """Form fields `grant_type=client_credentials`, `client_id`, `client_secret`."""
    if grant_type != "client_credentials":
        raise _oauth_error(
            400, "unsupported_grant_type", "Only grant_type=client_credentials is supported."
        )
    signed = await service.clients.token(client_id, client_secret)
    if signed is None:
        raise _oauth_error(401, "invalid_client", "Unknown client or wrong secret.")
    return Token(access_token=signed, expires_in=service.lifetime_seconds)


@router.get("/.well-known/jwks.json", tags=["access"], summary="Public keys of access tokens")
async def jwks(service: AccessDep) -> dict[str, Any]:
    return await service.keys.jwks()


@router.post(
    "/v1/clients",
    response_model=ClientCreated,
    status_code=201,
    tags=["access"],
    summary="Create an API client (admins only); its secret is returned once",
)
async def create_client(body: ClientIn, caller: Caller, service: AccessDep) -> ClientCreated:
    require_admin(caller)
    document, secret = await service.clients.create(
        body.name, body.roles, body.provinces, caller.client_id
    )
    note_write("client.created", document["_id"])
    return ClientCreated(
        client_id=document["_id"],
        client_secret=secret,
        name=document["name"],
        roles=document["roles"],
        provinces=document["provinces"],
        scope=document["scope"],
    )


@router.post(
    "/v1/admin/signing-keys:rotate",
    response_model=RotatedKey,
    tags=["access"],
    summary="Sign new tokens with a new key; tokens of the old one stay valid until they expire",
)
async def rotate_signing_key(request: Request, caller: Caller, service: AccessDep) -> RotatedKey:
    require_admin(caller)
    kid = await service.keys.rotate()
    # This instance trusts the new key at once (its verifier would otherwise wait for
    # its next refresh before it looks the new key up).
    authenticator: Authenticator = request.app.state.authenticator
    await authenticator.verifier.refresh()
    note_write("signing-key.rotated", kid)
    return RotatedKey(kid=kid)
