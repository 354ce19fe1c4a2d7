"""Events of the registry (`bdg.registry.v1.*`).

Every registry event carries the entity's full new state and its `revision`, which
grows with every change of that entity (by one; by a large step after the registry's
database was restored from an older backup: services/registry/publishing.py);
consumers keep the highest revision they have seen per entity, so duplicates and
out-of-order deliveries change nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.catalogue import EventKind, register_kind
from shared.contracts.streams import REGISTRY

Edition = Literal["vn", "vn63", "vn34"]
Level = Literal["nation", "province", "district", "commune", "village"]
Sex = Literal["female", "male"]


class RegistryData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: int = Field(ge=1)


class Successor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: str
    share: float = Field(gt=0, le=1)


class UnitUpserted(RegistryData):
    """An administrative unit of either edition, or a village added by a province.

    `successors` is set on `vn63` units: where the unit went on 2025-07-01, with the
    share of it each `vn34` unit received (shares of one unit add up to 1).
    """

    id: str
    edition: Edition
    code: str
    name: str
    level: Level
    parent_id: str | None
    valid_from: date | None = None
    valid_to: date | None = None
    successors: list[Successor] = Field(default_factory=list)


class ClassificationPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str | bool
    valid_from: date
    valid_to: date | None = None


class ClassificationSet(RegistryData):
    """All periods of one classification (`region`, `especially_difficult`) of a unit."""

    unit_id: str
    name: str
    periods: list[ClassificationPeriod]


class ProgrammeUpserted(RegistryData):
    code: str
    name: str
    name_vi: str
    starts_on: date | None = None
    ends_on: date | None = None


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    indicator: str
    unit_id: str
    period: str
    value: float


class TargetSet(RegistryData):
    """The complete plan of one programme: it replaces every earlier target of it."""

    programme: str
    targets: list[Target]


class SiteUpserted(RegistryData):
    id: str
    source_system: str
    external_id: str
    kind: str
    name: str
    unit_id: str
    province_id: str


class ClubUpserted(RegistryData):
    id: str
    source_system: str
    external_id: str
    name: str
    kind: Literal["school", "community"]
    unit_id: str
    province_id: str
    site_id: str | None = None
    programme: str
    established_on: date
    dissolved_on: date | None = None


class MemberUpserted(RegistryData):
    """A club member by the province's pseudonymous code: no names are ever stored."""

    id: str
    club_id: str
    member_code: str
    sex: Sex
    birth_year: int | None = None
    ethnicity: str | None = None
    ethnic_minority: bool
    joined_on: date
    left_on: date | None = None


def _registry(entity: str, action: str, model: type[BaseModel]) -> EventKind:
    return register_kind(EventKind(entity=entity, action=action, stream=REGISTRY, data_model=model))


UNIT_UPSERTED = _registry("unit", "upserted", UnitUpserted)
CLASSIFICATION_SET = _registry("classification", "set", ClassificationSet)
PROGRAMME_UPSERTED = _registry("programme", "upserted", ProgrammeUpserted)
TARGET_SET = _registry("target", "set", TargetSet)
SITE_UPSERTED = _registry("site", "upserted", SiteUpserted)
CLUB_UPSERTED = _registry("club", "upserted", ClubUpserted)
MEMBER_UPSERTED = _registry("member", "upserted", MemberUpserted)
