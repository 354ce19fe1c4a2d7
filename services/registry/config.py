"""Registry settings: the common `BDG_*` ones plus its port and database."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BDG_", extra="ignore", populate_by_name=True)

    service_name: str = "registry"
    port: int = Field(default=8001, validation_alias="BDG_REGISTRY_PORT")
    database: str = Field(default="bdg_registry", validation_alias="BDG_REGISTRY_DATABASE")
