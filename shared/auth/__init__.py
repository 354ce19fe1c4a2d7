"""Authentication and authorisation shared by the three services.

The registry issues short-lived JWTs (EdDSA / Ed25519) to API clients through the
OAuth 2.0 client-credentials grant and publishes its public keys as a JWKS. Events
and reporting verify tokens offline against that JWKS, fetched at start and again
only when a token names a key they do not know yet, so rotation needs no restart.
"""

from shared.auth.principal import NATIONAL_SCOPE, ROLES, Principal
from shared.auth.tokens import (
    AUDIENCE,
    ISSUER,
    InvalidToken,
    SigningKey,
    TokenVerifier,
    issue_token,
    public_jwks,
)

__all__ = [
    "AUDIENCE",
    "ISSUER",
    "NATIONAL_SCOPE",
    "ROLES",
    "InvalidToken",
    "Principal",
    "SigningKey",
    "TokenVerifier",
    "issue_token",
    "public_jwks",
]
