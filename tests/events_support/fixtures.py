"""Fixtures for the events service's integration tests.

`complete_batch_fetches`: FastStream's batch pull loop (0.6) keeps fetching to fill a
batch and catches only `nats.errors.TimeoutError`, while nats-py (2.16) raises a bare
`asyncio.TimeoutError` when the server's 408 for a lingering pull arrives just before
the client's own timer. The consuming task then dies holding the messages it already
fetched; JetStream redelivers them only after the consumer's `ack_wait` (60 s), so a
registry event can take a minute to reach the replica. Until `shared/consumer.py`
handles this, these tests catch both timeouts in that loop, for their own duration
only, so that they test the events service rather than that race.
"""

from __future__ import annotations

import asyncio

import pytest
from faststream.nats.subscriber.usecases import stream_pull_subscriber


@pytest.fixture
def complete_batch_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_pull_subscriber, "TimeoutError", asyncio.TimeoutError)
