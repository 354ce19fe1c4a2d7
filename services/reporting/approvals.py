"""Approved data: which (unit subtree, days) of which programme count under
`approval=approved`.

The registry publishes one approval record per (programme, period, unit); reporting
keeps each at its highest revision (`approvals_<generation>`, rebuilt by replay like
every registry read model). An activity fact counts as approved when, for its
programme, a record in state `approved` or `accepted` exists whose period contains
the fact's date and whose unit is the fact's unit or one of its ancestors (a village
counts under its approved commune; a commune under its approved district).

A request reads the approved records once (`ApprovalScope`) and turns them into
`Region`s: (programme, days, subtree roots) whose days never overlap within a
programme, so that a fact is matched by at most one region and counted once (a root
under another root of the same region is dropped: the `$in` on the lineage would
match its facts once anyway). The facts are then read through the `(lineage, on)`
index, one read per region, never by scanning all facts.

Clubs and members (stock indicators) count when the club's unit at the period end is
covered, for the club's programme, by an approved record whose period contains that
day (the same rule, applied to the day the stock is taken).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Literal

from shared.edge.i18n import say
from shared.http import Problem
from shared.mongo import Document
from shared.units import NATION_ID, UnitIndex

ApprovalFilter = Literal["all", "approved"]
APPROVAL_FILTERS: tuple[str, ...] = ("all", "approved")
APPROVED_STATES = ("approved", "accepted")
STATES = ("open", "submitted", "approved", "accepted")


def approval_filter(text: str | None) -> ApprovalFilter:
    """`approval` as asked (absent: `all`); 422 naming the allowed values otherwise."""
    if text is None or text == "all":
        return "all"
    if text == "approved":
        return "approved"
    allowed = ", ".join(APPROVAL_FILTERS)
    detail = say(
        f"approval is one of {allowed}, not {text[:40]!r}.",
        f"approval nhận một trong các giá trị {allowed}, không nhận {text[:40]!r}.",
    )
    raise Problem(
        422,
        "invalid-approval",
        say("Invalid approval filter", "Bộ lọc phê duyệt không hợp lệ"),
        detail,
        errors=[{"loc": ["query", "approval"], "msg": detail}],
    )


@dataclass(frozen=True)
class ApprovedSpan:
    """One approved record: a unit's subtree for the days of a period, of a programme."""

    programme: str
    unit_id: str
    start: date
    end: date


@dataclass(frozen=True)
class Region:
    """Facts of `programme` dated in `[start, end]` whose lineage holds one of `roots`."""

    programme: str
    start: date
    end: date
    roots: tuple[str, ...]


def spans_of(documents: Iterable[Document]) -> list[ApprovedSpan]:
    return [
        ApprovedSpan(
            str(document["programme"]),
            str(document["unit_id"]),
            date.fromisoformat(document["starts_on"]),
            date.fromisoformat(document["ends_on"]),
        )
        for document in documents
        if document.get("state") in APPROVED_STATES and document.get("starts_on")
    ]


class ApprovalScope:
    """The approved spans of one request, with the unit hierarchy to place them."""

    def __init__(self, spans: Sequence[ApprovedSpan], units: UnitIndex) -> None:
        self.spans = list(spans)
        self._units = units

    def _lineage(self, unit_id: str) -> list[str]:
        if unit_id == NATION_ID:
            return [NATION_ID]
        return self._units.lineage(unit_id) if unit_id in self._units else [unit_id]

    def covers(self, programme: str | None, unit_id: str, day: date) -> bool:
        """Whether data of `programme` on `unit_id` dated `day` is approved."""
        lineage = set(self._lineage(unit_id))
        return any(
            span.programme == programme
            and span.start <= day <= span.end
            and span.unit_id in lineage
            for span in self.spans
        )

    def covers_period(self, programme: str | None, unit_id: str, start: date, end: date) -> bool:
        """Whether every day of `[start, end]` of `unit_id` is approved (for `programme`,
        or for any one programme when none is given)."""
        lineage = set(self._lineage(unit_id))
        by_programme: dict[str, list[ApprovedSpan]] = defaultdict(list)
        for span in self.spans:
            if span.unit_id in lineage and (programme is None or span.programme == programme):
                by_programme[span.programme].append(span)
        return any(_covered(spans, start, end) for spans in by_programme.values())

    def regions(
        self, unit_id: str, start: date, end: date, programme: str | None, restated: bool
    ) -> list[Region]:
        """Disjoint regions of approved facts counting at `unit_id` in `[start, end]`.

        As the units were, a span on a unit below `unit_id` keeps its unit as root and
        one on `unit_id` or above it becomes `unit_id` itself; restated, facts reach
        `unit_id` through the crosswalk (the caller also matches them on it), so the
        span's own unit is the root."""
        placed: list[tuple[str, str, date, date]] = []
        asked = set(self._lineage(unit_id))
        for span in self.spans:
            if programme is not None and span.programme != programme:
                continue
            first, last = max(span.start, start), min(span.end, end)
            if first > last:
                continue
            if restated or unit_id in self._lineage(span.unit_id):
                root = span.unit_id
            elif span.unit_id in asked:
                root = unit_id
            else:
                continue
            placed.append((span.programme, root, first, last))
        regions: list[Region] = []
        for code in sorted({item[0] for item in placed}):
            mine = [item for item in placed if item[0] == code]
            regions += self._disjoint(code, mine)
        return regions

    def _disjoint(
        self, programme: str, placed: Sequence[tuple[str, str, date, date]]
    ) -> list[Region]:
        bounds = sorted(
            {item[2] for item in placed} | {item[3] + timedelta(days=1) for item in placed}
        )
        regions: list[Region] = []
        for first, after in pairwise(bounds):
            last = after - timedelta(days=1)
            roots = {root for _, root, s, e in placed if s <= first and last <= e}
            # A root under another root is already counted by it.
            kept = tuple(
                sorted(
                    root
                    for root in roots
                    if not any(other in roots for other in self._lineage(root)[1:])
                )
            )
            if not kept:
                continue
            if (
                regions
                and regions[-1].roots == kept
                and regions[-1].end == first - timedelta(days=1)
            ):
                regions[-1] = Region(programme, regions[-1].start, last, kept)
            else:
                regions.append(Region(programme, first, last, kept))
        return regions


def _covered(spans: Sequence[ApprovedSpan], start: date, end: date) -> bool:
    reached = start
    for span in sorted(spans, key=lambda span: span.start):
        if span.start > reached:
            return False
        if span.end >= reached:
            reached = span.end + timedelta(days=1)
        if reached > end:
            return True
    return reached > end
