"""Hà Giang, Huyện Hoàng Su Phì (vn63:032): cross-visits of the Safe-Friendly-Equal
schools project (SFES, "Trường học An toàn - Thân thiện - Bình đẳng").

Hà Giang went into Tuyên Quang (vn34:08) on 2025-07-01; the last exchange is reported on
the vn34 commune the host school's commune went into.
"""

from __future__ import annotations

from datetime import date

from deploy.demo.model import Body, Plan, Refs, SiteSpec, activity, between, split

SOURCE = "hagiang-sfes"
DISTRICT = "vn63:032"
ORGANISER = "Phòng Giáo dục và Đào tạo huyện Hoàng Su Phì"

# commune id → (commune name, school name)
SCHOOLS = {
    "vn63:01021": ("Thị trấn Vinh Quang", "Trường THCS Vinh Quang"),
    "vn63:01063": ("Xã Bản Luốc", "Trường PTDTBT THCS Bản Luốc"),
    "vn63:01048": ("Xã Tụ Nhân", "Trường PTDTBT THCS Tụ Nhân"),
    "vn63:01057": ("Xã Pờ Ly Ngài", "Trường PTDTBT THCS Pờ Ly Ngài"),
    "vn63:01090": ("Xã Thông Nguyên", "Trường PTDTBT THCS Thông Nguyên"),
}

# (day, host commune, guest communes, theme)
EXCHANGES = (
    (
        date(2023, 4, 20),
        "vn63:01021",
        ("vn63:01063", "vn63:01048"),
        "Giao lưu “Trường học an toàn, thân thiện, bình đẳng”: phòng, chống bạo lực học đường",
    ),
    (
        date(2023, 11, 9),
        "vn63:01057",
        ("vn63:01021",),
        "Giao lưu chia sẻ kinh nghiệm xây dựng trường học bình đẳng giới",
    ),
    (
        date(2024, 3, 28),
        "vn63:01090",
        ("vn63:01057", "vn63:01063"),
        "Giao lưu văn nghệ, thể thao “Trường em an toàn, thân thiện”",
    ),
    (
        date(2024, 10, 17),
        "vn63:01048",
        ("vn63:01090",),
        "Giao lưu kỹ năng phòng, chống xâm hại cho học sinh bán trú",
    ),
    (
        date(2025, 10, 23),
        "vn63:01063",
        ("vn63:01021", "vn63:01048"),
        "Giao lưu “Trường học an toàn, thân thiện, bình đẳng” năm học 2025-2026",
    ),
)


def site(commune_id: str) -> SiteSpec:
    return SiteSpec(SOURCE, f"thcs-{commune_id[5:]}", "school", SCHOOLS[commune_id][1], commune_id)


def plan() -> Plan:
    result = Plan(
        expected_units={DISTRICT: {unit: names[0] for unit, names in SCHOOLS.items()}},
        sites=[site(commune) for commune in SCHOOLS],
        reformed_units=[host for day, host, _, _ in EXCHANGES if day >= date(2025, 7, 1)],
    )
    result.activities = exchanges
    return result


def exchanges(refs: Refs) -> list[Body]:
    items = []
    for day, host, guests, title in EXCHANGES:
        key = (host, day)
        students = between(40, 90, *key, "students")
        teachers = between(6, 14, *key, "teachers")
        total = students + teachers
        female, male = split(total, between(48, 56, *key, "female") / 100)
        unit_id = host if day < date(2025, 7, 1) else refs.successor(host)
        items.append(
            activity(
                SOURCE,
                f"gl-{day:%Y%m%d}-{host[5:]}",
                "school_exchange",
                "SFES",
                unit_id,
                f"{title} tại {SCHOOLS[host][1]}",
                day,
                organiser=ORGANISER,
                site_id=refs.sites[site(host).key],
                partner_site_ids=[refs.sites[site(guest).key] for guest in guests],
                female=female,
                male=male,
                # Nùng, Dao, La Chí, HMông, Pà Thẻn: almost everyone is of a minority.
                ethnic_minority=round(total * between(88, 97, *key, "minority") / 100),
                roles={"student": students, "teacher": teachers},
                topics=["school_safety", "gender_equality", "school_violence"],
                budget_vnd=between(8, 15, *key, "budget") * 1_000_000,
            )
        )
    return items
