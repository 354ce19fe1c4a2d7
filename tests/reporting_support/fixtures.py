"""Fixtures for the reporting tests.

`pull_timeout_fix`: FastStream 0.7.8's pull loop catches `nats.errors.TimeoutError`,
but nats-py 2.16's `fetch` can raise the builtin `TimeoutError` (when the server's 408
arrives just before the client's timer); the loop then dies, FastStream restarts it,
and a pull request orphaned on the server swallows the next message until `ack_wait`
(60 s) has passed. This is reported as a needed change in shared/ (the consumers of
every service are affected); here it is patched for the duration of a test so that
the reporting tests measure reporting, not that race.
"""

from __future__ import annotations

import builtins

import pytest
from faststream.nats.subscriber.usecases import stream_pull_subscriber


@pytest.fixture
def pull_timeout_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_pull_subscriber, "TimeoutError", builtins.TimeoutError)
