"""Use cases for club members: checks, single and bulk writes, current counts.

Members carry no names: only the province's pseudonymous code, sex, optional birth
year and ethnic group, and their joining and leaving dates.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from services.registry import messages
from services.registry.clubs import Loc, Prepared, RegisterService, Stored, club_view
from services.registry.repository import RecordQuery, Repositories, new_document
from services.registry.schemas import (
    BulkResults,
    Club,
    ItemError,
    ItemResult,
    Member,
    MemberBulkItem,
    MemberCounts,
    MemberIn,
)
from services.registry.vocabularies import (
    earliest_birth_year,
    ethnicity_code,
    is_ethnic_minority,
    latest_birth_year,
)
from shared.audit import note_write
from shared.auth import Principal
from shared.contracts import CloudEvent
from shared.edge import problems
from shared.edge.dates import future_date_error, today_in_vietnam
from shared.edge.i18n import pydantic_message, say
from shared.http import PROBLEM_BASE, Problem
from shared.mongo import Document
from shared.versioned import Outcome


def member_id_of(club_id: str, member_code: str) -> str:
    return f"{club_id}/{member_code}"


class MemberService:
    def __init__(self, repositories: Repositories) -> None:
        self._members = repositories.members

    async def member_counts(self, club_ids: list[str], day: date) -> dict[str, MemberCounts]:
        counts = {
            club_id: {"female": 0, "male": 0, "total": 0, "ethnic_minority": 0}
            for club_id in club_ids
        }
        when = day.isoformat()
        for member in await self._members.of_clubs(club_ids):
            if member["joined_on"] > when or (member.get("left_on") or "9999") <= when:
                continue
            tally = counts[member["club_id"]]
            tally[member["sex"]] += 1
            tally["total"] += 1
            tally["ethnic_minority"] += int(bool(member["ethnic_minority"]))
        return {key: MemberCounts(as_of=day, **value) for key, value in counts.items()}

    async def club_views(self, documents: list[Document], day: date) -> list[Club]:
        """Clubs as the API answers them, with their member counts on `day`."""
        counts = await self.member_counts([document["_id"] for document in documents], day)
        return [club_view(document, counts[document["_id"]]) for document in documents]

    # ---------------------------------------------------------------- members
    def prepare_member(
        self, club: Document, member_code: str, body: MemberIn, loc: Loc
    ) -> Prepared:
        found: list[Problem] = []
        low, high = earliest_birth_year(), latest_birth_year()
        if body.birth_year is not None and not low <= body.birth_year <= high:
            found.append(
                problems.invalid(
                    "birth-year-out-of-range",
                    say("Birth year out of range", "Năm sinh ngoài khoảng cho phép"),
                    say(
                        f"birth_year {body.birth_year} is not between {low} and {high}.",
                        f"Năm sinh {body.birth_year} không nằm trong khoảng từ {low} đến {high}.",
                    ),
                    [*loc, "birth_year"],
                )
            )
        today = today_in_vietnam()
        for name in ("joined_on", "left_on"):
            day = getattr(body, name)
            error = None if day is None else future_date_error([*loc, name], day, today)
            if error is not None:
                found.append(
                    problems.invalid(
                        "date-in-future",
                        say("Date in the future", "Ngày trong tương lai"),
                        error["msg"],
                        error["loc"],
                    )
                )
        minority = body.ethnic_minority
        code: str | None = None
        if body.ethnicity is not None:
            code = ethnicity_code(body.ethnicity)
            if code is None:
                found.append(
                    problems.invalid(
                        "unknown-ethnicity",
                        say("Unknown ethnic group", "Không có dân tộc này"),
                        say(
                            f"{body.ethnicity!r} is not the code of one of the 54 ethnic groups "
                            "(01 Kinh … 54 Rơ-măm; GET /v1/ethnicities).",
                            f"{body.ethnicity!r} không phải mã của một trong 54 dân tộc "
                            "(01 Kinh … 54 Rơ-măm; GET /v1/ethnicities).",
                        ),
                        [*loc, "ethnicity"],
                    )
                )
            elif minority is not None and minority != is_ethnic_minority(code):
                found.append(
                    problems.invalid(
                        "ethnicity-mismatch",
                        say(
                            "Ethnicity and ethnic_minority disagree",
                            "Dân tộc và Dân tộc thiểu số không khớp",
                        ),
                        say(
                            f"ethnicity {code} is {'not ' * (not is_ethnic_minority(code))}an "
                            f"ethnic minority, but ethnic_minority is {str(minority).lower()}.",
                            f"dân tộc {code} {'không ' * (not is_ethnic_minority(code))}là dân "
                            f"tộc thiểu số, nhưng Dân tộc thiểu số ghi "
                            f"{'Có' if minority else 'Không'}.",
                        ),
                        [*loc, "ethnic_minority"],
                    )
                )
            else:
                minority = is_ethnic_minority(code)
        elif minority is None:
            found.append(
                problems.invalid(
                    "ethnic-minority-required",
                    say("ethnic_minority required", "Thiếu Dân tộc thiểu số"),
                    say(
                        "Give ethnic_minority (true or false), or the ethnicity it follows from.",
                        "Hãy ghi Dân tộc thiểu số (Có hoặc Không), hoặc Dân tộc.",
                    ),
                    [*loc, "ethnic_minority"],
                )
            )
        if body.left_on is not None and body.left_on < body.joined_on:
            found.append(
                problems.invalid(
                    "left-before-joined",
                    say("Leaving before joining", "Rời CLB trước khi tham gia"),
                    say(
                        f"left_on {body.left_on} is before joined_on {body.joined_on}.",
                        f"Ngày rời {body.left_on} trước ngày tham gia {body.joined_on}.",
                    ),
                    [*loc, "left_on"],
                )
            )
        if found:
            raise problems.combined(found)
        key = member_id_of(club["_id"], member_code)
        state = {
            "id": key,
            "club_id": club["_id"],
            "member_code": member_code,
            "sex": body.sex,
            "birth_year": body.birth_year,
            "ethnicity": code,
            "ethnic_minority": minority,
            "joined_on": body.joined_on.isoformat(),
            "left_on": None if body.left_on is None else body.left_on.isoformat(),
        }
        return Prepared(key, state)

    async def put_member(self, club: Document, member_code: str, body: MemberIn) -> Stored:
        """One member of a club the caller was checked to submit for."""
        prepared = self.prepare_member(club, member_code, body, ["body"])
        return await self.write_member(prepared, club["province_id"])

    async def write_member(self, prepared: Prepared, province: str) -> Stored:
        stored = await self._write_member(prepared, province)
        note_write("member.upserted", stored.key, stored.revision)
        return stored

    async def _write_member(self, prepared: Prepared, province: str) -> Stored:
        def events_for(revision: int, _previous: Document | None) -> list[CloudEvent]:
            return [messages.member_upserted(prepared.state, revision, province)]

        written = await self._members.put(prepared.key, prepared.state, events_for)
        return Stored(prepared.key, written.outcome, written.revision)

    async def write_members(self, prepared: list[Prepared], province: str) -> dict[str, Stored]:
        """Store many members: one `$in` read, one `insert_many`, a guarded update each
        for those that changed."""
        held = await self._members.get_many([item.key for item in prepared])
        stored: dict[str, Stored] = {}
        inserts: list[Document] = []
        for item in prepared:
            before = held.get(item.key)
            if before is None:
                event = messages.member_upserted(item.state, 1, province)
                inserts.append(new_document(item.key, item.state, [event]))
                stored[item.key] = Stored(item.key, Outcome.CREATED, 1)
            elif {name: before.get(name) for name in item.state} == item.state:
                stored[item.key] = Stored(item.key, Outcome.UNCHANGED, int(before["revision"]))
            else:
                revision = int(before["revision"])
                event = messages.member_upserted(item.state, revision + 1, province)
                if await self._members.put_if_at(item.key, revision, item.state, [event]):
                    stored[item.key] = Stored(item.key, Outcome.CHANGED, revision + 1)
                else:  # changed under us: decide again on fresh state
                    stored[item.key] = await self._write_member(item, province)
        taken = await self._members.insert_new(inserts)
        for item in prepared:
            if item.key in taken:  # created by a concurrent call meanwhile
                stored[item.key] = await self._write_member(item, province)
            note_write("member.upserted", item.key, stored[item.key].revision)
        return stored

    async def members(self, query: RecordQuery, limit: int) -> list[Document]:
        return await self._members.page(query, limit)


def member_view(document: Document) -> Member:
    return Member.model_validate({**document, "id": document["_id"]})


class BulkMembers:
    """`POST /v1/clubs/{club_id}/members:bulk`: each item checked on its own; the good
    ones stored together, a rejected item never blocking the others."""

    def __init__(self, registers: RegisterService, members: MemberService, max_items: int) -> None:
        self._registers = registers
        self._members = members
        self._max_items = max_items

    async def run(self, club_id: str, items: list[Any], caller: Principal) -> BulkResults:
        # The whole call is about one club, so it is allowed or refused as a whole.
        club = await self._registers.club_for(club_id, caller, "submitter")
        if len(items) > self._max_items:
            raise problems.too_many_items(
                "too-many-members", self._max_items, len(items), "members", "thành viên"
            )
        results: list[ItemResult] = []
        prepared: dict[int, Prepared] = {}
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            try:
                body = MemberBulkItem.model_validate(item)
                if body.member_code in first:
                    raise problems.invalid(
                        "duplicate-member",
                        say("Member repeated", "Thành viên bị lặp"),
                        say(
                            f"Item {index} repeats member {body.member_code} of item "
                            f"{first[body.member_code]}.",
                            f"Mục {index} lặp lại thành viên {body.member_code} của mục "
                            f"{first[body.member_code]}.",
                        ),
                        [index, "member_code"],
                    )
                first[body.member_code] = index
                prepared[index] = self._members.prepare_member(
                    club, body.member_code, body, [index]
                )
                results.append(ItemResult(index=index, status="valid"))
            except ValidationError as exc:
                results.append(_invalid_item(index, exc))
            except Problem as problem:
                results.append(_rejected_item(index, problem))
        stored = await self._members.write_members(list(prepared.values()), club["province_id"])
        for index, item_prepared in prepared.items():
            outcome = stored[item_prepared.key].outcome
            results[index] = ItemResult(index=index, status=outcome.value, id=item_prepared.key)
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return BulkResults(results=results, counts=counts)


def _invalid_item(index: int, exc: ValidationError) -> ItemResult:
    return ItemResult(
        index=index,
        status="rejected",
        type=PROBLEM_BASE + "validation",
        errors=[
            ItemError(
                loc=[index, *(str(p) for p in error["loc"])], msg=pydantic_message(dict(error))
            )
            for error in exc.errors()
        ],
    )


def _rejected_item(index: int, problem: Problem) -> ItemResult:
    return ItemResult(
        index=index,
        status="rejected",
        type=PROBLEM_BASE + problem.kind,
        errors=[ItemError(loc=e["loc"], msg=e["msg"]) for e in problem.errors or []],
    )
