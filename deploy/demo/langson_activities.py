"""Lạng Sơn's Project 8 activities: club meetings, communication, a forum, training, support.

Before 2025-07-01 on the vn63 units; from then on the same clubs report on the vn34
communes their old communes went into (read from the registry's successors).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from deploy.demo.model import Body, ClubSpec, Refs, activity, between, split

SOURCE = "langson-p8"
DISTRICT_TOWN = "vn63:06385"  # Thị trấn Hữu Lũng, the district seat
DISTRICT_OFFICE = "Phòng Lao động - Thương binh và Xã hội huyện Hữu Lũng"
PROVINCE_OFFICE = "Sở Lao động - Thương binh và Xã hội tỉnh Lạng Sơn"
WOMEN_UNION = "Hội Liên hiệp Phụ nữ huyện Hữu Lũng"
SCHOLARSHIP_VND = 3_000_000

# Lạng Sơn's districts where the 2022 training classes were held.
TRAINING_DISTRICTS = {
    "vn63:178": "Thành phố Lạng Sơn",
    "vn63:180": "Huyện Tràng Định",
    "vn63:181": "Huyện Bình Gia",
    "vn63:183": "Huyện Cao Lộc",
    "vn63:185": "Huyện Bắc Sơn",
    "vn63:186": "Huyện Hữu Lũng",
    "vn63:187": "Huyện Chi Lăng",
    "vn63:188": "Huyện Lộc Bình",
}

MEETING_TOPICS = (
    ("Bình đẳng giới là gì? Vai trò của trẻ em trong thúc đẩy bình đẳng giới", ["gender_equality"]),
    ("Nhận biết và phòng, chống xâm hại trẻ em", ["child_abuse", "life_skills"]),
    ("Phòng, chống tảo hôn và hôn nhân cận huyết thống", ["child_marriage"]),
    ("Phòng, chống bạo lực học đường", ["school_violence"]),
    ("Chăm sóc sức khỏe sinh sản vị thành niên", ["reproductive_health"]),
    ("Định kiến giới trong gia đình và nhà trường", ["gender_equality", "gender_stereotypes"]),
    ("Phòng, chống mua bán người", ["human_trafficking"]),
    ("Kỹ năng thuyết trình và làm việc nhóm", ["life_skills", "leadership"]),
    ("Chia sẻ việc nhà giữa con trai và con gái", ["gender_equality"]),
    ("An toàn trên không gian mạng", ["online_safety", "child_abuse"]),
    ("Lập kế hoạch truyền thông của câu lạc bộ", ["club_planning"]),
    ("Tổng kết hoạt động của câu lạc bộ trong năm", ["club_planning"]),
)
SESSION_TOPICS = (
    ("Tuyên truyền phòng, chống bạo lực học đường", ["school_violence", "gender_equality"]),
    ("Truyền thông phòng, chống tảo hôn và hôn nhân cận huyết thống", ["child_marriage"]),
    ("Truyền thông xóa bỏ định kiến giới, thực hiện bình đẳng giới", ["gender_equality"]),
    ("Truyền thông phòng, chống xâm hại tình dục trẻ em", ["child_abuse"]),
    ("Truyền thông phòng, chống mua bán người", ["human_trafficking"]),
    ("Truyền thông phòng, chống bạo lực gia đình", ["domestic_violence", "gender_equality"]),
)


@dataclass(frozen=True)
class ClubFacts:
    number: int
    club: ClubSpec
    size: int
    female: int
    minority_share: float
    place: str  # where it meets: "Trường THCS Hữu Liên", "nhà văn hóa thôn Lân Bông"
    school_site: str | None  # the school's site id for school clubs

    @property
    def school(self) -> bool:
        return self.club.kind == "school"


def build(refs: Refs, clubs: list[ClubFacts]) -> list[Body]:
    items: list[Body] = []
    for facts in clubs:
        items += meetings(refs, facts)
        items += communication_sessions(facts)
    items.append(forum())
    items += training_courses()
    items += support_deliveries(clubs)
    items += after_reform(refs, clubs)
    return items


def attendance(facts: ClubFacts, *parts: object) -> tuple[int, int, int]:
    """(girls, boys, ethnic minority) of the members at one meeting."""
    present = between(round(facts.size * 0.78), facts.size, facts.club.external_id, *parts)
    girls, boys = split(present, facts.female / facts.size)
    return girls, boys, round(present * facts.minority_share)


def meeting(refs: Refs, facts: ClubFacts, unit_id: str, day: date, index: int) -> Body:
    topic, topics = MEETING_TOPICS[index % len(MEETING_TOPICS)]
    girls, boys, minority = attendance(facts, day)
    role = "student" if facts.school else "adolescent"
    return activity(
        SOURCE,
        f"sh-{facts.club.external_id}-{day:%Y-%m}",
        "club_meeting",
        "P8",
        unit_id,
        f"Sinh hoạt CLB tháng {day.month}/{day.year}: {topic}",
        day,
        club_id=refs.clubs[facts.club.key],
        site_id=facts.school_site,
        organiser=facts.club.name,
        female=girls,
        male=boys,
        ethnic_minority=minority,
        roles={role: girls + boys},
        topics=topics,
        budget_vnd=300_000,
    )


def meeting_day(facts: ClubFacts, year: int, month: int) -> date:
    return date(year, month, min(28, 4 + 2 * facts.number + month % 3))


def meetings(refs: Refs, facts: ClubFacts) -> list[Body]:
    """Monthly in 2023; school clubs break in July and August."""
    months = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12] if facts.school else list(range(1, 13))
    return [
        meeting(refs, facts, facts.club.unit_id, meeting_day(facts, 2023, month), month - 1)
        for month in months
    ]


def communication_session(facts: ClubFacts, unit_id: str, day: date, index: int) -> Body:
    title, topics = SESSION_TOPICS[index % len(SESSION_TOPICS)]
    key = (facts.club.external_id, day)
    if facts.school:
        roles = {
            "student": between(85, 160, *key, "students"),
            "teacher": between(5, 10, *key, "teachers"),
            "parent": between(0, 25, *key, "parents"),
        }
    else:
        roles = {
            "adolescent": between(20, 35, *key, "adolescents"),
            "parent": between(15, 30, *key, "parents"),
            "villager": between(5, 20, *key, "villagers"),
        }
    total = sum(roles.values())
    female, male = split(total, between(50, 60, *key, "female") / 100)
    return activity(
        SOURCE,
        f"tt-{facts.club.external_id}-{day:%Y-%m-%d}",
        "communication_session",
        "P8",
        unit_id,
        f"{title} tại {facts.place}",
        day,
        organiser=facts.club.name,
        female=female,
        male=male,
        ethnic_minority=round(total * facts.minority_share),
        roles=roles,
        topics=topics,
        budget_vnd=2_500_000 if facts.school else 2_000_000,
    )


def communication_sessions(facts: ClubFacts) -> list[Body]:
    """Three per club in 2023: 30 in all."""
    months = (3, 10, 11) if facts.school else (4, 8, 12)
    return [
        communication_session(
            facts, facts.club.unit_id, date(2023, month, 10 + facts.number), facts.number + i
        )
        for i, month in enumerate(months)
    ]


def forum() -> Body:
    return activity(
        SOURCE,
        "dd-hl-2023",
        "forum",
        "P8",
        DISTRICT_TOWN,
        'Diễn đàn trẻ em huyện Hữu Lũng năm 2023: "Thủ lĩnh của sự thay đổi" '
        "lên tiếng vì bình đẳng giới",
        date(2023, 11, 16),
        organiser=DISTRICT_OFFICE,
        female=88,
        male=62,
        ethnic_minority=81,
        roles={"student": 118, "teacher": 18, "official": 14},
        topics=["gender_equality", "child_participation"],
        budget_vnd=30_000_000,
    )


def training_courses() -> list[Body]:
    """2022: 860 officials in 8 classes of 1.5 days, one per district (plan: 900 in 10)."""
    sizes = (110, 105, 108, 107, 112, 106, 104, 108)
    items = []
    for index, ((unit_id, district), size) in enumerate(
        zip(TRAINING_DISTRICTS.items(), sizes, strict=True)
    ):
        start = date(2022, 6, 14) + timedelta(days=7 * index)
        female, male = split(size, between(48, 58, unit_id, "female") / 100)
        commune, village = round(size * 0.4), round(size * 0.45)
        items.append(
            activity(
                SOURCE,
                f"th-2022-{index + 1:02d}",
                "training_course",
                "P8",
                unit_id,
                "Tập huấn nâng cao năng lực về bình đẳng giới và phòng, chống bạo lực "
                f"trên cơ sở giới cho cán bộ cơ sở ({district})",
                start,
                start + timedelta(days=1),
                organiser=PROVINCE_OFFICE,
                female=female,
                male=male,
                ethnic_minority=round(size * between(65, 85, unit_id, "minority") / 100),
                roles={
                    "commune_official": commune,
                    "village_head": village,
                    "collaborator": size - commune - village,
                },
                topics=["gender_equality", "gender_based_violence"],
                budget_vnd=42_000_000,
                sessions=1,
                duration_days=1.5,
            )
        )
    return items


def support(
    external_id: str,
    unit_id: str,
    title: str,
    day: date,
    kind: str,
    women: int,
    children: int,
    each_vnd: int,
    organiser: str,
    site_id: str | None = None,
) -> Body:
    return activity(
        SOURCE,
        external_id,
        "support_delivery",
        "P8",
        unit_id,
        title,
        day,
        organiser=organiser,
        site_id=site_id,
        support_kind=kind,
        beneficiaries={"women": women, "children": children},
        value_vnd=(women + children) * each_vnd,
    )


def scholarships(facts: ClubFacts, unit_id: str, day: date, children: int) -> Body:
    return support(
        f"hb-{facts.club.external_id}-{day.year}",
        unit_id,
        "Trao học bổng 3.000.000 đồng cho học sinh nữ dân tộc thiểu số có hoàn cảnh khó khăn",
        day,
        "scholarship",
        0,
        children,
        SCHOLARSHIP_VND,
        DISTRICT_OFFICE,
        facts.school_site,
    )


def support_deliveries(clubs: list[ClubFacts]) -> list[Body]:
    items = [
        support(
            "qt-hl-2023",
            "vn63:186",
            "Tặng quà Tết Quý Mão cho phụ nữ và trẻ em có hoàn cảnh đặc biệt khó khăn",
            date(2023, 1, 12),
            "gift",
            20,
            60,
            500_000,
            WOMEN_UNION,
        )
    ]
    for facts in clubs:
        if facts.school:
            items.append(scholarships(facts, facts.club.unit_id, date(2023, 9, 5), 3))
            continue
        village = facts.club.unit_id
        items.append(
            support(
                f"qt-{facts.club.external_id}-2023-06",
                village,
                "Tặng quà trẻ em có hoàn cảnh khó khăn nhân ngày Quốc tế thiếu nhi 1/6",
                date(2023, 6, 1),
                "gift",
                0,
                between(18, 26, village, "gifts"),
                300_000,
                WOMEN_UNION,
            )
        )
        items.append(
            support(
                f"yt-{facts.club.external_id}-2023-03",
                village,
                "Khám sức khỏe sinh sản miễn phí cho phụ nữ có hoàn cảnh khó khăn",
                date(2023, 3, 8),
                "health",
                between(10, 16, village, "health"),
                0,
                400_000,
                WOMEN_UNION,
            )
        )
    return items


def after_reform(refs: Refs, clubs: list[ClubFacts]) -> list[Body]:
    """From 2025-07-01 the clubs report on the vn34 communes (principal successors)."""
    items: list[Body] = []
    for facts in clubs:
        new_unit = refs.successor(facts.club.unit_id)
        for index, month in enumerate((9, 10, 11)):
            items.append(meeting(refs, facts, new_unit, meeting_day(facts, 2025, month), index))
        if facts.number in (1, 3, 9, 10):
            day = date(2025, 10 + facts.number % 3, 12 + facts.number)
            items.append(communication_session(facts, new_unit, day, facts.number + 3))
        if not facts.school:
            items.append(scholarships(facts, new_unit, date(2025, 9, 5), 4 + facts.number % 2))
    return items
