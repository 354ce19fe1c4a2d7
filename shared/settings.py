"""Settings common to the three services, read from `BDG_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PREFIX = "BDG_"


class ServiceSettings(BaseSettings):
    """What every service needs: where MongoDB and NATS are, how to bind and log.

    `mongodb_url` unset means the embedded store: the database is a file under
    `data_dir/store/`, kept across stops and crashes (docs/storage.md).

    Any setting can also be given as `BDG_<NAME>_FILE`, the path of a file holding the
    value (compose secrets): `BDG_MONGODB_URL_FILE`, `BDG_NATS_PASSWORD_FILE`,
    `BDG_ADMIN_CLIENT_SECRET_FILE`, `BDG_SIGNING_KEY_PASSPHRASE_FILE`. The variable
    itself, when set, wins.
    """

    # An empty variable (as `deploy/.env.example` leaves the admin secret) means unset.
    model_config = SettingsConfigDict(
        env_prefix="BDG_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    mongodb_url: str | None = None
    # Where the embedded store keeps its files when `mongodb_url` is unset.
    data_dir: Path = Path(".data")
    # A MongoDB server: how long to look for a primary (longer than an election) and
    # the bound on every operation; past them a request answers 503 with Retry-After.
    mongodb_server_selection_timeout_ms: int = Field(default=30_000, ge=15_000)
    mongodb_timeout_ms: int = Field(default=20_000, ge=1_000)
    # One server, or a comma list of the servers of a cluster.
    nats_url: str = "nats://127.0.0.1:4222"
    # This service's NATS user (publish permissions are per user: deploy/nats).
    nats_user: str | None = None
    nats_password: str | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    stream_replicas: int = Field(default=1, ge=1, le=5)
    log_level: str = "INFO"
    log_json: bool = True
    # Stopping (SIGTERM): readiness answers 503 for `shutdown_notice_seconds` while
    # requests are still served, then in-flight requests, messages and the outbox drain;
    # the whole stop stays within `shutdown_drain_seconds`.
    shutdown_notice_seconds: float = Field(default=2.0, ge=0, le=30)
    shutdown_drain_seconds: float = Field(default=20.0, ge=5, le=300)
    # Outbox relay: how often it looks for unsent events when nothing woke it.
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # Consumers: a message failing this many times lands in dead letters.
    consumer_max_deliver: int = Field(default=5, ge=1)
    consumer_batch_size: int = Field(default=2000, ge=1)
    # How often a consumer compares its database's position with the stream.
    consumer_check_every_seconds: float = Field(default=30.0, gt=0)

    # Access tokens are verified with the registry's public keys (JWKS), fetched when
    # a token names a key not seen yet.
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    # Largest request body accepted (bytes); larger → 413.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Per API client: sustained requests per second and burst.
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: float = Field(default=200.0, ge=1)

    # Each service overrides these three with its own variable names.
    service_name: str = "bdg"
    port: int = 8000
    database: str = "bdg"

    @model_validator(mode="before")
    @classmethod
    def _values_from_files(cls, values: Any) -> Any:
        """`BDG_<NAME>_FILE` for any setting not given directly."""
        if not isinstance(values, dict):
            return values
        for name in cls.model_fields:
            if values.get(name) not in (None, "") or os.environ.get(f"{_PREFIX}{name.upper()}"):
                continue
            path = os.environ.get(f"{_PREFIX}{name.upper()}_FILE")
            if path:
                values[name] = Path(path).read_text(encoding="utf-8").strip()
        return values
