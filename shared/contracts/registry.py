"""Events of the registry (`bdg.registry.v1.*`)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from shared.contracts.catalogue import EventKind, register_kind
from shared.contracts.streams import REGISTRY


class RegistryData(BaseModel):
    """Every registry event carries the entity's full new state and its revision.

    `revision` increases by one with every change of the entity, so a consumer keeps
    the highest it has seen and ignores older or repeated deliveries.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: int


class ProgrammeUpserted(RegistryData):
    code: str
    name: str
    name_vi: str
    starts_on: date | None = None
    ends_on: date | None = None


PROGRAMME_UPSERTED = register_kind(
    EventKind(entity="programme", action="upserted", stream=REGISTRY, data_model=ProgrammeUpserted)
)
