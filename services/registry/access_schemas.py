"""Bodies of the client and token endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

RoleName = Literal["submitter", "viewer", "approver", "admin"]
ProvinceId = Annotated[str, StringConstraints(pattern=r"^(vn|vn63:\d{2}|vn34:\d{2})$")]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    roles: list[RoleName] = Field(min_length=1, max_length=4)
    provinces: list[ProvinceId] = Field(
        min_length=1,
        max_length=100,
        description="Province ids (`vn63:20`, `vn34:20`), or `vn` for national scope",
    )


class ClientCreated(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown once; only its Argon2 hash is kept")
    name: str
    roles: list[str]
    provinces: list[str]
    scope: list[str] = Field(
        description="The provinces the client may act for, with their predecessors and "
        "successors across the 2025 reorganisation"
    )


class Token(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class RotatedKey(BaseModel):
    kid: str


class ClientView(BaseModel):
    """A client as administrators see it: never its secret, nor the secret's hash."""

    client_id: str
    name: str
    roles: list[str]
    provinces: list[str]
    scope: list[str]
    created_at: datetime
    created_by: str
    secret_rotated_at: datetime | None = None
    revoked_at: datetime | None = Field(
        default=None, description="Set once revoked: no new tokens, live ones refused"
    )


class ClientList(BaseModel):
    items: list[ClientView]
    next_cursor: str | None = None


class RotatedSecret(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown once; the old secret no longer works")


class RevokedClients(BaseModel):
    revoked: list[str] = Field(description="Ids of revoked clients, whose tokens are refused")
