"""The registry's use cases for units, villages, classifications, programmes and targets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from services.registry import events
from services.registry.catalogue import (
    CLASSIFICATIONS,
    INDICATOR_CODES,
    REGION_VALUES,
    period_error,
)
from services.registry.directory import (
    UnitDirectory,
    UnitQuery,
    decode_cursor,
    encode_cursor,
    sort_key,
)
from services.registry.folding import nfc
from services.registry.problems import (
    combined,
    invalid,
    programme_not_found,
    unit_not_found,
    unknown_unit,
)
from services.registry.repository import Repositories, RevisionedRepository
from services.registry.schemas import (
    Classification,
    ClassificationIn,
    Programme,
    ProgrammeIn,
    TargetIn,
    TargetPlan,
    UnitDetail,
    UnitList,
    UnitSummary,
    VillageIn,
)
from shared.contracts import CloudEvent
from shared.http import Problem
from shared.mongo import Document
from shared.units import parse_unit_id
from shared.versioned import Outcome, Written

UnitState = dict[str, Any]
MAX_TARGETS = 20_000
_ATTEMPTS = 20

# The programmes every deployment starts with.
SEEDED_PROGRAMMES: dict[str, ProgrammeIn] = {
    "P8": ProgrammeIn(
        name="Project 8: gender equality and urgent issues for women and children",
        name_vi="Dự án 8: Thực hiện bình đẳng giới và giải quyết những vấn đề cấp thiết "
        "đối với phụ nữ và trẻ em",
        starts_on=date(2021, 1, 1),
        ends_on=date(2025, 12, 31),
    ),
    "SFES": ProgrammeIn(
        name="Safe, Friendly and Equal Schools",
        name_vi="Trường học An toàn - Thân thiện - Bình đẳng",
    ),
    "CLC": ProgrammeIn(
        name="Community learning centres",
        name_vi="Trung tâm học tập cộng đồng",
    ),
}


def _date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"unexpected stored date {value!r}")


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

    async def resolve(self, unit_id: str, loc: Sequence[str | int]) -> UnitState:
        """The unit a body refers to (422 `unknown-unit` when there is none)."""
        state = self.directory.get(unit_id)
        if state is None:
            ref = parse_unit_id(unit_id)
            if ref is not None and ref.is_village:
                # Added through another registry instance since this one started.
                stored = await self._villages.get(unit_id)
                if stored is not None:
                    self.directory.put_many([stored])
                    return stored
            raise unknown_unit(unit_id, loc)
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

    async def add_village(self, body: VillageIn) -> tuple[str, bool]:
        commune = await self.resolve(body.parent_id, ["body", "parent_id"])
        if commune["level"] != "commune":
            raise invalid(
                "village-parent-not-commune",
                "A village belongs under a commune",
                f"{body.parent_id} is a {commune['level']}; villages are added under a commune.",
                ["body", "parent_id"],
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
        return village_id, written.outcome == Outcome.CREATED

    async def held_periods(self, unit_id: str, name: str) -> list[dict[str, Any]]:
        held = await self._classifications.get(f"{unit_id}/{name}")
        return [] if held is None else list(held["periods"])

    async def put_classification(
        self, unit_id: str, name: str, body: ClassificationIn
    ) -> tuple[Classification, Outcome]:
        unit = self.directory.get(unit_id)
        if unit is None or unit["level"] == "nation":
            raise unit_not_found(unit_id)
        period = classification_period(name, body)
        return await self._write_periods(unit, name, lambda held: with_period(held, period))

    async def delete_classification(
        self, unit_id: str, name: str, valid_from: date
    ) -> Classification:
        unit = self.directory.get(unit_id)
        if unit is None:
            raise unit_not_found(unit_id)

        def without(held: list[dict[str, Any]]) -> list[dict[str, Any]]:
            kept = [p for p in held if p["valid_from"] != valid_from.isoformat()]
            if len(kept) == len(held):
                raise Problem(
                    404,
                    "unknown-classification-period",
                    "No such period",
                    f"{unit_id} has no {name!r} period starting {valid_from}.",
                )
            return kept

        classification, _ = await self._write_periods(unit, name, without)
        return classification

    async def _write_periods(
        self, unit: UnitState, name: str, change: Any
    ) -> tuple[Classification, Outcome]:
        key = f"{unit['id']}/{name}"
        province = self.directory.province_of(unit["id"])
        for _ in range(_ATTEMPTS):
            held = await self._classifications.get(key)
            periods = change([] if held is None else held["periods"])
            state = {"unit_id": unit["id"], "name": name, "periods": periods}
            revision = None if held is None else int(held["revision"])
            if held is not None and held["periods"] == periods:
                unchanged = Classification.model_validate({**state, "revision": revision})
                return unchanged, Outcome.UNCHANGED
            next_revision = 1 if revision is None else revision + 1
            event = events.classification_set(state, next_revision, province)
            if await self._classifications.put_if_at(key, revision, state, [event]):
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


def programme_view(document: Document) -> Programme:
    return Programme(
        code=document["_id"],
        name=document["name"],
        name_vi=document["name_vi"],
        starts_on=_date(document.get("starts_on")),
        ends_on=_date(document.get("ends_on")),
        revision=document["revision"],
    )


class ProgrammeService:
    def __init__(self, repositories: Repositories, units: UnitService) -> None:
        self._programmes: RevisionedRepository = repositories.programmes
        self._targets: RevisionedRepository = repositories.targets
        self._units = units

    async def put(self, code: str, body: ProgrammeIn) -> tuple[Programme, bool]:
        """Create or update a programme; returns it and whether it was created."""
        state = body.model_dump(mode="json")
        state["name"], state["name_vi"] = nfc(state["name"]), nfc(state["name_vi"])

        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [events.programme_upserted({"code": code, **state}, revision)]

        written: Written = await self._programmes.put(code, state, events_for)
        return programme_view(written.document), written.outcome == Outcome.CREATED

    async def get(self, code: str) -> Programme:
        document = await self._programmes.get(code)
        if document is None:
            raise programme_not_found(code)
        return programme_view(document)

    async def exists(self, code: str) -> bool:
        return await self._programmes.get(code) is not None

    async def all(self) -> list[Programme]:
        return [programme_view(document) for document in await self._programmes.all()]

    async def seed(self) -> None:
        for code, body in SEEDED_PROGRAMMES.items():
            if await self._programmes.get(code) is None:
                await self.put(code, body)

    async def targets(self, code: str) -> TargetPlan:
        await self.get(code)
        document = await self._targets.get(code)
        if document is None:
            return TargetPlan(programme=code, targets=[], revision=0)
        return TargetPlan.model_validate(document)

    async def put_targets(self, code: str, items: Sequence[TargetIn]) -> TargetPlan:
        """Replace the programme's whole plan."""
        await self.get(code)
        if len(items) > MAX_TARGETS:
            raise invalid(
                "too-many-targets",
                "Too many targets",
                f"A plan holds at most {MAX_TARGETS} targets; {len(items)} were sent.",
                ["body"],
            )
        problems: list[Problem] = []
        seen: dict[tuple[str, str, str], int] = {}
        for index, item in enumerate(items):
            problems.extend(await self._target_problems(index, item, seen))
        if problems:
            raise combined(problems)
        targets = sorted(
            (item.model_dump() for item in items),
            key=lambda t: (t["indicator"], t["unit_id"], t["period"]),
        )
        state = {"programme": code, "targets": targets}

        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [events.target_set(state, revision)]

        written = await self._targets.put(code, state, events_for)
        return TargetPlan.model_validate({**state, "revision": written.revision})

    async def _target_problems(
        self, index: int, item: TargetIn, seen: dict[tuple[str, str, str], int]
    ) -> list[Problem]:
        problems: list[Problem] = []
        if item.indicator not in INDICATOR_CODES:
            problems.append(
                invalid(
                    "unknown-indicator",
                    "Unknown indicator",
                    f"{item.indicator!r} is not an indicator code of the catalogue.",
                    ["body", index, "indicator"],
                )
            )
        try:
            await self._units.resolve(item.unit_id, ["body", index, "unit_id"])
        except Problem as problem:
            problems.append(problem)
        error = period_error(item.period)
        if error is not None:
            problems.append(
                invalid("invalid-period", "Invalid period", error, ["body", index, "period"])
            )
        key = (item.indicator, item.unit_id, item.period)
        if key in seen:
            problems.append(
                invalid(
                    "duplicate-target",
                    "Duplicate target",
                    f"Item {index} repeats the indicator, unit and period of item {seen[key]}.",
                    ["body", index],
                )
            )
        seen.setdefault(key, index)
        return problems
