"""Events-service settings: the common `BDG_*` ones plus its own."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    service_name: str = "events"
    port: int = Field(default=8002, validation_alias="BDG_EVENTS_PORT")
    database: str = Field(default="bdg_events", validation_alias="BDG_EVENTS_DATABASE")
    # An activity whose reference (unit, club, site, programme) is still unknown this
    # long after it was written is rejected.
    pending_timeout_seconds: float = Field(
        default=86_400, gt=0, validation_alias="BDG_EVENTS_PENDING_TIMEOUT_SECONDS"
    )
    # How often pending activities are checked again (resolved, or rejected when late).
    pending_sweep_seconds: float = Field(
        default=60, gt=0, validation_alias="BDG_EVENTS_PENDING_SWEEP_SECONDS"
    )
    # Largest batch body and largest uploaded file, in bytes (413 beyond).
    batch_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, validation_alias="BDG_EVENTS_BATCH_MAX_BYTES"
    )
    import_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, validation_alias="BDG_EVENTS_IMPORT_MAX_BYTES"
    )
    import_max_rows: int = Field(
        default=20_000, ge=1, validation_alias="BDG_EVENTS_IMPORT_MAX_ROWS"
    )
