"""Reporting settings: the common `BDG_*` ones plus its port and database."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    port: int = Field(default=8003, validation_alias="BDG_REPORTING_PORT")
    database: str = Field(default="bdg_reporting", validation_alias="BDG_REPORTING_DATABASE")
