"""Projection of both streams into one generation of read models.

Every write is idempotent: registry entities keep their highest `revision`, facts
their highest activity `version`, and figures are always computed from the facts and
entities at query time, so an event applied twice, late, out of order or again after
a restart changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.reporting.facts import fact_from_state, fact_from_void, place
from services.reporting.repository import ReadModels
from shared.contracts import (
    ACTIVITY_VOIDED,
    CLUB_UPSERTED,
    MEMBER_UPSERTED,
    PROGRAMME_UPSERTED,
    SITE_UPSERTED,
    TARGET_SET,
    UNIT_UPSERTED,
    ActivityState,
    ActivityVoided,
    CloudEvent,
)
from shared.mongo import Document
from shared.units import UnitIndex, unit_node

# Registry entity type → (read-model collection, the data field that is its key).
_ENTITIES = {
    PROGRAMME_UPSERTED.type: ("programmes", "code"),
    TARGET_SET.type: ("targets", "programme"),
    SITE_UPSERTED.type: ("sites", "id"),
    CLUB_UPSERTED.type: ("clubs", "id"),
    MEMBER_UPSERTED.type: ("members", "id"),
}


class Projection:
    """Applies events to one generation and keeps its in-memory unit hierarchy."""

    def __init__(self, models: ReadModels, units: UnitIndex | None = None) -> None:
        self.models = models
        self.units = units if units is not None else UnitIndex()

    @property
    def generation(self) -> str:
        return self.models.generation

    async def load(self) -> None:
        """Fill the unit hierarchy from this generation's own collection."""
        await self.models.create_indexes()
        self.units.put_many(unit_node(document) for document in await self.models.all_units())

    async def apply_registry(self, events: Sequence[CloudEvent]) -> None:
        grouped: dict[str, list[Document]] = {}
        units: list[Document] = []
        # Envelopes and data were validated against the contract when parsed.
        for event in events:
            if event.type == UNIT_UPSERTED.type:
                units.append({"_id": event.data["id"], **event.data})
            elif event.type in _ENTITIES:
                name, key = _ENTITIES[event.type]
                grouped.setdefault(name, []).append({"_id": event.data[key], **event.data})
        if units:
            await self._apply_units(units)
        for name, documents in grouped.items():
            await self.models.apply_entities(name, documents)

    async def _apply_units(self, documents: Sequence[Document]) -> None:
        changed = await self.models.apply_entities("units", documents)
        moved: list[str] = []
        for document in changed:
            node = unit_node(document)
            held = self.units.get(node.id)
            if held is not None and (
                held.parent_id != node.parent_id or held.successors != node.successors
            ):
                moved.append(node.id)
            self.units.put(node)
        if changed:
            await self.replace_facts(moved)

    async def replace_facts(self, moved: Sequence[str]) -> None:
        """Recompute where facts count: the pending ones, and those on or below a unit
        whose parent or crosswalk changed."""
        updates = []
        for fact in await self.models.facts_to_place(moved):
            if fact.get("status") != "active" or "unit_id" not in fact:
                continue
            placement = place(fact["unit_id"], self.units)
            updates.append((fact["_id"], fact["version"], placement.fields()))
        await self.models.set_placements(updates)

    async def apply_activities(self, events: Sequence[CloudEvent]) -> None:
        facts: list[Document] = []
        for event in events:
            data = event.typed_data()
            if event.type == ACTIVITY_VOIDED.type:
                assert isinstance(data, ActivityVoided)
                facts.append(fact_from_void(data))
            else:
                assert isinstance(data, ActivityState)
                facts.append(fact_from_state(data, self.units))
        if facts:
            await self.models.apply_facts(facts)
