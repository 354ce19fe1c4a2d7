"""The two JetStream streams and the subjects they hold."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    subject_prefix: str
    # The CloudEvents `source` of the one service allowed to publish on the stream.
    source: str


REGISTRY = StreamSpec(
    name="REGISTRY",
    subjects=("bdg.registry.>",),
    subject_prefix="bdg.registry.v1",
    source="/bdg/registry",
)
ACTIVITIES = StreamSpec(
    name="ACTIVITIES",
    subjects=("bdg.activities.>",),
    subject_prefix="bdg.activities.v1",
    source="/bdg/events",
)
STREAMS: tuple[StreamSpec, ...] = (REGISTRY, ACTIVITIES)
