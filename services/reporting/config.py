"""Reporting settings: the common `BDG_*` ones plus its port and database."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    port: int = Field(default=8003, validation_alias="BDG_REPORTING_PORT")
    database: str = Field(default="bdg_reporting", validation_alias="BDG_REPORTING_DATABASE")
    # The registry's base URL as a browser reaches it: the dashboard signs in there
    # (POST /v1/oauth/token) and searches units (GET /v1/units?q=). Unset: the host the
    # page was loaded from, port 8001.
    registry_public_url: str | None = None
    # The operator's DHIS2/ADX mapping file (JSON); unset: the one shipped with the
    # service, services/reporting/dhis2_mapping.json.
    dhis2_mapping_file: str | None = None
    # The operator's reporting deadlines file (JSON, read at start); unset: the one
    # shipped with the service, services/reporting/deadlines.json.
    deadlines_file: str | None = None
