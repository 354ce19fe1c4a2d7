"""What each service holds of the registry's units, sites, clubs and members.

The registry is read through its public API. The events and reporting services
expose no API that lists their copies, so those are read through the services' own
objects:

- events keeps units, clubs, sites and programmes in its replica collections and, for
  validation, in memory (it skips members: it does not need them). The memory sits
  behind private attributes, so the test loads a fresh `RegistryReplica` from the
  service's own database exactly as a restart would; that the live memory knows the
  same clubs and sites is checked through the public API instead (an activity naming
  each of them is accepted as `active`, not `pending_reference`);
- reporting keeps its units in memory (`generations.active.units`, the hierarchy every
  figure is rolled up with) and sites, clubs and members in the active generation's
  read models.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI

from services.events.reference_cache import ReferenceCache
from services.events.replica import RegistryReplica
from services.events.repository import ReferenceRepository
from services.reporting.service import ReportingService
from shared.units import UnitIndex, UnitNode
from tests.support.apps import runtime_of

# A unit as compared across services: edition, code, name, level, parent, validity.
UnitRow = tuple[str, str, str, str, str | None, str | None, str | None]


def _iso(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


async def pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list, 1,000 at a time."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def unit_row(item: dict[str, Any]) -> UnitRow:
    return (
        item["edition"],
        item["code"],
        item["name"],
        item["level"],
        item["parent_id"],
        _iso(item.get("valid_from")),
        _iso(item.get("valid_to")),
    )


def node_row(node: UnitNode) -> UnitRow:
    return (
        node.edition,
        node.code,
        node.name,
        node.level,
        node.parent_id,
        _iso(node.valid_from),
        _iso(node.valid_to),
    )


def node_rows(units: UnitIndex) -> dict[str, UnitRow]:
    return {node.id: node_row(node) for node in units.all()}


def successor_map(units: UnitIndex) -> dict[str, list[tuple[str, float]]]:
    return {node.id: sorted(node.successors) for node in units.all() if node.successors}


async def events_replica(app: FastAPI) -> ReferenceCache:
    """The events service's replica, loaded from its database as a restart would."""
    replica = RegistryReplica(ReferenceRepository(runtime_of(app).mongo.db), ReferenceCache())
    await replica.load()
    return replica.cache


async def reporting_entities(service: ReportingService, name: str) -> dict[str, dict[str, Any]]:
    """A registry entity collection (`sites`, `clubs`, `members`) of reporting's
    active generation, by id."""
    collection = getattr(service.generations.active.models, name)
    documents = await collection.find({}).to_list(None)
    return {document["_id"]: document for document in documents}


def fields(document: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _iso(document.get(name)) for name in names}
