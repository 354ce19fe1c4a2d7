"""Configuration from `BDG_*` variables, and small pure helpers."""

from __future__ import annotations

import pytest

from services.events.config import EventsSettings
from services.registry.config import RegistrySettings
from services.registry.schemas import ProgrammeIn
from services.reporting.config import ReportingSettings
from shared.consumer import redelivery_delay
from shared.http import Problem


def test_each_service_has_its_default_port_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BDG_REGISTRY_PORT", "BDG_EVENTS_PORT", "BDG_REPORTING_PORT", "BDG_MONGODB_URL"):
        monkeypatch.delenv(name, raising=False)
    assert (RegistrySettings().port, RegistrySettings().database) == (8001, "bdg_registry")
    assert (EventsSettings().port, EventsSettings().database) == (8002, "bdg_events")
    assert (ReportingSettings().port, ReportingSettings().database) == (8003, "bdg_reporting")
    assert RegistrySettings().mongodb_url is None  # the embedded store


def test_environment_variables_configure_a_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDG_EVENTS_PORT", "9102")
    monkeypatch.setenv("BDG_EVENTS_DATABASE", "province_events")
    monkeypatch.setenv("BDG_MONGODB_URL", "mongodb://db:27017/?replicaSet=rs0")
    monkeypatch.setenv("BDG_NATS_URL", "nats://nats:4222")
    monkeypatch.setenv("BDG_STREAM_REPLICAS", "3")
    settings = EventsSettings()
    assert settings.port == 9102
    assert settings.database == "province_events"
    assert settings.mongodb_url == "mongodb://db:27017/?replicaSet=rs0"
    assert settings.nats_url == "nats://nats:4222"
    assert settings.stream_replicas == 3
    # Another service's variable does not leak into this one.
    monkeypatch.setenv("BDG_REGISTRY_PORT", "9101")
    assert EventsSettings().port == 9102


def test_redelivery_backs_off_and_is_capped() -> None:
    delays = [redelivery_delay(n) for n in range(1, 10)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == 30.0
    assert delays == sorted(delays)


def test_problem_body_follows_rfc_9457() -> None:
    problem = Problem(
        409, "overlap", "Overlapping period", "2023 overlaps 2022-2024.", errors=[{"loc": ["x"]}]
    )
    assert problem.body() == {
        "type": "https://bdg.gov.vn/problems/overlap",
        "title": "Overlapping period",
        "status": 409,
        "detail": "2023 overlaps 2022-2024.",
        "errors": [{"loc": ["x"]}],
    }


def test_programme_body_rejects_unknown_fields_and_reversed_dates() -> None:
    with pytest.raises(ValueError, match="nmae"):
        ProgrammeIn.model_validate({"nmae": "typo", "name": "x", "name_vi": "y"})
    with pytest.raises(ValueError, match="ends_on"):
        ProgrammeIn.model_validate(
            {"name": "x", "name_vi": "y", "starts_on": "2024-01-01", "ends_on": "2023-01-01"}
        )


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # deploy/.env.example leaves the admin credentials empty: no admin, no crash.
    monkeypatch.setenv("BDG_ADMIN_CLIENT_ID", "")
    monkeypatch.setenv("BDG_ADMIN_CLIENT_SECRET", "")
    monkeypatch.setenv("BDG_MONGODB_URL", "")
    settings = RegistrySettings()
    assert settings.admin_client_id is None
    assert settings.admin_client_secret is None
    assert settings.mongodb_url is None
    monkeypatch.setenv("BDG_REGISTRY_PORT", "9101")
    assert RegistrySettings().port == 9101
