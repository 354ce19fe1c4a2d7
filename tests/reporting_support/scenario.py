"""A small Lạng Sơn scenario across the 2025 reorganisation, with its exact figures.

It is written as what provinces send through the public APIs (units, programmes,
targets, clubs, members and activities with their bodies), in the order of the
changes, so the same data and the same expected figures serve both the reporting
tests (which publish the matching contract events) and an end-to-end test through
the registry and events services.

Units: Lạng Sơn (vn63:20) with Hữu Lũng district (vn63:186: communes Vân Nham
06433 with village T05, Đồng Tiến 06436 — divided in 2025, 60 % to vn34:06415 and
40 % to vn34:06440 — and Minh Tiến 06445) and Văn Quan district (vn63:181: commune
06300); from 2025-07-01 vn34:20 with communes 06415, 06440 and 06310.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OLD, NEW = "2025-06-30", "2025-07-01"


def _unit(
    unit_id: str,
    name: str,
    level: str,
    parent: str | None,
    successors: list[tuple[str, float]] | None = None,
) -> dict[str, Any]:
    edition = "vn" if unit_id == "vn" else unit_id.split(":")[0]
    code = "vn" if unit_id == "vn" else unit_id.split(":")[1]
    return {
        "id": unit_id,
        "edition": edition,
        "code": code,
        "name": name,
        "level": level,
        "parent_id": parent,
        "valid_from": NEW if edition == "vn34" else None,
        "valid_to": OLD if edition == "vn63" and level != "village" else None,
        "successors": [{"unit_id": u, "share": s} for u, s in successors or []],
    }


UNITS: list[dict[str, Any]] = [
    _unit("vn", "Việt Nam", "nation", None),
    _unit("vn63:20", "Tỉnh Lạng Sơn", "province", "vn", [("vn34:20", 1.0)]),
    _unit(
        "vn63:186",
        "Huyện Hữu Lũng",
        "district",
        "vn63:20",
        [("vn34:06415", 0.5), ("vn34:06440", 0.5)],
    ),
    _unit("vn63:181", "Huyện Văn Quan", "district", "vn63:20", [("vn34:06310", 1.0)]),
    _unit("vn63:06433", "Xã Vân Nham", "commune", "vn63:186", [("vn34:06415", 1.0)]),
    _unit(
        "vn63:06436",
        "Xã Đồng Tiến",
        "commune",
        "vn63:186",
        [("vn34:06415", 0.6), ("vn34:06440", 0.4)],
    ),
    _unit("vn63:06445", "Xã Minh Tiến", "commune", "vn63:186", [("vn34:06440", 1.0)]),
    _unit("vn63:06300", "Xã Văn An", "commune", "vn63:181", [("vn34:06310", 1.0)]),
    _unit("vn63:06433.T05", "Thôn Đồng Tâm", "village", "vn63:06433"),
    _unit("vn34:20", "Tỉnh Lạng Sơn", "province", "vn"),
    _unit("vn34:06415", "Xã Vân Nham", "commune", "vn34:20"),
    _unit("vn34:06440", "Xã Hữu Lũng", "commune", "vn34:20"),
    _unit("vn34:06310", "Xã Văn Quan", "commune", "vn34:20"),
]

PROGRAMMES: dict[str, dict[str, Any]] = {
    "P8": {"name": "Project 8", "name_vi": "Dự án 8", "starts_on": "2022-01-01"},
    "CLC": {"name": "Community learning centres", "name_vi": "Trung tâm học tập cộng đồng"},
}

# PUT /v1/programmes/P8/targets, twice: the second plan replaces the first.
TARGET_PLANS: dict[str, list[list[dict[str, Any]]]] = {
    "P8": [
        [{"indicator": "trainees", "unit_id": "vn63:20", "period": "2023", "value": 999}],
        [
            {"indicator": "trainees", "unit_id": "vn63:20", "period": "2023", "value": 120},
            {
                "indicator": "communication_sessions",
                "unit_id": "vn63:186",
                "period": "2023Q4",
                "value": 4,
            },
            {"indicator": "club_members", "unit_id": "vn63:20", "period": "2023", "value": 6},
            {"indicator": "training_courses", "unit_id": "vn63:20", "period": "2023", "value": 0},
            {
                "indicator": "communication_participants",
                "unit_id": "vn34:20",
                "period": "2025",
                "value": 40,
            },
        ],
    ]
}

SOURCE = "langson-mis"


@dataclass(frozen=True)
class Club:
    key: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Member:
    club: str
    code: str
    # Successive bodies sent for this member (each a new revision).
    bodies: list[dict[str, Any]]


def _club(
    key: str, name: str, kind: str, unit: str, established: str, dissolved: str | None = None
) -> Club:
    body: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "unit_id": unit,
        "programme": "P8",
        "established_on": established,
    }
    if dissolved:
        body["dissolved_on"] = dissolved
    return Club(key, body)


CLUBS = [
    _club("C1", "CLB Thủ lĩnh của sự thay đổi THCS Vân Nham", "school", "vn63:06433", "2023-02-01"),
    _club(
        "C2",
        "CLB Thủ lĩnh thôn Đồng Tâm",
        "community",
        "vn63:06433.T05",
        "2023-03-01",
        "2024-06-30",
    ),
    _club("C3", "CLB Thủ lĩnh THCS Đồng Tiến", "school", "vn63:06436", "2023-09-05"),
    _club("C4", "CLB Thủ lĩnh THCS Hữu Lũng", "school", "vn34:06440", "2025-08-01"),
]


def _m(sex: str, joined: str, minority: bool = False, left: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sex": sex,
        "ethnic_minority": minority,
        "joined_on": joined,
        "birth_year": 2010,
    }
    if minority:
        body["ethnicity"] = "Tày"
    if left:
        body["left_on"] = left
    return body


MEMBERS = [
    Member("C1", "M01", [_m("female", "2023-02-01", True)]),
    Member("C1", "M02", [_m("female", "2023-02-01", left="2023-12-31")]),
    # Corrected: first sent as female, then as male.
    Member("C1", "M03", [_m("female", "2023-02-01", True), _m("male", "2023-02-01", True)]),
    Member("C1", "M04", [_m("male", "2024-01-10")]),
    Member("C2", "M05", [_m("female", "2023-03-01")]),
    Member("C2", "M06", [_m("male", "2023-03-01", True)]),
    Member("C3", "M07", [_m("female", "2023-09-05")]),
    Member("C3", "M08", [_m("female", "2023-09-05", True)]),
    Member("C3", "M09", [_m("male", "2023-10-01", left="2023-11-15")]),
    Member("C4", "M10", [_m("female", "2025-08-01")]),
    Member("C4", "M11", [_m("male", "2025-08-01")]),
]


@dataclass(frozen=True)
class Activity:
    key: str
    # Successive bodies (version 1, 2, …); `voided` voids it after the last one.
    versions: list[dict[str, Any]]
    voided: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _a(
    kind: str,
    unit: str,
    day: str,
    female: int,
    male: int,
    minority: int | None = None,
    programme: str = "P8",
    club: str | None = None,
    budget: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    participants: dict[str, Any] = {"female": female, "male": male}
    if minority is not None:
        participants["ethnic_minority"] = minority
    body: dict[str, Any] = {
        "type": kind,
        "programme": programme,
        "unit_id": unit,
        "club_id": club,
        "title": f"{kind} {unit} {day}",
        "started_on": day,
        "ended_on": extra.pop("ended_on", day),
        "participants": participants,
        "budget_vnd": budget,
    }
    body.update(extra)
    return body


def _rating(key: str, unit: str, grade: str) -> Activity:
    return Activity(
        key,
        [
            _a(
                "learning_centre_rating",
                unit,
                "2017-06-15",
                0,
                0,
                programme="CLC",
                site_id=f"site-{key}",
                school_year="2016-2017",
                grade=grade,
            )
        ],
    )


ACTIVITIES: list[Activity] = [
    Activity(
        "A1", [_a("club_meeting", "vn63:06433", "2023-10-05", 10, 8, 9, club="C1", budget=500_000)]
    ),
    Activity("A2", [_a("club_meeting", "vn63:06433.T05", "2023-11-02", 6, 5, club="C2")]),
    Activity(
        "A3",
        [
            _a("communication_session", "vn63:06436", "2023-10-12", 31, 24, 40, budget=2_000_000),
            _a("communication_session", "vn63:06436", "2023-10-12", 30, 25, 40, budget=2_000_000),
            _a("communication_session", "vn63:06436", "2023-10-12", 33, 22, 40, budget=2_000_000),
        ],
    ),
    Activity("A4", [_a("communication_session", "vn63:06300", "2023-07-20", 12, 3, 0)]),
    Activity(
        "A5",
        [
            _a(
                "training_course",
                "vn63:20",
                "2023-05-10",
                60,
                40,
                30,
                budget=30_000_000,
                ended_on="2023-05-11",
                sessions=2,
                duration_days=1.5,
            )
        ],
    ),
    Activity("A6", [_a("forum", "vn63:186", "2023-12-01", 90, 60)]),
    Activity(
        "A7",
        [
            _a(
                "support_delivery",
                "vn63:06433",
                "2023-11-20",
                0,
                0,
                support_kind="scholarship",
                beneficiaries={"women": 0, "children": 5},
                value_vnd=15_000_000,
            )
        ],
    ),
    Activity(
        "A8",
        [_a("communication_session", "vn63:06433", "2023-12-28", 40, 40)],
        voided="duplicate report",
    ),
    Activity(
        "A9",
        [_a("communication_session", "vn63:06445", "2023-11-11", 20, 20)],
        voided="never took place",
    ),
    Activity(
        "L1",
        [
            _a(
                "learning_centre_class",
                "vn63:06436",
                "2017-03-15",
                20,
                5,
                programme="CLC",
                site_id="site-L1",
            )
        ],
    ),
    _rating("R1", "vn63:06433", "excellent"),
    _rating("R2", "vn63:06433", "excellent"),
    _rating("R3", "vn63:06433", "good"),
    _rating("R4", "vn63:06436", "good"),
    _rating("R5", "vn63:06436", "good"),
    _rating("R6", "vn63:06436", "average"),
    _rating("R7", "vn63:06300", "good"),
    Activity("A10", [_a("communication_session", "vn63:06436", "2025-03-10", 10, 7)]),
    Activity("A11", [_a("communication_session", "vn34:06440", "2025-09-15", 5, 5)]),
    Activity("A12", [_a("club_meeting", "vn34:06440", "2025-09-20", 3, 2, club="C4")]),
    Activity("A13", [_a("communication_session", "vn63:06433", "2025-05-05", 7, 3)]),
]


@dataclass(frozen=True)
class Expected:
    """One indicator query and its exact answer: `rows` as the API returns them
    (only the keys given are compared) and the `total`."""

    indicator: str
    unit_id: str
    period: str
    total: float
    by: str = ""
    structure: str = "as_was"
    rows: list[dict[str, Any]] = field(default_factory=list)
    programme: str | None = None

    def params(self) -> dict[str, str]:
        params = {"unit_id": self.unit_id, "period": self.period, "structure": self.structure}
        if self.by:
            params["by"] = self.by
        if self.programme:
            params["programme"] = self.programme
        return params


def _sex(female: float, male: float) -> list[dict[str, Any]]:
    return [{"sex": "female", "value": female}, {"sex": "male", "value": male}]


EXPECTED: list[Expected] = [
    # Club members by sex at the end of 2023 (M02 left on 31 Dec, M09 in November,
    # M04 joined in 2024; M03 was corrected to male).
    Expected("club_members", "vn63:20", "2023", 6, "sex", rows=_sex(4, 2)),
    Expected(
        "club_members",
        "vn63:20",
        "2023",
        6,
        "ethnic_minority",
        rows=[{"ethnic_minority": True, "value": 4}, {"ethnic_minority": False, "value": 2}],
    ),
    Expected(
        "club_members",
        "vn63:20",
        "2023",
        6,
        "child_unit",
        rows=[{"unit_id": "vn63:181", "value": 0}, {"unit_id": "vn63:186", "value": 6}],
    ),
    Expected("club_members", "vn63:06433", "2023", 4, "sex", rows=_sex(2, 2)),
    Expected(
        "clubs_active",
        "vn63:20",
        "2023",
        3,
        "kind",
        rows=[{"kind": "school", "value": 2}, {"kind": "community", "value": 1}],
    ),
    Expected("club_members", "vn63:20", "2025H1", 5, "sex", rows=_sex(3, 2)),
    # After the reform, clubs on vn63 units count at their principal successor.
    Expected("club_members", "vn34:20", "2025", 7, "sex", rows=_sex(4, 3)),
    Expected("club_members", "vn63:20", "2025", 0),
    Expected(
        "clubs_active",
        "vn34:20",
        "2025",
        3,
        "child_unit",
        rows=[
            {"unit_id": "vn34:06310", "value": 0},
            {"unit_id": "vn34:06415", "value": 2},
            {"unit_id": "vn34:06440", "value": 1},
        ],
    ),
    # Meetings and participants per quarter (A3 at its version 3; A8 and A9 voided).
    Expected("club_meetings", "vn63:20", "2023Q4", 2),
    Expected("club_meetings", "vn63:20", "2023Q3", 0),
    Expected("communication_sessions", "vn63:20", "2023Q4", 1),
    Expected("communication_sessions", "vn63:20", "2023Q3", 1),
    Expected("communication_participants", "vn63:20", "2023Q4", 55, "sex", rows=_sex(33, 22)),
    Expected("communication_participants", "vn63:20", "2023Q3", 15, "sex", rows=_sex(12, 3)),
    Expected(
        "communication_participants",
        "vn63:20",
        "2023",
        70,
        "ethnic_minority",
        rows=[{"ethnic_minority": True, "value": 40}, {"ethnic_minority": False, "value": 30}],
    ),
    Expected(
        "communication_participants",
        "vn63:20",
        "2023",
        70,
        "child_unit",
        rows=[{"unit_id": "vn63:181", "value": 15}, {"unit_id": "vn63:186", "value": 55}],
    ),
    Expected("people_reached", "vn63:20", "2023", 349, "sex", rows=_sex(211, 138)),
    Expected("people_reached", "vn", "2023", 349, "sex", rows=_sex(211, 138)),
    Expected("trainees", "vn63:20", "2023", 100, "sex", rows=_sex(60, 40)),
    Expected("training_courses", "vn63:20", "2023", 1),
    Expected("training_days", "vn63:20", "2023", 1.5),
    Expected("forum_participants", "vn63:186", "2023", 150, "sex", rows=_sex(90, 60)),
    Expected(
        "support_recipients",
        "vn63:20",
        "2023",
        5,
        "kind",
        rows=[{"kind": "scholarship", "value": 5}, {"kind": "gift", "value": 0}],
    ),
    # Five children, whose sex is not reported: neither female nor male.
    Expected(
        "support_recipients",
        "vn63:20",
        "2023",
        5,
        "sex",
        rows=[
            {"sex": "female", "value": 0},
            {"sex": "male", "value": 0},
            {"sex": None, "value": 5},
        ],
    ),
    Expected("support_value_vnd", "vn63:20", "2023", 15_000_000),
    Expected("budget_vnd", "vn63:20", "2023", 32_500_000),
    Expected("learning_centre_attendance", "vn63:20", "SY2016-2017", 25, "sex", rows=_sex(20, 5)),
    # The school-year rating distribution.
    Expected(
        "learning_centre_ratings",
        "vn63:20",
        "SY2016-2017",
        7,
        "grade",
        rows=[
            {"grade": "excellent", "value": 2},
            {"grade": "good", "value": 4},
            {"grade": "average", "value": 1},
            {"grade": "weak", "value": 0},
        ],
    ),
    Expected("learning_centre_ratings", "vn63:20", "2017Q3", 7),
    Expected("learning_centre_ratings", "vn63:20", "SY2017-2018", 0),
    # The same figures restated onto today's units.
    Expected(
        "communication_participants",
        "vn34:20",
        "2023",
        70,
        "child_unit",
        structure="vn34",
        rows=[
            {"unit_id": "vn34:06310", "value": 15},
            {"unit_id": "vn34:06415", "value": 33},
            {"unit_id": "vn34:06440", "value": 22},
        ],
    ),
    Expected(
        "people_reached", "vn34:20", "2023", 349, "sex", structure="vn34", rows=_sex(211, 138)
    ),
    Expected("club_members", "vn34:20", "2023", 6, "sex", structure="vn34", rows=_sex(4, 2)),
    Expected("club_members", "vn34:06415", "2023", 6, structure="vn34"),
    Expected(
        "learning_centre_ratings",
        "vn34:20",
        "SY2016-2017",
        7,
        "grade",
        structure="vn34",
        rows=[
            {"grade": "excellent", "value": 2},
            {"grade": "good", "value": 4},
            {"grade": "average", "value": 1},
            {"grade": "weak", "value": 0},
        ],
    ),
    # 2025 spans the reform: vn34 combines restated H1 (A10 in the divided commune,
    # A13) with H2 (A11); as_was keeps each half on its own units.
    Expected(
        "communication_participants",
        "vn34:20",
        "2025",
        37,
        "sex",
        structure="vn34",
        rows=_sex(22, 15),
    ),
    Expected(
        "communication_participants",
        "vn34:20",
        "2025",
        37,
        "child_unit",
        structure="vn34",
        rows=[
            {"unit_id": "vn34:06310", "value": 0},
            {"unit_id": "vn34:06415", "value": 20},
            {"unit_id": "vn34:06440", "value": 17},
        ],
    ),
    Expected(
        "communication_participants",
        "vn34:20",
        "2025",
        37,
        "child_unit,sex",
        structure="vn34",
        rows=[
            {"unit_id": "vn34:06310", "sex": "female", "value": 0},
            {"unit_id": "vn34:06310", "sex": "male", "value": 0},
            {"unit_id": "vn34:06415", "sex": "female", "value": 13},
            {"unit_id": "vn34:06415", "sex": "male", "value": 7},
            {"unit_id": "vn34:06440", "sex": "female", "value": 9},
            {"unit_id": "vn34:06440", "sex": "male", "value": 8},
        ],
    ),
    Expected("communication_participants", "vn34:20", "2025", 10),
    Expected("communication_participants", "vn63:20", "2025", 27),
    Expected("communication_participants", "vn", "2025", 37),
    # Counts restated with shares are rounded too: 0.4 of A10 + A11 = 1.4 → 1, and
    # 0.6 of A10 + A13 = 1.6 → 2.
    Expected("communication_sessions", "vn34:06440", "2025", 1, structure="vn34"),
    Expected("communication_sessions", "vn34:06415", "2025", 2, structure="vn34"),
    Expected("communication_sessions", "vn34:20", "2025", 3, structure="vn34"),
]

# GET /v1/reports/targets?programme=P8: indicator, unit, period → (target, actual, %).
EXPECTED_TARGETS = {
    ("trainees", "vn63:20", "2023"): (120, 100, 83.3),
    ("communication_sessions", "vn63:186", "2023Q4"): (4, 1, 25.0),
    ("club_members", "vn63:20", "2023"): (6, 6, 100.0),
    ("training_courses", "vn63:20", "2023"): (0, 1, None),
    ("communication_participants", "vn34:20", "2025"): (40, 37, 92.5),
}

# GET /v1/reports/completeness: (period, level, parent) → {unit: reported}.
EXPECTED_COMPLETENESS = {
    ("2023", "commune", "vn63:20"): {
        "vn63:06300": True,
        "vn63:06433": True,
        "vn63:06436": True,
        "vn63:06445": False,
    },
    ("2023Q4", "commune", "vn63:20"): {
        "vn63:06300": False,
        "vn63:06433": True,
        "vn63:06436": True,
        "vn63:06445": False,
    },
    ("2023", "district", "vn63:20"): {"vn63:181": True, "vn63:186": True},
}
