"""The registry replica: registry events into MongoDB and the in-memory references."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.events.reference_cache import (
    CLUB,
    LOCK,
    PROGRAMME,
    SITE,
    UNIT,
    ReferenceCache,
    reference_key,
    split_key,
)
from services.events.repository import ReferenceRepository
from shared.contracts import (
    CLUB_UPSERTED,
    LOCK_SET,
    PROGRAMME_UPSERTED,
    SITE_UPSERTED,
    UNIT_UPSERTED,
    CloudEvent,
)
from shared.logging import get_logger
from shared.mongo import Document

# Registry events the replica keeps, and the field that is each entity's key.
_KEPT = {
    UNIT_UPSERTED.type: (UNIT, "id"),
    CLUB_UPSERTED.type: (CLUB, "id"),
    SITE_UPSERTED.type: (SITE, "id"),
    PROGRAMME_UPSERTED.type: (PROGRAMME, "code"),
    LOCK_SET.type: (LOCK, "id"),
}
# A unit's chain to the nation is at most village, commune, district, province, vn.
_MAX_DEPTH = 6

log = get_logger(__name__)


class RegistryReplica:
    def __init__(self, repository: ReferenceRepository, cache: ReferenceCache) -> None:
        self._repository = repository
        self.cache = cache

    async def load(self) -> None:
        """Fill the in-memory references from this service's own database."""
        self.cache.put_units(await self._repository.all_units())
        self.cache.put_clubs(await self._repository.all_clubs())
        self.cache.put_sites(await self._repository.all_sites())
        self.cache.put_programmes(await self._repository.all_programmes())
        self.cache.put_locks(await self._repository.all_locks())
        log.info(
            "registry replica loaded",
            units=len(self.cache.units),
            clubs=len(self.cache.clubs),
            sites=len(self.cache.sites),
            programmes=len(self.cache.programmes),
            locks_in_force=len(self.cache.locks),
        )

    async def apply(self, events: Sequence[CloudEvent]) -> list[str]:
        """Apply a batch of registry events; returns the keys of references that changed.

        Members, classifications, targets and approvals are not needed to validate
        activities and are skipped; locks are kept (services/events/locks.py).
        """
        by_kind: dict[str, list[Document]] = {
            UNIT: [],
            CLUB: [],
            SITE: [],
            PROGRAMME: [],
            LOCK: [],
        }
        for event in events:
            kept = _KEPT.get(event.type)
            if kept is not None:
                kind, key_field = kept
                by_kind[kind].append({"_id": event.data[key_field], **event.data})
        put = {
            UNIT: self.cache.put_units,
            CLUB: self.cache.put_clubs,
            SITE: self.cache.put_sites,
            PROGRAMME: self.cache.put_programmes,
            LOCK: self.cache.put_locks,
        }
        changed: list[str] = []
        for kind, documents in by_kind.items():
            if not documents:
                continue
            if kind == LOCK:
                put[kind](await self._repository.apply_locks(documents))
                continue
            applied = await self._repository.apply(kind, documents)
            put[kind](applied)
            changed.extend(reference_key(kind, document["_id"]) for document in applied)
        return changed

    async def follow(self, events: Sequence[CloudEvent]) -> None:
        """Apply registry events to memory only (every replica sees them all, through
        its own follower; the database copy is written by the shared consumer)."""
        put = {
            UNIT: self.cache.put_units,
            CLUB: self.cache.put_clubs,
            SITE: self.cache.put_sites,
            PROGRAMME: self.cache.put_programmes,
            LOCK: self.cache.put_locks,
        }
        newest: dict[tuple[str, str], Document] = {}
        for event in events:
            kept = _KEPT.get(event.type)
            if kept is None:
                continue
            kind, key_field = kept
            document = {"_id": event.data[key_field], **event.data}
            held = self.cache.revisions[kind].get(document["_id"], 0)
            revision = int(document.get("revision", 0))
            seen = newest.get((kind, document["_id"]))
            if revision > held and (seen is None or revision > int(seen.get("revision", 0))):
                newest[(kind, document["_id"])] = document
        for kind in put:
            documents = [doc for (found, _), doc in newest.items() if found == kind]
            if documents:
                put[kind](documents)

    async def read_through(self, keys: Iterable[str]) -> None:
        """Look in the database for references missing from memory.

        Another instance of the service may have applied them (instances share the
        registry consumer), so memory alone is not the last word.
        """
        wanted: dict[str, set[str]] = {UNIT: set(), CLUB: set(), SITE: set(), PROGRAMME: set()}
        for key in keys:
            kind, ref_id = split_key(key)
            if kind in wanted and not self.cache.knows(key):
                wanted[kind].add(ref_id)
        if wanted[CLUB]:
            self.cache.put_clubs(await self._repository.clubs(sorted(wanted[CLUB])))
        if wanted[SITE]:
            self.cache.put_sites(await self._repository.sites(sorted(wanted[SITE])))
        if wanted[PROGRAMME]:
            self.cache.put_programmes(await self._repository.programmes(sorted(wanted[PROGRAMME])))
        units = wanted[UNIT]
        for _ in range(_MAX_DEPTH):
            if not units:
                break
            found = await self._repository.units(sorted(units))
            self.cache.put_units(found)
            units = {
                unit["parent_id"]
                for unit in found
                if unit.get("parent_id") and unit["parent_id"] not in self.cache.units
            }
