"""The registry's use cases for units, villages and classifications."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from services.registry import events
from services.registry.catalogue import CLASSIFICATIONS, REGION_VALUES
from services.registry.directory import (
    UnitDirectory,
    UnitQuery,
    decode_cursor,
    encode_cursor,
    sort_key,
)
from services.registry.folding import nfc
from services.registry.permissions import Loc, require, unknown_unit_reason, where
from services.registry.problems import invalid, unit_not_found, unknown_unit
from services.registry.repository import Repositories
from services.registry.schemas import (
    Classification,
    ClassificationIn,
    UnitDetail,
    UnitList,
    UnitSummary,
    VillageIn,
)
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.principal import Role
from shared.contracts import CloudEvent
from shared.http import Problem
from shared.mongo import Document
from shared.units import parse_unit_id
from shared.versioned import Outcome

UnitState = dict[str, Any]
Periods = list[dict[str, Any]]
_ATTEMPTS = 20


def unit_summary(state: UnitState) -> UnitSummary:
    return UnitSummary.model_validate({**state, "revision": state.get("revision", 1)})


class UnitService:
    def __init__(self, repositories: Repositories, directory: UnitDirectory) -> None:
        self._repositories = repositories
        self._villages = repositories.villages
        self._classifications = repositories.classifications
        self.directory = directory

    async def load_villages(self) -> None:
        self.directory.put_many(await self._villages.all())

    async def known(self, unit_id: str) -> UnitState | None:
        """The unit with this id, or `None` when there is none."""
        state = self.directory.get(unit_id)
        if state is None:
            ref = parse_unit_id(unit_id)
            if ref is not None and ref.is_village:
                # Added through another registry instance since this one started.
                stored = await self._villages.get(unit_id)
                if stored is not None:
                    self.directory.put_many([stored])
                    return stored
        return state

    async def resolve(self, unit_id: str, loc: Sequence[str | int]) -> UnitState:
        """The unit a body refers to (422 `unknown-unit` when there is none)."""
        state = await self.known(unit_id)
        if state is None:
            raise unknown_unit(unit_id, loc)
        return state

    async def unit_for(
        self, unit_id: str, caller: Principal, role: Role, loc: Loc | None
    ) -> UnitState | None:
        """The unit a request is about, once the caller holds `role` for its province:
        403 otherwise. An unknown unit (`None`) needs national scope, since its
        province cannot be determined; the caller then reports it as unknown."""
        state = await self.known(unit_id)
        if state is None:
            require(caller, role, None, unknown_unit_reason(unit_id), loc)
            return None
        province = self.directory.province_of(state["id"])
        require(caller, role, province, f"{unit_id} is {where(province)}.", loc)
        return state

    def find(self, query: UnitQuery, cursor: str | None, limit: int) -> UnitList:
        after = None
        if cursor is not None:
            after = decode_cursor(cursor)
            if after is None:
                raise invalid(
                    "invalid-cursor", "Invalid cursor", "Unknown cursor.", ["query", "cursor"]
                )
        if query.parent is not None and query.parent not in self.directory:
            raise unknown_unit(query.parent, ["query", "parent"])
        found = self.directory.search(query, after, limit + 1)
        next_cursor = encode_cursor(sort_key(found[limit - 1])) if len(found) > limit else None
        return UnitList(items=[unit_summary(s) for s in found[:limit]], next_cursor=next_cursor)

    async def get(self, unit_id: str) -> UnitDetail:
        state = self.directory.get(unit_id)
        if state is None:
            raise unit_not_found(unit_id)
        periods: dict[str, list[Any]] = {}
        for document in await self._classifications.where({"unit_id": unit_id}):
            periods[document["name"]] = document["periods"]
        return UnitDetail.model_validate(
            {**state, "revision": state.get("revision", 1), "classifications": periods}
        )

    def successors(self, unit_id: str) -> list[tuple[str, float]]:
        if unit_id not in self.directory:
            raise unit_not_found(unit_id)
        return self.directory.index.successors(unit_id)

    def predecessors(self, unit_id: str, level: str | None) -> list[tuple[str, float]]:
        if unit_id not in self.directory:
            raise unit_not_found(unit_id)
        return self.directory.predecessors(unit_id, level)

    async def add_village(self, body: VillageIn, caller: Principal) -> tuple[str, bool]:
        """Add a village under a commune of a province the caller submits for."""
        loc = ["body", "parent_id"]
        commune = await self.unit_for(body.parent_id, caller, "submitter", loc)
        if commune is None:
            raise unknown_unit(body.parent_id, loc)
        if commune["level"] != "commune":
            raise invalid(
                "village-parent-not-commune",
                "A village belongs under a commune",
                f"{body.parent_id} is a {commune['level']}; villages are added under a commune.",
                loc,
            )
        village_id = f"{commune['id']}.{body.code}"
        state: UnitState = {
            "id": village_id,
            "edition": commune["edition"],
            "code": body.code,
            "name": nfc(body.name),
            "level": "village",
            "parent_id": commune["id"],
            "valid_from": commune.get("valid_from"),
            "valid_to": commune.get("valid_to"),
            # Where the commune went, the village went: its best estimate.
            "successors": commune.get("successors", []),
        }
        province = self.directory.province_of(commune["id"])

        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [events.unit_upserted(state, revision, province)]

        written = await self._villages.put(village_id, state, events_for)
        self.directory.put_many([{**state, "revision": written.revision}])
        note_write("village.upserted", village_id, written.revision)
        return village_id, written.outcome == Outcome.CREATED

    async def held_periods(self, unit_id: str, name: str) -> Periods:
        held = await self._classifications.get(f"{unit_id}/{name}")
        return [] if held is None else list(held["periods"])

    async def classified_unit(self, unit_id: str, caller: Principal) -> UnitState:
        """The unit of a classification path, once the caller may write its province's
        data (404 when there is no such unit, or it is the nation)."""
        unit = await self.unit_for(unit_id, caller, "submitter", None)
        if unit is None or unit["level"] == "nation":
            raise unit_not_found(unit_id)
        return unit

    async def put_classification(
        self, unit_id: str, name: str, body: ClassificationIn, caller: Principal
    ) -> tuple[Classification, Outcome]:
        unit = await self.classified_unit(unit_id, caller)
        period = classification_period(name, body)
        return await self._write_periods(unit, name, lambda held: with_period(held, period))

    async def delete_classification(
        self, unit_id: str, name: str, valid_from: date, caller: Principal
    ) -> Classification:
        unit = await self.classified_unit(unit_id, caller)

        def without(held: Periods) -> Periods:
            kept = [p for p in held if p["valid_from"] != valid_from.isoformat()]
            if len(kept) == len(held):
                raise Problem(
                    404,
                    "unknown-classification-period",
                    "No such period",
                    f"{unit_id} has no {name!r} period starting {valid_from}.",
                )
            return kept

        classification, _ = await self._write_periods(unit, name, without, "classification.removed")
        return classification

    async def _write_periods(
        self,
        unit: UnitState,
        name: str,
        change: Callable[[Periods], Periods],
        action: str = "classification.set",
    ) -> tuple[Classification, Outcome]:
        key = f"{unit['id']}/{name}"
        province = self.directory.province_of(unit["id"])
        for _ in range(_ATTEMPTS):
            held = await self._classifications.get(key)
            periods = change([] if held is None else held["periods"])
            state = {"unit_id": unit["id"], "name": name, "periods": periods}
            revision = None if held is None else int(held["revision"])
            if held is not None and held["periods"] == periods:
                note_write(action, key, revision)
                unchanged = Classification.model_validate({**state, "revision": revision})
                return unchanged, Outcome.UNCHANGED
            next_revision = 1 if revision is None else revision + 1
            event = events.classification_set(state, next_revision, province)
            if await self._classifications.put_if_at(key, revision, state, [event]):
                note_write(action, key, next_revision)
                outcome = Outcome.CREATED if held is None else Outcome.CHANGED
                return Classification.model_validate({**state, "revision": next_revision}), outcome
        raise Problem(409, "concurrent-write", "Changed concurrently", f"{key} kept changing.")


def classification_period(name: str, body: ClassificationIn) -> dict[str, Any]:
    if name not in CLASSIFICATIONS:
        raise invalid(
            "unknown-classification",
            "Unknown classification",
            f"{name!r} is not a classification; use one of {', '.join(CLASSIFICATIONS)}.",
            ["path", "name"],
        )
    value = body.value
    if name == "region" and value not in REGION_VALUES:
        raise invalid(
            "invalid-classification-value",
            "Invalid classification value",
            f"region is one of {', '.join(REGION_VALUES)}, not {value!r}.",
            ["body", "value"],
        )
    if name == "especially_difficult" and not isinstance(value, bool):
        raise invalid(
            "invalid-classification-value",
            "Invalid classification value",
            f"especially_difficult is true or false, not {value!r}.",
            ["body", "value"],
        )
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise invalid(
            "period-ends-before-start",
            "Period ends before it starts",
            f"valid_to {body.valid_to} is before valid_from {body.valid_from}.",
            ["body", "valid_to"],
        )
    return {
        "value": value,
        "valid_from": body.valid_from.isoformat(),
        "valid_to": None if body.valid_to is None else body.valid_to.isoformat(),
    }


def with_period(held: list[dict[str, Any]], period: dict[str, Any]) -> list[dict[str, Any]]:
    """The periods with `period` added, or replacing the one that starts the same day."""
    others = [p for p in held if p["valid_from"] != period["valid_from"]]
    for other in others:
        if _overlap(other, period):
            raise Problem(
                409,
                "classification-overlap",
                "Overlapping classification periods",
                f"The period {period['valid_from']}..{period['valid_to'] or ''} overlaps the "
                f"stored period {other['valid_from']}..{other['valid_to'] or ''} "
                f"(value {other['value']!r}); end that one first.",
                errors=[{"loc": ["body", "valid_from"], "msg": "overlaps a stored period"}],
            )
    return sorted([*others, period], key=lambda p: str(p["valid_from"]))


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    far = "9999-12-31"
    return bool(
        a["valid_from"] <= (b["valid_to"] or far) and b["valid_from"] <= (a["valid_to"] or far)
    )
