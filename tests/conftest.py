"""Fixtures shared by the whole suite: a real NATS server and the chosen MongoDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mongo import MongoBackend, choose_backend
from tests.support.nats import NatsServer

_backend: MongoBackend | None = None


def _mongo_backend() -> MongoBackend:
    global _backend
    if _backend is None:
        _backend = choose_backend()
    return _backend


def pytest_report_header() -> str:
    return _mongo_backend().describe()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(_mongo_backend().describe())


def pytest_sessionfinish() -> None:
    if _backend is not None:
        _backend.stop()


@pytest.fixture(scope="session")
def mongo() -> MongoBackend:
    return _mongo_backend()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()
