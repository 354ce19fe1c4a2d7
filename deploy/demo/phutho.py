"""Phú Thọ (vn63:25): community learning centres (trung tâm học tập cộng đồng, CLC).

The province reported 277 centres, 3,200 classes and about 300,000 attendances in school
year 2016-2017, and rated its centres 83 excellent, 164 good and 30 average. This is a
sample of 12 centres in Yên Lập and Tân Sơn, rated in about the same proportions.
"""

from __future__ import annotations

from datetime import date, timedelta

from deploy.demo.model import Body, Plan, Refs, SiteSpec, activity, between, split

SOURCE = "phutho-clc"
SCHOOL_YEAR = "2016-2017"

# district → (district name, {commune id: commune name})
CENTRES = {
    "vn63:234": (
        "Huyện Yên Lập",
        {
            "vn63:08293": "Xã Mỹ Lung",
            "vn63:08296": "Xã Mỹ Lương",
            "vn63:08302": "Xã Xuân An",
            "vn63:08311": "Xã Trung Sơn",
            "vn63:08317": "Xã Nga Hoàng",
            "vn63:08335": "Xã Ngọc Lập",
        },
    ),
    "vn63:240": (
        "Huyện Tân Sơn",
        {
            "vn63:08545": "Xã Thu Cúc",
            "vn63:08554": "Xã Kiệt Sơn",
            "vn63:08590": "Xã Xuân Đài",
            "vn63:08593": "Xã Minh Đài",
            "vn63:08596": "Xã Văn Luông",
            "vn63:08608": "Xã Long Cốc",
        },
    ),
}
GRADES = (
    "excellent",
    "good",
    "good",
    "excellent",
    "good",
    "average",
    "good",
    "excellent",
    "good",
    "good",
    "excellent",
    "good",
)
CLASSES = (
    ("Lớp tập huấn kỹ thuật trồng và chăm sóc chè", ["agriculture"]),
    ("Lớp kỹ thuật chăn nuôi gà thả vườn, phòng bệnh cho gia cầm", ["agriculture"]),
    ("Lớp phổ biến Luật Bình đẳng giới và Luật Phòng, chống bạo lực gia đình", ["legal"]),
    ("Lớp chuyên đề chăm sóc sức khỏe bà mẹ và trẻ em", ["health", "nutrition"]),
    ("Lớp xóa mù chữ và chống tái mù chữ cho phụ nữ", ["literacy", "gender_equality"]),
    ("Lớp kỹ thuật trồng keo và bảo vệ rừng", ["forestry"]),
    ("Lớp hướng dẫn làm hồ sơ vay vốn phát triển kinh tế hộ gia đình", ["livelihoods"]),
    ("Lớp phòng, chống tảo hôn và hôn nhân cận huyết thống", ["child_marriage"]),
)
# Months of the school year in which the centres held their classes.
MONTHS = ((2016, 9), (2016, 10), (2016, 12), (2017, 3), (2017, 5), (2017, 7))


def centres() -> list[tuple[str, str, str, str]]:
    """(district id, district name, commune id, commune name) of every centre."""
    return [
        (district, district_name, commune, commune_name)
        for district, (district_name, communes) in CENTRES.items()
        for commune, commune_name in communes.items()
    ]


def site(commune: str, commune_name: str) -> SiteSpec:
    name = f"Trung tâm học tập cộng đồng {commune_name[:1].lower()}{commune_name[1:]}"
    return SiteSpec(SOURCE, f"tthtcd-{commune[5:]}", "learning_centre", name, commune)


def plan() -> Plan:
    result = Plan(
        expected_units={district: communes for district, (_, communes) in CENTRES.items()},
        sites=[site(commune, name) for _, _, commune, name in centres()],
        targets={
            "CLC": [
                {"indicator": indicator, "unit_id": "vn63:25", "period": "SY2016-2017", "value": v}
                for indicator, v in (
                    ("learning_centre_classes", 70),
                    ("learning_centre_attendance", 6_000),
                )
            ]
        },
    )
    result.activities = activities
    return result


def activities(refs: Refs) -> list[Body]:
    items: list[Body] = []
    for index, (_, district_name, commune, commune_name) in enumerate(centres()):
        centre = site(commune, commune_name)
        site_id = refs.sites[centre.key]
        # Yên Lập is mostly Mường; Tân Sơn Mường and Dao.
        minority = between(62, 72, commune) if index < 6 else between(75, 88, commune)
        for number, (year, month) in enumerate(MONTHS):
            title, topics = CLASSES[(index + number) % len(CLASSES)]
            start = date(year, month, between(3, 24, commune, month))
            days = between(1, 3, commune, month, "days")
            total = between(55, 130, commune, month, "people")
            female, male = split(total, between(55, 70, commune, month, "female") / 100)
            items.append(
                activity(
                    SOURCE,
                    f"lop-{commune[5:]}-{year}{month:02d}",
                    "learning_centre_class",
                    "CLC",
                    commune,
                    title,
                    start,
                    start + timedelta(days=days - 1),
                    organiser=centre.name,
                    site_id=site_id,
                    female=female,
                    male=male,
                    ethnic_minority=round(total * minority / 100),
                    topics=topics,
                    budget_vnd=between(2, 6, commune, month, "budget") * 1_000_000,
                )
            )
        items.append(
            activity(
                SOURCE,
                f"xl-{commune[5:]}-{SCHOOL_YEAR}",
                "learning_centre_rating",
                "CLC",
                commune,
                f"Đánh giá, xếp loại {centre.name[:1].lower()}{centre.name[1:]} "
                f"năm học {SCHOOL_YEAR}",
                date(2017, 6, 20),
                organiser=f"Phòng Giáo dục và Đào tạo {district_name[:1].lower()}"
                f"{district_name[1:]}",
                site_id=site_id,
                school_year=SCHOOL_YEAR,
                grade=GRADES[index],
            )
        )
    return items
