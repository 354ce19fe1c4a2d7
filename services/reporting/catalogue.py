"""The indicator catalogue: what each code counts, how it is measured and split.

Every definition below is the written rule the figures follow (docs/reporting.md
repeats them with examples). Flow indicators sum facts (one per activity, latest
version, voided ones excluded) whose *reference date* lies in the period: the
`started_on` of the activity (a multi-day activity counts once, in the period in which
it started), except learning-centre ratings, which are dated by the last day of their
school year (31 August). Stock indicators (clubs, members) are counted at the last
day of the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.contracts import ACTIVITY_TYPES, RATING_GRADES, SUPPORT_KINDS
from shared.contracts.indicators import INDICATOR_CODES

Kind = Literal["flow", "clubs", "members"]
# What a flow indicator adds up on each fact.
Quantity = Literal["count", "participants", "recipients", "value_vnd", "budget_vnd", "days"]

# Splits of time, derived from the month of each fact (flows only: a stock counted at
# the end of each quarter would not add up to the stock at the end of the year).
TIME_DIMENSIONS = ("month", "quarter", "year", "school_year")
# Splits of place: the asked unit's children, or its units at one level.
LEVELS = ("province", "district", "commune")
LEVEL_DIMENSIONS = tuple(f"level:{level}" for level in LEVELS)
UNIT_DIMENSIONS = ("child_unit", *LEVEL_DIMENSIONS)
DIMENSIONS = ("sex", "ethnic_minority", "kind", "grade", *UNIT_DIMENSIONS, *TIME_DIMENSIONS)

_PLACE_AND_TIME = (*UNIT_DIMENSIONS, *TIME_DIMENSIONS)
_FLOW_DIMS = _PLACE_AND_TIME
_PEOPLE_DIMS = ("sex", "ethnic_minority", *_PLACE_AND_TIME)


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    name_vi: str
    measure: str
    kind: Kind
    disaggregations: tuple[str, ...]
    definition: str
    # The unit of measure as Vietnamese reports write it (Đơn vị tính).
    measure_vi: str = ""
    types: tuple[str, ...] = ()
    quantity: Quantity = "count"
    # The fact field that `by=kind` splits on, for flow indicators.
    kind_field: str | None = None
    # Values `by=kind` always lists (others appear when data has them).
    kind_values: tuple[str, ...] = ()

    @property
    def people(self) -> bool:
        return self.quantity == "participants" or self.kind == "members"


CLUB_KINDS = ("school", "community")
GRADES = RATING_GRADES


def _count(
    code: str, name: str, name_vi: str, activity: str, what: str, measure_vi: str
) -> Indicator:
    return Indicator(
        code,
        name,
        name_vi,
        "activities",
        "flow",
        _FLOW_DIMS,
        f"Number of {what}: `{activity}` activities (latest version, not voided) whose "
        "`started_on` lies in the period, at the unit or anywhere below it.",
        measure_vi,
        types=(activity,),
    )


def _people(code: str, name: str, name_vi: str, activity: str, who: str) -> Indicator:
    return Indicator(
        code,
        name,
        name_vi,
        "people",
        "flow",
        _PEOPLE_DIMS,
        f"{who}: the sum of `participants.female` + `participants.male` of `{activity}` "
        "activities whose `started_on` lies in the period. A person attending two "
        "activities counts twice (attendances, not distinct people).",
        "lượt người",
        types=(activity,),
        quantity="participants",
    )


CATALOGUE: tuple[Indicator, ...] = (
    Indicator(
        "clubs_active",
        "Active clubs",
        "Số câu lạc bộ đang hoạt động",
        "clubs",
        "clubs",
        ("kind", *UNIT_DIMENSIONS),
        "Clubs existing on the last day of the period: `established_on` ≤ end and "
        "(`dissolved_on` is empty or > end). `kind` is the club's kind (school, community).",
        "câu lạc bộ",
        kind_values=CLUB_KINDS,
    ),
    Indicator(
        "club_members",
        "Club members",
        "Số thành viên câu lạc bộ",
        "people",
        "members",
        ("sex", "ethnic_minority", "kind", *UNIT_DIMENSIONS),
        "Members on the last day of the period: `joined_on` ≤ end and (`left_on` is "
        "empty or > end), in a club that exists on that day (as for clubs_active).",
        "người",
        kind_values=CLUB_KINDS,
    ),
    _count(
        "club_meetings",
        "Club meetings",
        "Số buổi sinh hoạt câu lạc bộ",
        "club_meeting",
        "club meetings",
        "buổi",
    ),
    _count(
        "communication_sessions",
        "Communication sessions",
        "Số buổi truyền thông",
        "communication_session",
        "communication sessions",
        "buổi",
    ),
    _people(
        "communication_participants",
        "Communication participants",
        "Số lượt người tham dự truyền thông",
        "communication_session",
        "Attendances at communication sessions",
    ),
    _count(
        "training_courses",
        "Training courses",
        "Số lớp tập huấn",
        "training_course",
        "training courses",
        "lớp",
    ),
    _people(
        "trainees",
        "Trainees",
        "Số lượt học viên tập huấn",
        "training_course",
        "Trainees (the participants of training courses)",
    ),
    Indicator(
        "training_days",
        "Training days",
        "Số ngày tập huấn",
        "days",
        "flow",
        _FLOW_DIMS,
        "The sum of `duration_days` of `training_course` activities whose `started_on` "
        "lies in the period (course-days, not trainee-days).",
        "ngày",
        types=("training_course",),
        quantity="days",
    ),
    _count("forums", "Forums", "Số diễn đàn", "forum", "forums", "diễn đàn"),
    _people(
        "forum_participants",
        "Forum participants",
        "Số lượt người tham dự diễn đàn",
        "forum",
        "Attendances at forums",
    ),
    Indicator(
        "support_recipients",
        "Support recipients",
        "Số lượt phụ nữ và trẻ em được hỗ trợ",
        "people",
        "flow",
        ("sex", "kind", *_PLACE_AND_TIME),
        "Women and children supported: the sum of `beneficiaries.women` + "
        "`beneficiaries.children` of `support_delivery` activities whose `started_on` lies "
        "in the period. `kind` is the `support_kind`. By `sex`: women are `female`, "
        "`male` is 0, and children, reported without their sex, are in a row with "
        "`sex: null`.",
        "lượt người",
        types=("support_delivery",),
        quantity="recipients",
        kind_field="support_kind",
        kind_values=SUPPORT_KINDS,
    ),
    Indicator(
        "support_value_vnd",
        "Value of support (VND)",
        "Giá trị hỗ trợ (đồng)",
        "VND",
        "flow",
        ("kind", *_PLACE_AND_TIME),
        "The sum of `value_vnd` of `support_delivery` activities whose `started_on` lies "
        "in the period; `kind` is the `support_kind`.",
        "đồng",
        types=("support_delivery",),
        quantity="value_vnd",
        kind_field="support_kind",
        kind_values=SUPPORT_KINDS,
    ),
    _count(
        "school_exchanges",
        "School exchanges",
        "Số chuyến giao lưu giữa các trường",
        "school_exchange",
        "school exchanges (cross-visits)",
        "chuyến",
    ),
    _count(
        "learning_centre_classes",
        "Learning centre classes",
        "Số lớp học tại trung tâm học tập cộng đồng",
        "learning_centre_class",
        "classes held in community learning centres",
        "lớp",
    ),
    _people(
        "learning_centre_attendance",
        "Learning centre attendance",
        "Số lượt người học tại trung tâm học tập cộng đồng",
        "learning_centre_class",
        "Attendances at learning-centre classes",
    ),
    Indicator(
        "learning_centre_ratings",
        "Learning centre ratings",
        "Xếp loại trung tâm học tập cộng đồng",
        "ratings",
        "flow",
        ("grade", *_PLACE_AND_TIME),
        "Number of `learning_centre_rating` activities, dated by the last day of their "
        "`school_year` (31 August): `SY2016-2017` counts the ratings of school year "
        "2016-2017, and so does any period containing 2017-08-31. `grade` splits them "
        "into excellent, good, average and weak.",
        "lượt xếp loại",
        types=("learning_centre_rating",),
    ),
    Indicator(
        "people_reached",
        "People reached",
        "Số lượt người được tiếp cận",
        "people",
        "flow",
        ("sex", "ethnic_minority", "kind", *_PLACE_AND_TIME),
        "All participants (`female` + `male`) of activities of every type whose reference "
        "date lies in the period; `kind` is the activity type. Attendances, not distinct "
        "people; support beneficiaries are not participants (see support_recipients).",
        "lượt người",
        types=ACTIVITY_TYPES,
        quantity="participants",
        kind_field="type",
        kind_values=ACTIVITY_TYPES,
    ),
    Indicator(
        "budget_vnd",
        "Budget spent (VND)",
        "Kinh phí (đồng)",
        "VND",
        "flow",
        ("kind", *_PLACE_AND_TIME),
        "The sum of `budget_vnd` of activities of every type whose reference date lies in "
        "the period; `kind` is the activity type.",
        "đồng",
        types=ACTIVITY_TYPES,
        quantity="budget_vnd",
        kind_field="type",
        kind_values=ACTIVITY_TYPES,
    ),
)

INDICATORS: dict[str, Indicator] = {indicator.code: indicator for indicator in CATALOGUE}
if not all(indicator.measure_vi for indicator in CATALOGUE):
    raise RuntimeError("every indicator needs its unit of measure in Vietnamese")
if tuple(INDICATORS) != INDICATOR_CODES:
    raise RuntimeError("the reporting catalogue must define every indicator code, in order")
