"""Events-service settings: the common `BDG_*` ones plus its port and database."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class EventsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BDG_", extra="ignore", populate_by_name=True)

    service_name: str = "events"
    port: int = Field(default=8002, validation_alias="BDG_EVENTS_PORT")
    database: str = Field(default="bdg_events", validation_alias="BDG_EVENTS_DATABASE")
