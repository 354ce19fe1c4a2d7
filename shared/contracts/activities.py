"""Activities (`bdg.activities.v1.*`): one model per type, and the events about them.

The activity models are the body provinces send to the events service and the state
the `recorded` and `revised` events carry, so the HTTP contract and the message
contract cannot drift apart. Rules that need no outside knowledge live here (counts
are non-negative integers, `ended_on` ≥ `started_on`, each type's own fields); rules
that need the registry or the clock live in the events service.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.contracts.catalogue import EventKind, register_kind
from shared.contracts.streams import ACTIVITIES

Count = Annotated[int, Field(ge=0, le=10_000_000, strict=True)]
Money = Annotated[int, Field(ge=0, le=10**15, strict=True)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Topic = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]

ActivityType = Literal[
    "club_meeting",
    "communication_session",
    "training_course",
    "forum",
    "support_delivery",
    "school_exchange",
    "learning_centre_class",
    "learning_centre_rating",
]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)
SupportKind = Literal["scholarship", "gift", "cash", "health", "legal", "shelter", "other"]
SUPPORT_KINDS: tuple[str, ...] = get_args(SupportKind)
Grade = Literal["excellent", "good", "average", "weak"]
RATING_GRADES: tuple[str, ...] = get_args(Grade)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Participants(Strict):
    """People taking part, split by sex; `ethnic_minority` counts those among them."""

    female: Count = 0
    male: Count = 0
    ethnic_minority: Count | None = None

    @property
    def total(self) -> int:
        return self.female + self.male

    @model_validator(mode="after")
    def _minority_within_total(self) -> Self:
        if self.ethnic_minority is not None and self.ethnic_minority > self.total:
            raise ValueError("ethnic_minority cannot exceed female + male")
        return self


class Beneficiaries(Strict):
    women: Count = 0
    children: Count = 0


class ActivityBase(Strict):
    programme: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,19}$")]
    unit_id: Key
    club_id: Key | None = None
    site_id: Key | None = None
    title: Text
    organiser: Text | None = None
    started_on: date
    ended_on: date
    participants: Participants = Participants()
    roles: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")], Count] = Field(
        default_factory=dict, max_length=20
    )
    topics: list[Topic] = Field(default_factory=list, max_length=30)
    budget_vnd: Money = 0

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ended_on < self.started_on:
            raise ValueError("ended_on must not be before started_on")
        return self


class ClubMeeting(ActivityBase):
    type: Literal["club_meeting"]
    club_id: Key

    @model_validator(mode="after")
    def _needs_club(self) -> Self:
        if not self.club_id:
            raise ValueError("a club_meeting needs club_id")
        return self


class CommunicationSession(ActivityBase):
    type: Literal["communication_session"]


class TrainingCourse(ActivityBase):
    """Trainees are its participants."""

    type: Literal["training_course"]
    sessions: Annotated[int, Field(ge=1, le=1000, strict=True)]
    duration_days: Annotated[float, Field(gt=0, le=366)]


class Forum(ActivityBase):
    type: Literal["forum"]


class SupportDelivery(ActivityBase):
    type: Literal["support_delivery"]
    support_kind: SupportKind
    beneficiaries: Beneficiaries
    value_vnd: Money = 0


class SchoolExchange(ActivityBase):
    type: Literal["school_exchange"]
    partner_site_ids: list[Key] = Field(default_factory=list, max_length=50)


class LearningCentreClass(ActivityBase):
    type: Literal["learning_centre_class"]
    site_id: Key


class LearningCentreRating(ActivityBase):
    type: Literal["learning_centre_rating"]
    site_id: Key
    school_year: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{4}$")]
    grade: Grade

    @model_validator(mode="after")
    def _consecutive_years(self) -> Self:
        first, second = (int(part) for part in self.school_year.split("-"))
        if second != first + 1:
            raise ValueError("school_year must be two consecutive years, e.g. 2016-2017")
        return self


Activity = Annotated[
    ClubMeeting
    | CommunicationSession
    | TrainingCourse
    | Forum
    | SupportDelivery
    | SchoolExchange
    | LearningCentreClass
    | LearningCentreRating,
    Field(discriminator="type"),
]
ACTIVITY_MODELS: dict[str, type[ActivityBase]] = {
    "club_meeting": ClubMeeting,
    "communication_session": CommunicationSession,
    "training_course": TrainingCourse,
    "forum": Forum,
    "support_delivery": SupportDelivery,
    "school_exchange": SchoolExchange,
    "learning_centre_class": LearningCentreClass,
    "learning_centre_rating": LearningCentreRating,
}

ActivityStatus = Literal["active", "pending_reference", "rejected", "voided"]


class ActivityEventData(BaseModel):
    """What every activity event says about the activity it is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source_system: str
    external_id: str
    version: int = Field(ge=1)
    province_id: str


class ActivityState(ActivityEventData):
    """An activity at one version: what `recorded` and `revised` carry."""

    activity: Activity


class ActivityVoided(ActivityEventData):
    reason: str


def _activities(action: str, model: type[BaseModel]) -> EventKind:
    return register_kind(
        EventKind(entity="activity", action=action, stream=ACTIVITIES, data_model=model)
    )


ACTIVITY_RECORDED = _activities("recorded", ActivityState)
ACTIVITY_REVISED = _activities("revised", ActivityState)
ACTIVITY_VOIDED = _activities("voided", ActivityVoided)
