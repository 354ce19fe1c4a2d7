"""Registry settings: the common `BDG_*` ones plus its own."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    service_name: str = "registry"
    port: int = Field(default=8001, validation_alias="BDG_REGISTRY_PORT")
    database: str = Field(default="bdg_registry", validation_alias="BDG_REGISTRY_DATABASE")
    # The bootstrap administrator (national scope); no default: unset means none.
    admin_client_id: str | None = Field(default=None, validation_alias="BDG_ADMIN_CLIENT_ID")
    admin_client_secret: str | None = Field(
        default=None, validation_alias="BDG_ADMIN_CLIENT_SECRET", min_length=16
    )
    # Encrypts the private signing keys in the database; required (make up and the
    # compose stack generate one; keep it with the backups, or tokens can't be signed).
    signing_key_passphrase: str | None = Field(
        default=None, validation_alias="BDG_SIGNING_KEY_PASSPHRASE", min_length=16, repr=False
    )
    # Lifetime of access tokens (seconds).
    token_lifetime_seconds: int = Field(
        default=900, ge=60, le=86400, validation_alias="BDG_TOKEN_LIFETIME_SECONDS"
    )
    # Which provinces of the national reference to load: `all`; `none` (no units at
    # all, for tests that need none); or a comma list of `vn63:20`, `vn34:08` or bare
    # codes (`20`: that code in both editions). The vn34 provinces the chosen vn63
    # ones went into are always loaded with them.
    reference_provinces: str = Field(
        default="all", validation_alias="BDG_REGISTRY_REFERENCE_PROVINCES"
    )
    # Events per group when storing the reference (one group is published before the
    # next is written, which keeps the outbox relay's batches small).
    reference_group_events: int = Field(
        default=500, ge=1, validation_alias="BDG_REGISTRY_REFERENCE_GROUP_EVENTS"
    )
    # Largest bulk member call, largest import file and its rows.
    bulk_max_members: int = Field(
        default=5000, ge=1, validation_alias="BDG_REGISTRY_BULK_MAX_MEMBERS"
    )
    import_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, validation_alias="BDG_REGISTRY_IMPORT_MAX_BYTES"
    )
    import_max_rows: int = Field(
        default=20_000, ge=1, validation_alias="BDG_REGISTRY_IMPORT_MAX_ROWS"
    )
