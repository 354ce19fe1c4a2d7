"""The message contract: the CloudEvents envelope and every event's data, in one place.

Consumers and producers import from here only, so a change to an event is a change
to one module, and a breaking change is a new `v2` type beside the `v1` one.
"""

from shared.contracts.catalogue import EVENT_KINDS, EventKind, kind_for_type
from shared.contracts.envelope import CloudEvent, EnvelopeError, parse_envelope
from shared.contracts.registry import PROGRAMME_UPSERTED, ProgrammeUpserted
from shared.contracts.streams import ACTIVITIES, REGISTRY, STREAMS, StreamSpec

__all__ = [
    "ACTIVITIES",
    "EVENT_KINDS",
    "PROGRAMME_UPSERTED",
    "REGISTRY",
    "STREAMS",
    "CloudEvent",
    "EnvelopeError",
    "EventKind",
    "ProgrammeUpserted",
    "StreamSpec",
    "kind_for_type",
    "parse_envelope",
]
