"""Use cases for programmes (national, written by administrators) and their targets.

A programme's plan is one document. A target belongs to the province of its unit
(`vn`: national), so a client replaces the part of the plan it may write, the targets
in its provinces, and the rest of the plan stays as it is; for a client with national
scope that part is the whole plan, as the contract describes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from services.registry import messages
from services.registry.repository import Repositories, RevisionedRepository
from services.registry.schemas import ProgrammeIn, TargetIn, TargetPlan
from services.registry.service import UnitService
from services.registry.vocabularies import period_error
from shared.audit import note_write
from shared.auth import Principal
from shared.auth.principal import Role
from shared.contracts import CloudEvent
from shared.contracts.indicators import INDICATOR_CODES
from shared.edge import problems
from shared.edge.authorization import forbidden, require_role
from shared.edge.i18n import say
from shared.edge.text import nfc
from shared.http import Problem
from shared.mongo import Document
from shared.schemas import Programme
from shared.versioned import Outcome, Written

MAX_TARGETS = 20_000
_ATTEMPTS = 20
Target = dict[str, Any]

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


def programme_view(document: Document) -> Programme:
    return Programme(
        code=document["_id"],
        name=document["name"],
        name_vi=document["name_vi"],
        starts_on=_date(document.get("starts_on")),
        ends_on=_date(document.get("ends_on")),
        revision=document["revision"],
    )


def target_key(target: Target) -> tuple[str, str, str]:
    return (target["indicator"], target["unit_id"], target["period"])


def merged_plan(
    stored: Sequence[Target], sent: Sequence[Target], writable: Callable[[str], bool]
) -> list[Target]:
    """The plan after a client's PUT: the stored targets on units it may not write,
    and the ones it sent (all on units it may write), in a stable order."""
    kept = [target for target in stored if not writable(target["unit_id"])]
    return sorted([*kept, *sent], key=target_key)


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
            return [messages.programme_upserted({"code": code, **state}, revision)]

        written: Written = await self._programmes.put(code, state, events_for)
        note_write("programme.upserted", code, written.revision)
        return programme_view(written.document), written.outcome == Outcome.CREATED

    async def get(self, code: str) -> Programme:
        document = await self._programmes.get(code)
        if document is None:
            raise problems.missing("programme", code)
        return programme_view(document)

    async def exists(self, code: str) -> bool:
        return await self._programmes.get(code) is not None

    async def all(self) -> list[Programme]:
        return [programme_view(document) for document in await self._programmes.all()]

    async def seed(self) -> None:
        for code, body in SEEDED_PROGRAMMES.items():
            if await self._programmes.get(code) is None:
                await self.put(code, body)

    # ---------------------------------------------------------------- targets
    def _may(self, caller: Principal, role: Role, unit_id: str) -> bool:
        # A unit not in memory (a village of another instance) counts as national.
        return caller.may(role, self._units.directory.province_of(unit_id))

    async def targets(self, code: str, caller: Principal) -> TargetPlan:
        """The plan's targets the caller may read (national scope: all of them)."""
        await self.get(code)
        document = await self._targets.get(code)
        if document is None:
            return TargetPlan(programme=code, targets=[], revision=0)
        visible = [t for t in document["targets"] if self._may(caller, "viewer", t["unit_id"])]
        return TargetPlan.model_validate({**document, "targets": visible})

    async def put_targets(
        self, code: str, items: Sequence[TargetIn], caller: Principal
    ) -> TargetPlan:
        """Replace the part of the programme's plan the caller may write."""
        await self.get(code)
        if len(items) > MAX_TARGETS:
            raise problems.invalid(
                "too-many-targets",
                say("Too many targets", "Quá nhiều chỉ tiêu"),
                say(
                    f"A plan holds at most {MAX_TARGETS} targets; {len(items)} were sent.",
                    f"Một kế hoạch có tối đa {MAX_TARGETS} chỉ tiêu; đã gửi {len(items)}.",
                ),
                ["body"],
                limit_items=MAX_TARGETS,
            )
        await self._check_scope(items, caller)
        found: list[Problem] = []
        seen: dict[tuple[str, str, str], int] = {}
        for index, item in enumerate(items):
            found.extend(await self._target_problems(index, item, seen))
        if found:
            raise problems.combined(found)
        sent = [item.model_dump() for item in items]
        for _ in range(_ATTEMPTS):
            held = await self._targets.get(code)
            stored: list[Target] = [] if held is None else held["targets"]
            plan = merged_plan(stored, sent, lambda unit: self._may(caller, "submitter", unit))
            state = {"programme": code, "targets": plan}
            revision = None if held is None else int(held["revision"])
            if revision is not None and plan == stored:
                note_write("targets.set", code, revision)
                return await self.targets(code, caller)
            next_revision = 1 if revision is None else revision + 1
            event = messages.target_set(state, next_revision)
            if await self._targets.put_if_at(code, revision, state, [event]):
                note_write("targets.set", code, next_revision)
                return await self.targets(code, caller)
        raise problems.concurrent_write(code)

    async def _check_scope(self, items: Sequence[TargetIn], caller: Principal) -> None:
        """403 unless the caller may write every target it sent (checked before the rest)."""
        require_role(caller, "submitter")
        refused: list[Problem] = []
        for index, item in enumerate(items):
            unit = await self._units.known(item.unit_id)
            if unit is None:
                continue  # reported as an unknown unit (422) with the other mistakes
            province = self._units.directory.province_of(unit["id"])
            if caller.may("submitter", province):
                continue
            refused.append(
                forbidden(
                    caller,
                    "submitter",
                    province,
                    f"Target {index} is on {item.unit_id}.",
                    f"Chỉ tiêu {index} thuộc {item.unit_id}.",
                    ["body", index, "unit_id"],
                )
            )
        if refused:
            raise problems.combined(refused)

    async def _target_problems(
        self, index: int, item: TargetIn, seen: dict[tuple[str, str, str], int]
    ) -> list[Problem]:
        found: list[Problem] = []
        if item.indicator not in INDICATOR_CODES:
            found.append(
                problems.invalid(
                    "unknown-indicator",
                    say("Unknown indicator", "Không có chỉ số này"),
                    say(
                        f"{item.indicator!r} is not an indicator code of the catalogue.",
                        f"{item.indicator!r} không phải mã chỉ số trong danh mục.",
                    ),
                    ["body", index, "indicator"],
                )
            )
        try:
            await self._units.resolve(item.unit_id, ["body", index, "unit_id"])
        except Problem as problem:
            found.append(problem)
        error = period_error(item.period)
        if error is not None:
            found.append(
                problems.invalid(
                    "invalid-period",
                    say("Invalid period", "Kỳ không hợp lệ"),
                    error,
                    ["body", index, "period"],
                )
            )
        key = (item.indicator, item.unit_id, item.period)
        if key in seen:
            found.append(
                problems.invalid(
                    "duplicate-target",
                    say("Duplicate target", "Chỉ tiêu bị lặp"),
                    say(
                        f"Item {index} repeats the indicator, unit and period of item {seen[key]}.",
                        f"Mục {index} lặp lại chỉ số, đơn vị và kỳ của mục {seen[key]}.",
                    ),
                    ["body", index],
                )
            )
        seen.setdefault(key, index)
        return found
