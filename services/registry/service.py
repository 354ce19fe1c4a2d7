"""The registry's use cases for units, villages and classifications."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from services.registry import messages
from services.registry.directory import UnitDirectory, UnitQuery, sort_key
from services.registry.permissions import require_for
from services.registry.repository import ClassificationRepository, Repositories
from services.registry.schemas import (
    Classification,
    ClassificationIn,
    UnitDetail,
    UnitList,
    UnitSummary,
    VillageIn,
)
from services.registry.vocabularies import CLASSIFICATIONS, REGION_VALUES
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.principal import Role
from shared.contracts import CloudEvent
from shared.edge import problems
from shared.edge.cursors import decode_cursor, encode_cursor
from shared.edge.i18n import say
from shared.edge.text import nfc
from shared.mongo import Document
from shared.units import parse_unit_id
from shared.versioned import Outcome

UnitState = dict[str, Any]
Loc = Sequence[str | int]
Periods = list[dict[str, Any]]
_ATTEMPTS = 20


def unit_summary(state: UnitState) -> UnitSummary:
    return UnitSummary.model_validate({**state, "revision": state.get("revision", 1)})


class UnitService:
    def __init__(self, repositories: Repositories, directory: UnitDirectory) -> None:
        self._repositories = repositories
        self._villages = repositories.villages
        self._classifications: ClassificationRepository = repositories.classifications
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
            raise problems.unknown_reference("unit", unit_id, loc)
        return state

    async def unit_for(
        self, unit_id: str, caller: Principal, role: Role, loc: Loc | None
    ) -> UnitState:
        """The unit a request is about, once the caller holds `role` for its province.

        An unknown unit is said to be unknown (422 naming the field `loc`, or 404 when
        the unit is the resource, `loc` `None`) before any right is checked: a province
        that mistypes a code learns about the code, not about its rights."""
        state = await self.known(unit_id)
        if state is None:
            if loc is None:
                raise problems.missing("unit", unit_id)
            raise problems.unknown_reference("unit", unit_id, loc)
        province = self.directory.province_of(state["id"])
        require_for(caller, role, province, f"Unit {unit_id}", f"Đơn vị {unit_id}", loc)
        return state

    def find(self, query: UnitQuery, cursor: str | None, limit: int) -> UnitList:
        key = decode_cursor(cursor, (int, int, str))
        after = None if key is None else (int(key[0]), int(key[1]), str(key[2]))
        if query.parent is not None and query.parent not in self.directory:
            raise problems.unknown_reference("unit", query.parent, ["query", "parent"])
        found = self.directory.search(query, after, limit + 1)
        next_cursor = encode_cursor(sort_key(found[limit - 1])) if len(found) > limit else None
        return UnitList(items=[unit_summary(s) for s in found[:limit]], next_cursor=next_cursor)

    async def get(self, unit_id: str) -> UnitDetail:
        state = self.directory.get(unit_id)
        if state is None:
            raise problems.missing("unit", unit_id)
        periods = await self._classifications.periods_of(unit_id)
        return UnitDetail.model_validate(
            {**state, "revision": state.get("revision", 1), "classifications": periods}
        )

    def successors(self, unit_id: str) -> list[tuple[str, float]]:
        if unit_id not in self.directory:
            raise problems.missing("unit", unit_id)
        return self.directory.index.successors(unit_id)

    def predecessors(self, unit_id: str, level: str | None) -> list[tuple[str, float]]:
        if unit_id not in self.directory:
            raise problems.missing("unit", unit_id)
        return self.directory.predecessors(unit_id, level)

    async def add_village(self, body: VillageIn, caller: Principal) -> tuple[str, bool]:
        """Add a village under a commune of a province the caller submits for."""
        loc = ["body", "parent_id"]
        commune = await self.unit_for(body.parent_id, caller, "submitter", loc)
        if commune["level"] != "commune":
            raise problems.invalid(
                "village-parent-not-commune",
                say("A village belongs under a commune", "Thôn phải thuộc một xã"),
                say(
                    f"{body.parent_id} is a {commune['level']}; villages are added under a "
                    "commune.",
                    f"{body.parent_id} là cấp {commune['level']}; thôn chỉ được thêm vào xã.",
                ),
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
            return [messages.unit_upserted(state, revision, province)]

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
        if unit["level"] == "nation":
            raise problems.missing("unit", unit_id)
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
                raise problems.not_found(
                    "unknown-classification-period",
                    say("No such period", "Không có giai đoạn này"),
                    say(
                        f"{unit_id} has no {name!r} period starting {valid_from}.",
                        f"{unit_id} không có giai đoạn {name!r} bắt đầu ngày {valid_from}.",
                    ),
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
            event = messages.classification_set(state, next_revision, province)
            if await self._classifications.put_if_at(key, revision, state, [event]):
                note_write(action, key, next_revision)
                outcome = Outcome.CREATED if held is None else Outcome.CHANGED
                return Classification.model_validate({**state, "revision": next_revision}), outcome
        raise problems.concurrent_write(key)


def classification_period(name: str, body: ClassificationIn) -> dict[str, Any]:
    if name not in CLASSIFICATIONS:
        listed = ", ".join(CLASSIFICATIONS)
        raise problems.invalid(
            "unknown-classification",
            say("Unknown classification", "Không có phân loại này"),
            say(
                f"{name!r} is not a classification; use one of {listed}.",
                f"{name!r} không phải là phân loại; dùng một trong {listed}.",
            ),
            ["path", "name"],
        )
    value = body.value
    title = say("Invalid classification value", "Giá trị phân loại không hợp lệ")
    if name == "region" and value not in REGION_VALUES:
        listed = ", ".join(REGION_VALUES)
        raise problems.invalid(
            "invalid-classification-value",
            title,
            say(
                f"region is one of {listed}, not {value!r}.",
                f"Khu vực là một trong {listed}, không phải {value!r}.",
            ),
            ["body", "value"],
        )
    if name == "especially_difficult" and not isinstance(value, bool):
        raise problems.invalid(
            "invalid-classification-value",
            title,
            say(
                f"especially_difficult is true or false, not {value!r}.",
                f"Đặc biệt khó khăn là Có hoặc Không, không phải {value!r}.",
            ),
            ["body", "value"],
        )
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise problems.invalid(
            "period-ends-before-start",
            say("Period ends before it starts", "Giai đoạn kết thúc trước khi bắt đầu"),
            say(
                f"valid_to {body.valid_to} is before valid_from {body.valid_from}.",
                f"valid_to {body.valid_to} trước valid_from {body.valid_from}.",
            ),
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
            new = f"{period['valid_from']}..{period['valid_to'] or ''}"
            old = f"{other['valid_from']}..{other['valid_to'] or ''}"
            detail = say(
                f"The period {new} overlaps the stored period {old} (value "
                f"{other['value']!r}); end that one first.",
                f"Giai đoạn {new} trùng với giai đoạn đã lưu {old} (giá trị "
                f"{other['value']!r}); hãy kết thúc giai đoạn đó trước.",
            )
            raise problems.conflict(
                "classification-overlap",
                say("Overlapping classification periods", "Các giai đoạn phân loại trùng nhau"),
                detail,
                errors=[problems.field_error(["body", "valid_from"], detail)],
            )
    return sorted([*others, period], key=lambda p: str(p["valid_from"]))


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    far = "9999-12-31"
    return bool(
        a["valid_from"] <= (b["valid_to"] or far) and b["valid_from"] <= (a["valid_to"] or far)
    )
