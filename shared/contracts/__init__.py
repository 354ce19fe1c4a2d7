"""The message contract: the CloudEvents envelope and every event's data, in one place.

Consumers and producers import from here only, so a change to an event is a change
to one module, and a breaking change is a new `v2` type beside the `v1` one.
"""

from shared.contracts.activities import (
    ACTIVITY_MODELS,
    ACTIVITY_RECORDED,
    ACTIVITY_REVISED,
    ACTIVITY_TYPES,
    ACTIVITY_VOIDED,
    RATING_GRADES,
    SUPPORT_KINDS,
    Activity,
    ActivityState,
    ActivityType,
    ActivityVoided,
)
from shared.contracts.catalogue import EVENT_KINDS, EventKind, kind_for_type
from shared.contracts.envelope import CloudEvent, EnvelopeError, parse_envelope
from shared.contracts.registry import (
    CLASSIFICATION_SET,
    CLUB_UPSERTED,
    MEMBER_UPSERTED,
    PROGRAMME_UPSERTED,
    SITE_UPSERTED,
    TARGET_SET,
    UNIT_UPSERTED,
    ClassificationPeriod,
    ClassificationSet,
    ClubUpserted,
    MemberUpserted,
    ProgrammeUpserted,
    SiteUpserted,
    Successor,
    Target,
    TargetSet,
    UnitUpserted,
)
from shared.contracts.streams import ACTIVITIES, REGISTRY, STREAMS, StreamSpec

__all__ = [
    "ACTIVITIES",
    "ACTIVITY_MODELS",
    "ACTIVITY_RECORDED",
    "ACTIVITY_REVISED",
    "ACTIVITY_TYPES",
    "ACTIVITY_VOIDED",
    "CLASSIFICATION_SET",
    "CLUB_UPSERTED",
    "EVENT_KINDS",
    "MEMBER_UPSERTED",
    "PROGRAMME_UPSERTED",
    "RATING_GRADES",
    "REGISTRY",
    "SITE_UPSERTED",
    "STREAMS",
    "SUPPORT_KINDS",
    "TARGET_SET",
    "UNIT_UPSERTED",
    "Activity",
    "ActivityState",
    "ActivityType",
    "ActivityVoided",
    "ClassificationPeriod",
    "ClassificationSet",
    "CloudEvent",
    "ClubUpserted",
    "EnvelopeError",
    "EventKind",
    "MemberUpserted",
    "ProgrammeUpserted",
    "SiteUpserted",
    "StreamSpec",
    "Successor",
    "Target",
    "TargetSet",
    "UnitUpserted",
    "kind_for_type",
    "parse_envelope",
]
