"""A Lạng Sơn scenario loaded through the public APIs of the registry and the events
service (nothing written to MongoDB or published by hand), and the exact figures the
reporting service computes from what the streams carried.

The data (real units of Lạng Sơn, four clubs, eleven members, nineteen activities of
which one is refused) is described in tests/across_support/langson.py; every expected
number below is counted by hand from it, with the reason in a comment. Figures
restated onto the vn34 units use the crosswalk shares read from the registry's API and
the rule of docs/reporting.md, coded in tests/across_support/restate.py.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.across_support import langson
from tests.across_support.figures import Figure, check_figures
from tests.across_support.holdings import pages
from tests.across_support.restate import Pairs, Shares, apportion, principal_successor, spread
from tests.across_support.stack import (
    Stack,
    stream_last_sequences,
    three_services,
    wait_caught_up,
    wait_published,
)
from tests.support.apps import eventually
from tests.support.explain import explain_recorded, record_commands
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer
from tests.support.plans import record_plans

VAN_NHAM, MINH_TIEN, DONG_TIEN = "vn63:06433", "vn63:06415", "vn63:06436"
BINH_XA, KIEN_MOC = "vn63:06622", "vn63:06625"  # divided in 2025
HUU_LUNG, DINH_LAP = "vn63:186", "vn63:189"
SEEDED_PROGRAMMES = 3
QUARTERS = ("2023Q1", "2023Q2", "2023Q3", "2023Q4")


class Units:
    """What the test reads from the registry before choosing its expectations."""

    def __init__(self) -> None:
        self.shares: dict[str, dict[str, float]] = {}
        self.children: dict[str, list[str]] = {}

    async def read(self, registry: httpx.AsyncClient) -> None:
        for parent in ("vn63:20", HUU_LUNG, DINH_LAP, "vn34:20"):
            items = await pages(registry, "/v1/units", parent=parent)
            self.children[parent] = [item["id"] for item in items]
        for unit in ("vn63:20", VAN_NHAM, MINH_TIEN, DONG_TIEN, BINH_XA, KIEN_MOC):
            response = await registry.get(f"/v1/units/{unit}/successors")
            assert response.status_code == 200, response.text
            self.shares[unit] = {link["unit_id"]: link["share"] for link in response.json()}
        names = {}
        for unit in (VAN_NHAM, MINH_TIEN, BINH_XA, KIEN_MOC, "vn34:06415", "vn34:06625"):
            names[unit] = (await registry.get(f"/v1/units/{unit}")).json()["name"]
        assert names == {
            VAN_NHAM: "Xã Vân Nham",
            MINH_TIEN: "Xã Minh Tiến",
            BINH_XA: "Xã Bính Xá",
            KIEN_MOC: "Xã Kiên Mộc",
            "vn34:06415": "Xã Vân Nham",
            "vn34:06625": "Xã Kiên Mộc",
        }

    def check_crosswalk(self) -> None:
        """The communes chosen for what they show: three merged whole, two divided."""
        assert len(self.children["vn63:20"]) == 11  # districts of Lạng Sơn
        assert len(self.children[HUU_LUNG]) == 23  # communes of Hữu Lũng
        assert len(self.children[DINH_LAP]) == 12  # communes of Đình Lập
        assert len(self.children["vn34:20"]) == 65  # communes of today's Lạng Sơn
        assert self.children["vn34:20"] == sorted(self.children["vn34:20"])
        assert self.shares["vn63:20"] == {"vn34:20": 1.0}
        assert self.shares[VAN_NHAM] == {"vn34:06415": 1.0}
        assert self.shares[MINH_TIEN] == {"vn34:06415": 1.0}
        assert self.shares[DONG_TIEN] == {"vn34:06436": 1.0}
        for divided, parts in ((BINH_XA, {"06613", "06625"}), (KIEN_MOC, {"06625", "06637"})):
            assert set(self.shares[divided]) == {f"vn34:{code}" for code in parts}
            assert all(0 < share < 1 for share in self.shares[divided].values())
            assert sum(self.shares[divided].values()) == 1.0


def vn34(
    shares: Shares, order: list[str], at: str | None = None, **rows: Pairs
) -> tuple[dict[str, int], int]:
    """Restated rows of one query, in the API's row `order`, and the total. Each keyword
    is a row (a dimension value) with the `(recorded unit, measure)` pairs that feed it,
    summed over every vn34 unit, or only the part landing on `at`. For `child_unit`
    queries pass `units=[...]`: the pairs are spread over the vn34 communes."""
    if list(rows) == ["units"]:
        exact = spread(rows["units"], shares)
    else:
        exact = {}
        for row, pairs in rows.items():
            parts = spread(pairs, shares)
            exact[row] = parts.get(at, Fraction(0)) if at else sum(parts.values(), Fraction(0))
    found, total = apportion(exact, order)
    return {key: value for key, value in found.items() if value}, total


def vn34_at(shares: Shares, unit: str, pairs: Pairs) -> int:
    """A restated total on one vn34 unit: its exact share of the pairs, rounded."""
    return round(spread(pairs, shares).get(unit, Fraction(0)))


def expected_figures(units: Units) -> list[Figure]:
    s, lang_son_34 = units.shares, units.children["vn34:20"]
    bx_34 = principal_successor(s[BINH_XA])
    assert bx_34 == "vn34:06625"  # the larger part of Bính Xá (by area)
    sexes = ["female", "male"]
    figures = [
        # --- clubs and members at a period end (as the units were) -------------------
        # 2023-12-31: K1 has M01 F and M03 (corrected to M); M02 left on 31 Dec, so she
        # no longer counts that day; M04 joined in 2024. K2: M05 F, M06 M. K3: M07 F,
        # M08 F; M09 left in November.
        Figure("club_members", "vn63:20", "2023", 6, {"female": 4, "male": 2}, "sex"),
        # Minorities: M01 Tày, M03 Tày, M06 Nùng, M08 Dao; M05 and M07 are Kinh.
        Figure("club_members", "vn63:20", "2023", 6, {True: 4, False: 2}, "ethnic_minority"),
        # Both at once: F EM M01, M08; F Kinh M05, M07; M EM M03, M06; no Kinh man.
        Figure(
            "club_members",
            "vn63:20",
            "2023",
            6,
            {("female", True): 2, ("female", False): 2, ("male", True): 2},
            "sex,ethnic_minority",
        ),
        # K1 and K2 in Hữu Lũng, K3 in Đình Lập; the nine other districts have none.
        Figure("club_members", "vn63:20", "2023", 6, {HUU_LUNG: 4, DINH_LAP: 2}, "child_unit"),
        Figure("club_members", HUU_LUNG, "2023", 4, {"female": 2, "male": 2}, "sex"),
        # 2023-06-30: K1 has M01, M02 (not left yet) and M03 (M: the correction
        # replaced the record), K2 M05 F, M06 M; K3 was founded in September.
        Figure("club_members", "vn63:20", "2023H1", 5, {"female": 3, "male": 2}, "sex"),
        Figure("clubs_active", "vn63:20", "2023", 3, {"school": 2, "community": 1}, "kind"),
        # K2 was dissolved on 2024-06-30, the last day of 2024H1: gone that day, with
        # its members. K1: M01 F, M03 M, M04 M; K3: M07 F, M08 F.
        Figure("clubs_active", "vn63:20", "2024H1", 2, {"school": 2}, "kind"),
        Figure("club_members", "vn63:20", "2024H1", 5, {"female": 3, "male": 2}, "sex"),
        # After the reform a club on a vn63 unit counts at its principal successor, so
        # the old province holds nobody at the end of 2025 ...
        Figure("club_members", "vn63:20", "2025", 0),
        # (On 2025-06-30, the last day of the old units, they were still there: K1 M01
        # F, M03 M, M04 M; K3 M07 F, M08 F.)
        Figure("club_members", "vn63:20", "2025H1", 5, {"female": 3, "male": 2}, "sex"),
        # ... and today's Lạng Sơn holds K1 (M01 F, M03 M, M04 M), K3 (M07 F, M08 F)
        # and K4 (M10 F, M11 M), each club whole in one commune.
        Figure("club_members", "vn34:20", "2025", 7, {"female": 4, "male": 3}, "sex"),
        Figure(
            "clubs_active",
            "vn34:20",
            "2025",
            3,
            {"vn34:06415": 1, bx_34: 1, "vn34:06637": 1},
            "child_unit",
        ),
        # Restated to vn34, clubs are not split either: K1 and K2 (Vân Nham and Minh
        # Tiến both went whole to vn34:06415) 2 + 2 members, K3 whole in Kiên Mộc.
        Figure("club_members", "vn34:20", "2023", 6, {"female": 4, "male": 2}, "sex", "vn34"),
        Figure(
            "club_members",
            "vn34:20",
            "2023",
            6,
            {"vn34:06415": 4, bx_34: 2},
            "child_unit",
            "vn34",
        ),
        # --- meetings, sessions and participants per quarter of 2023 ----------------
        # Q2: the training course A5 only; Q3: the session A4; Q4: meetings A1, A2, A7
        # and sessions A3 (at its version 2) and A8 (A6 is voided).
        *(
            Figure("club_meetings", "vn63:20", quarter, meetings)
            for quarter, meetings in zip(QUARTERS, (0, 0, 0, 3), strict=True)
        ),
        *(
            Figure("communication_sessions", "vn63:20", quarter, sessions)
            for quarter, sessions in zip(QUARTERS, (0, 0, 1, 2), strict=True)
        ),
        Figure("communication_participants", "vn63:20", "2023Q1", 0, {}, "sex"),
        Figure("communication_participants", "vn63:20", "2023Q2", 0, {}, "sex"),
        Figure(
            "communication_participants", "vn63:20", "2023Q3", 15, {"female": 12, "male": 3}, "sex"
        ),
        # A3 v2 33/22 + A8 20/15 (v1's 31/24 and A6's 40/40 do not count).
        Figure(
            "communication_participants", "vn63:20", "2023Q4", 90, {"female": 53, "male": 37}, "sex"
        ),
        # Meetings A1 10/8 + A2 6/5 + A7 4/3 = 20/16; sessions 53/37.
        Figure(
            "people_reached",
            "vn63:20",
            "2023Q4",
            126,
            {
                ("club_meeting", "female"): 20,
                ("club_meeting", "male"): 16,
                ("communication_session", "female"): 53,
                ("communication_session", "male"): 37,
            },
            "kind,sex",
        ),
        # Q2 A5 60/40 + Q3 12/3 + Q4 73/53 (ratings have no participants).
        Figure("people_reached", "vn63:20", "2023", 241, {"female": 145, "male": 96}, "sex"),
        Figure("people_reached", "vn", "2023", 241, {"female": 145, "male": 96}, "sex"),
        # A3 reported 40 minority of 55, A4 0 of 15; A8 (35) did not say.
        Figure(
            "communication_participants",
            "vn63:20",
            "2023",
            105,
            {True: 40, False: 30, None: 35},
            "ethnic_minority",
        ),
        # A4 in Hữu Lũng; A3 and A8 in Đình Lập.
        Figure(
            "communication_participants",
            "vn63:20",
            "2023",
            105,
            {HUU_LUNG: 15, DINH_LAP: 90},
            "child_unit",
        ),
        Figure("trainees", "vn63:20", "2023", 100, {"female": 60, "male": 40}, "sex"),
        Figure("training_courses", "vn63:20", "2023", 1),
        Figure("training_days", "vn63:20", "2023", 1.5),
        # A1 500,000 + A3 2,000,000 + A5 30,000,000 (A6's 1,000,000 was voided).
        Figure("budget_vnd", "vn63:20", "2023", 32_500_000),
        # --- learning-centre ratings of school year 2016-2017 ------------------------
        Figure(
            "learning_centre_ratings",
            "vn63:20",
            "SY2016-2017",
            4,
            {"excellent": 1, "good": 2, "average": 1},
            "grade",
        ),
        # R1, R2 in Hữu Lũng; R3, R4 in Đình Lập; R5 belongs to the next school year.
        Figure(
            "learning_centre_ratings",
            "vn63:20",
            "SY2016-2017",
            4,
            {HUU_LUNG: 2, DINH_LAP: 2},
            "child_unit",
        ),
        Figure("learning_centre_ratings", "vn63:20", "SY2017-2018", 1, {"good": 1}, "grade"),
        Figure("learning_centre_ratings", "vn63:20", "SY2016-2017", 0, programme="P8"),
        # --- 2025, across the reform (as_was keeps each half on its own units) -------
        # H1: A10 10/7 in Bính Xá and A13 7/3 in Vân Nham; H2: A11 5/5 on vn34:06625.
        Figure(
            "communication_participants", "vn63:20", "2025H1", 27, {"female": 17, "male": 10}, "sex"
        ),
        Figure("communication_participants", "vn34:20", "2025", 10),
        Figure("communication_participants", "vn", "2025", 37),
        # A12 on K4 in Châu Sơn and A15 of K1 (a vn63 club) on vn34:06415.
        Figure("club_meetings", "vn34:20", "2025", 2),
        Figure("club_meetings", "vn34:20", "2025", 2, structure="vn34"),
    ]

    # --- the same figures restated onto today's units (structure=vn34) --------------
    # Every unit's shares add up to 1, so a province total is the as_was total; the
    # communes' rows carry the fractions of the divided communes.
    def restated(
        indicator: str,
        unit: str,
        period: str,
        by: str,
        rows: tuple[dict[str, int], int],
        hand: tuple[dict[str, int], int],
    ) -> None:
        """Expect `rows` (non-zero rows and total, computed from the API's shares);
        `hand` is the same worked out in the comment, so both must agree."""
        assert rows == hand, f"{indicator} {unit} {period} by={by}: {rows} != {hand}"
        figures.append(Figure(indicator, unit, period, rows[1], rows[0], by, "vn34"))

    # 2023 participants: A4 15 in Vân Nham → vn34:06415; A3 55 in Bính Xá → 55 * 0.283
    # = 15.55 on 06613 and 55 * 0.717 = 39.45 on 06625; A8 35 in Kiên Mộc → 35 * 0.581
    # = 20.33 on 06625 and 35 * 0.419 = 14.67 on 06637. Total 105; rounded down 15,
    # 15, 59, 14 = 103, the two missing go to the largest fractions (06625 .79, 06637
    # .67): 15, 15, 60, 15.
    restated(
        "communication_participants",
        "vn34:20",
        "2023",
        "child_unit",
        vn34(s, lang_son_34, units=[(VAN_NHAM, 15), (BINH_XA, 55), (KIEN_MOC, 35)]),
        ({"vn34:06415": 15, "vn34:06613": 15, "vn34:06625": 60, "vn34:06637": 15}, 105),
    )
    # Kiên Mộc (vn34:06625) by sex: F 33 * 0.717 + 20 * 0.581 = 35.29, M 22 * 0.717 +
    # 15 * 0.581 = 24.50; the total 59.79 is rounded once, to 60 (rounding each
    # activity first would give 39 + 20 = 59): F 35, M 25.
    restated(
        "communication_participants",
        bx_34,
        "2023",
        "sex",
        vn34(
            s,
            sexes,
            at=bx_34,
            female=[(BINH_XA, 33), (KIEN_MOC, 20)],
            male=[(BINH_XA, 22), (KIEN_MOC, 15)],
        ),
        ({"female": 35, "male": 25}, 60),
    )
    # 2023Q4 sessions: A3 (Bính Xá) and A8 (Kiên Mộc), one each: 2 for the province;
    # by commune 0.283 on 06613, 0.717 + 0.581 = 1.298 on 06625, 0.419 on 06637:
    # 0 + 1 + 0 rounded down, the missing one to 06637 (.419 > .298 > .283).
    sessions_q4 = [(BINH_XA, 1), (KIEN_MOC, 1)]
    restated(
        "communication_sessions",
        "vn34:20",
        "2023Q4",
        "child_unit",
        vn34(s, lang_son_34, units=sessions_q4),
        ({"vn34:06625": 1, "vn34:06637": 1}, 2),
    )
    # Asked for alone, each commune rounds its own total: 06613 0.283 → 0, 06625
    # 1.298 → 1 and 06637 0.419 → 0.
    for unit, hand in (("vn34:06613", 0), ("vn34:06625", 1), ("vn34:06637", 0)):
        assert vn34_at(s, unit, sessions_q4) == hand
        figures.append(Figure("communication_sessions", unit, "2023Q4", hand, structure="vn34"))
    # 2023Q4 meetings: A1 (Vân Nham) and A2 (Minh Tiến) both on 06415; A7 (K3's, in
    # Bính Xá) 0.283 on 06613 and 0.717 on 06625: 2, 0, 1.
    restated(
        "club_meetings",
        "vn34:20",
        "2023Q4",
        "child_unit",
        vn34(s, lang_son_34, units=[(VAN_NHAM, 1), (MINH_TIEN, 1), (BINH_XA, 1)]),
        ({"vn34:06415": 2, "vn34:06625": 1}, 3),
    )
    # People reached in 2023 by sex, restated: the same 145/96 (shares add up to 1).
    # Female: A5 60 on the province; Vân Nham A4 12 + A1 10; Minh Tiến A2 6; Bính Xá
    # A3 33 + A7 4; Kiên Mộc A8 20. Male likewise.
    restated(
        "people_reached",
        "vn34:20",
        "2023",
        "sex",
        vn34(
            s,
            sexes,
            female=[("vn63:20", 60), (VAN_NHAM, 22), (MINH_TIEN, 6), (BINH_XA, 37), (KIEN_MOC, 20)],
            male=[("vn63:20", 40), (VAN_NHAM, 11), (MINH_TIEN, 5), (BINH_XA, 25), (KIEN_MOC, 15)],
        ),
        ({"female": 145, "male": 96}, 241),
    )
    # Ratings SY2016-2017 by grade: R1 excellent (Vân Nham → 06415), R2 average
    # (Đồng Tiến → 06436), R3 good (Bính Xá, in parts), R4 good (Kiên Mộc, in parts).
    restated(
        "learning_centre_ratings",
        "vn34:20",
        "SY2016-2017",
        "grade",
        vn34(
            s,
            ["excellent", "good", "average", "weak"],
            excellent=[(VAN_NHAM, 1)],
            good=[(BINH_XA, 1), (KIEN_MOC, 1)],
            average=[(DONG_TIEN, 1)],
        ),
        ({"excellent": 1, "good": 2, "average": 1}, 4),
    )
    # By commune: 06415 1, 06436 1, 06613 0.283, 06625 0.717 + 0.581 = 1.298, 06637
    # 0.419; total 4, rounded down 3, the missing one to 06637: 1, 1, 0, 1, 1.
    restated(
        "learning_centre_ratings",
        "vn34:20",
        "SY2016-2017",
        "child_unit",
        vn34(s, lang_son_34, units=[(VAN_NHAM, 1), (DONG_TIEN, 1), (BINH_XA, 1), (KIEN_MOC, 1)]),
        ({"vn34:06415": 1, "vn34:06436": 1, "vn34:06625": 1, "vn34:06637": 1}, 4),
    )
    # 2025 spans the reform: restated H1 (A10 17 in Bính Xá, A13 10 in Vân Nham) plus
    # H2 (A11 10 on vn34:06625): 37, F 10 + 7 + 5 = 22, M 7 + 3 + 5 = 15. By commune
    # 06415 10, 06613 17 * 0.283 = 4.81, 06625 17 * 0.717 + 10 = 22.19: 10, 5, 22.
    restated(
        "communication_participants",
        "vn34:20",
        "2025",
        "sex",
        vn34(
            s,
            sexes,
            female=[(BINH_XA, 10), (VAN_NHAM, 7), ("vn34:06625", 5)],
            male=[(BINH_XA, 7), (VAN_NHAM, 3), ("vn34:06625", 5)],
        ),
        ({"female": 22, "male": 15}, 37),
    )
    restated(
        "communication_participants",
        "vn34:20",
        "2025",
        "child_unit",
        vn34(s, lang_son_34, units=[(BINH_XA, 17), (VAN_NHAM, 10), ("vn34:06625", 10)]),
        ({"vn34:06415": 10, "vn34:06613": 5, "vn34:06625": 22}, 37),
    )
    return figures


def _pct(actual: float, target: float) -> float | None:
    """achieved_pct: actual / target * 100, rounded half up to one decimal."""
    if target == 0:
        return None
    exact = Decimal(str(actual)) * 100 / Decimal(str(target))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def expected_targets(units: Units) -> dict[tuple[str, str, str], tuple[float, float, Any]]:
    s = units.shares
    # Targets on vn34 units are compared with restated figures: K3's meeting A7 counts
    # 0.717 on Kiên Mộc (→ 1); 17 * 0.283 = 4.81 of A10's participants on Đình Lập (→ 5).
    meetings_kien_moc = vn34_at(s, "vn34:06625", [(BINH_XA, 1)])
    participants_dinh_lap = vn34_at(s, "vn34:06613", [(BINH_XA, 17)])
    actuals = {
        ("trainees", "vn63:20", "2023"): (120, 100),  # A5: 60 + 40
        ("communication_sessions", DINH_LAP, "2023Q4"): (4, 2),  # A3, A8
        ("club_members", "vn63:20", "2023"): (8, 6),  # as above
        ("training_courses", "vn63:20", "2023"): (0, 1),  # a zero target: no percentage
        ("communication_participants", "vn34:20", "2025"): (60, 37),  # 37 / 60 = 61.67 %
        ("club_meetings", "vn34:06625", "2023"): (2, meetings_kien_moc),
        ("communication_participants", "vn34:06613", "2025"): (10, participants_dinh_lap),
    }
    assert (meetings_kien_moc, participants_dinh_lap) == (1, 5)
    return {key: (t, a, _pct(a, t)) for key, (t, a) in actuals.items()}


# (period, level, parent) → {unit that reported: activities}, units below the parent.
# Hữu Lũng 2023: Vân Nham A1, A4; Minh Tiến A2. Đình Lập: Bính Xá A3, A7; Kiên Mộc A8
# (A6 voided). Districts: A5 is on the province itself, so it counts for none of them.
EXPECTED_COMPLETENESS: dict[tuple[str, str, str], tuple[dict[str, int], int]] = {
    ("2023", "commune", HUU_LUNG): ({VAN_NHAM: 2, MINH_TIEN: 1}, 23),
    ("2023", "commune", DINH_LAP): ({BINH_XA: 2, KIEN_MOC: 1}, 12),
    ("2023", "district", "vn63:20"): ({HUU_LUNG: 3, DINH_LAP: 3}, 11),
    ("2023Q3", "commune", HUU_LUNG): ({VAN_NHAM: 1}, 23),
    # Ratings are dated by the end of their school year (2017-08-31).
    ("SY2016-2017", "commune", DINH_LAP): ({BINH_XA: 1, KIEN_MOC: 1}, 12),
    # After the reform: A15 (Vân Nham), A11 (Kiên Mộc), A12 (Châu Sơn) of 65 communes.
    ("2025H2", "commune", "vn34:20"): ({"vn34:06415": 1, "vn34:06625": 1, "vn34:06637": 1}, 65),
}


# GET /v1/reports/summary for Lạng Sơn in 2023: indicator → (value, female, male) as
# above; ratings are dated 2017-2018, so none fall in 2023.
EXPECTED_SUMMARY = {
    "clubs_active": (3, None, None),
    "club_members": (6, 4, 2),
    "club_meetings": (3, None, None),
    "communication_sessions": (3, None, None),
    "communication_participants": (105, 65, 40),
    "trainees": (100, 60, 40),
    "training_days": (1.5, None, None),
    "learning_centre_ratings": (0, None, None),
    "people_reached": (241, 145, 96),
    "budget_vnd": (32_500_000, None, None),
}


async def check_reports(stack: Stack, units: Units) -> list[dict[str, Any]]:
    bodies = []
    params = {"unit_id": "vn63:20", "period": "2023"}
    response = await stack.reporting.get("/v1/reports/summary", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    summary = {
        item["indicator"]: (item["value"], item.get("female"), item.get("male"))
        for item in body["items"]
        if item["indicator"] in EXPECTED_SUMMARY
    }
    assert summary == EXPECTED_SUMMARY
    body.pop("as_of")
    bodies.append(body)

    response = await stack.reporting.get("/v1/reports/targets", params={"programme": "P8"})
    assert response.status_code == 200, response.text
    body = response.json()
    got = {
        (item["indicator"], item["unit_id"], item["period"]): (
            item["target"],
            item["actual"],
            item["achieved_pct"],
        )
        for item in body
    }
    expected = expected_targets(units)
    assert got == expected
    assert got[("trainees", "vn63:20", "2023")][2] == 83.3
    assert got[("communication_participants", "vn34:20", "2025")][2] == 61.7
    bodies.append(body)

    for (period, level, parent), (reported, count) in EXPECTED_COMPLETENESS.items():
        params = {"period": period, "level": level, "parent": parent}
        response = await stack.reporting.get("/v1/reports/completeness", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) == body["units"] == count, params
        assert {i["unit_id"]: i["activities"] for i in body["items"] if i["reported"]} == reported
        assert all(i["activities"] == 0 for i in body["items"] if not i["reported"])
        rate = len(reported) / count
        assert (body["reported"], body["rate"], body["rate_pct"]) == (
            len(reported),
            round(rate, 4),
            round(rate * 100, 1),
        ), params
        body.pop("as_of")
        bodies.append(body)
    return bodies


async def everything(stack: Stack, units: Units) -> list[dict[str, Any]]:
    figures = await check_figures(stack.reporting, expected_figures(units))
    return figures + await check_reports(stack, units)


async def test_scenario_through_the_apis_gives_exact_figures_and_a_rebuild_the_same(
    mongo: MongoBackend, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    with record_plans(monkeypatch) as plans:
        await _scenario(mongo, nats_server, started)
    if mongo.embedded:
        # Every query the three services ran — writes, consumers, relays, figures,
        # reports, lists and the rebuild — was served by an index (or read a whole
        # collection on purpose, to load an in-memory copy).
        assert plans.unindexed() == []
        assert len(plans.served) > 40, sorted(plans.served)


@pytest.fixture
def mongo_server(mongo: MongoBackend) -> MongoBackend:
    """The tests' MongoDB when it is a server (asked for before NATS is started)."""
    if mongo.embedded:
        pytest.skip(
            "needs a MongoDB server: set BDG_TEST_MONGODB_URL=mongodb://... or run a "
            "Docker engine (tests/support/mongo.py starts a MongoDB container)"
        )
    return mongo


async def test_scenario_on_a_mongodb_server_runs_every_query_on_an_index(
    mongo_server: MongoBackend, nats_server: NatsServer
) -> None:
    # The same scenario, with the commands the services send recorded; then each query
    # shape (whole-collection reads aside) is explained by the server (executionStats):
    # no collection scan, an index stage, and not many more documents examined than
    # found (tests/support/explain.py).
    with record_commands() as recorded:
        await _scenario(mongo_server, nats_server, time.monotonic())
    assert recorded.errors == []
    assert mongo_server.url is not None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.url, tz_aware=True)
    try:
        verdicts = await explain_recorded(client, recorded)
    finally:
        await client.close()
    unserved = [str(verdict) for verdict in verdicts if verdict.reason]
    assert unserved == [], "not served by an index on MongoDB:\n" + "\n".join(unserved)
    assert len(verdicts) > 40, [str(verdict) for verdict in verdicts]


async def _scenario(mongo: MongoBackend, nats_server: NatsServer, started: float) -> None:
    async with three_services(mongo, nats_server.url, "vn63:20") as stack:
        units = Units()
        await units.read(stack.registry)
        units.check_crosswalk()
        reference = (await stack.registry.get("/v1/reference")).json()

        ids = await langson.register(stack.registry)
        registry_goal = reference["units"] + SEEDED_PROGRAMMES + langson.REGISTRY_EVENTS
        await wait_published(nats_server.url, {"REGISTRY": registry_goal}, timeout=20)
        # The events service knows every club and site before activities name them.
        await wait_caught_up(stack, timeout=10)

        activity_ids = await langson.report_activities(stack.events, ids)
        goals = {"REGISTRY": registry_goal, "ACTIVITIES": langson.ACTIVITY_EVENTS}
        await wait_published(nats_server.url, goals, timeout=10)
        await wait_caught_up(stack, timeout=10)
        loaded = time.monotonic() - started
        before = await everything(stack, units)

        # Sending the same things again changes nothing and publishes nothing.
        again = await stack.events.post("/v1/activities:batch", json=langson.batch_items(ids))
        statuses = [result["status"] for result in again.json()["results"]]
        assert statuses == ["unchanged"] * (len(langson.BATCH) - 1) + ["rejected"]
        response = await langson.put_activity(stack.events, "A3", langson.A3_V2, ids)
        assert (response.status_code, response.json()["version"]) == (200, 2)
        response = await stack.events.request(
            "DELETE", f"/v1/activities/{activity_ids['A6']}", json={"reason": "again"}
        )
        assert (response.status_code, response.json()["version"]) == (200, 2)
        assert await stream_last_sequences(nats_server.url) == goals
        assert await everything(stack, units) == before

        # A rebuild replays both streams into a new generation: the same figures.
        response = await stack.reporting.post("/v1/admin/rebuild")
        assert response.status_code == 202, response.text

        async def rebuilt() -> dict[str, Any] | None:
            status: dict[str, Any] = (await stack.reporting.get("/v1/status")).json()
            rebuild = status.get("rebuild") or {}
            assert rebuild.get("status") != "failed", rebuild
            return status if rebuild.get("status") == "completed" else None

        status, _ = await eventually(rebuilt, timeout=20, interval=0.1)
        assert status["generation"] == "g2"
        assert await everything(stack, units) == before
    print(f"\nscenario loaded and caught up after {loaded:.1f} s")
