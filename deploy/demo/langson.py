"""Lạng Sơn, Huyện Hữu Lũng (vn63:186): Leaders of Change clubs of Project 8.

From the province's report: 10 clubs "Thủ lĩnh của sự thay đổi" with 257 members
(154 girls, 103 boys), 8 in lower secondary schools of region-III communes and 2 in
especially difficult villages of Vân Nham and Đồng Tiến. The members' codes are
pseudonymous (LS-HL-0001 …); no names are sent. The clubs' activities are in
`langson_activities`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from deploy.demo.langson_activities import DISTRICT_TOWN, TRAINING_DISTRICTS, ClubFacts, build
from deploy.demo.model import (
    Body,
    ClubSpec,
    Key,
    Plan,
    Refs,
    SiteSpec,
    choose,
    fraction,
    is_nth_of,
)

SOURCE = "langson-p8"
PROVINCE = "vn63:20"
DISTRICT = "vn63:186"

# Decision 861/QĐ-TTg (4 June 2021) classified communes by region for 2021-2025, and
# Decision 612/QĐ-UBDT (16 September 2021) listed especially difficult villages; both
# lists end with the vn63 units on 2025-06-30. The communes' regions and the two villages
# below are illustrative, not copied from those decisions.
REGION_FROM = "2021-06-04"
DIFFICULT_FROM = "2021-09-16"
VN63_LAST_DAY = "2025-06-30"

# Hữu Lũng is Kinh, Nùng and Tày, with Dao and Sán Chay minorities (ethnicity codes of
# GET /v1/ethnicities: 07 Nùng, 02 Tày, 09 Dao, 15 Sán Chay).
MINORITY_GROUPS = (("07", 50.0), ("02", 36.0), ("09", 9.0), ("15", 5.0))
KINH = "01"


@dataclass(frozen=True)
class ClubPlace:
    commune_id: str
    commune: str  # without "Xã "
    region: str
    size: int
    female: int
    minority_share: float
    village: tuple[str, str] | None = None  # (code, name) for a community club

    @property
    def unit_id(self) -> str:
        return f"{self.commune_id}.{self.village[0]}" if self.village else self.commune_id


# Sizes add up to 257 and girls to 154.
CLUB_PLACES = (
    ClubPlace("vn63:06388", "Hữu Liên", "III", 27, 16, 0.78),
    ClubPlace("vn63:06400", "Yên Thịnh", "III", 26, 16, 0.70),
    ClubPlace("vn63:06406", "Thiện Tân", "III", 26, 15, 0.58),
    ClubPlace("vn63:06412", "Yên Vượng", "III", 25, 15, 0.52),
    ClubPlace("vn63:06397", "Hòa Bình", "III", 26, 16, 0.62),
    ClubPlace("vn63:06394", "Quyết Thắng", "III", 27, 16, 0.56),
    ClubPlace("vn63:06421", "Thanh Sơn", "III", 25, 15, 0.40),
    ClubPlace("vn63:06442", "Tân Thành", "III", 26, 15, 0.38),
    ClubPlace("vn63:06433", "Vân Nham", "II", 25, 15, 0.72, ("T05", "Thôn Lân Bông")),
    ClubPlace("vn63:06436", "Đồng Tiến", "II", 24, 15, 0.64, ("T03", "Thôn Đồng Chằm")),
)


def lower_first(name: str) -> str:
    """Lower-case the first letter, inside a longer name: "Thôn Lân Bông" → "thôn Lân Bông"."""
    return name[:1].lower() + name[1:]


def club_key(number: int) -> Key:
    return (SOURCE, f"tltd-hl-{number:02d}")


def site_of(place: ClubPlace) -> SiteSpec:
    if place.village:
        code, village = place.village
        return SiteSpec(
            SOURCE,
            f"nvh-{place.commune_id[5:]}-{code}",
            "community",
            f"Nhà văn hóa {lower_first(village)}, xã {place.commune}",
            place.unit_id,
        )
    return SiteSpec(
        SOURCE,
        f"thcs-{place.commune_id[5:]}",
        "school",
        f"Trường THCS {place.commune}",
        place.commune_id,
    )


def club_of(number: int, place: ClubPlace) -> ClubSpec:
    site = site_of(place)
    if place.village:
        village = lower_first(place.village[1])
        name = f"CLB Thủ lĩnh của sự thay đổi {village}, xã {place.commune}"
        established = date(2022, 11, 10 + number)
    else:
        name = f"CLB Thủ lĩnh của sự thay đổi Trường THCS {place.commune}"
        established = date(2022, 10, 3 + 2 * number)
    return ClubSpec(
        SOURCE,
        club_key(number)[1],
        name,
        "community" if place.village else "school",
        place.unit_id,
        site.key,
        "P8",
        established,
    )


def members_of(first_number: int, club: ClubSpec, place: ClubPlace) -> list[Body]:
    """Pseudonymous members: girls spread evenly, minorities exactly at the club's share."""
    minorities = round(place.size * place.minority_share)
    order = sorted(range(place.size), key=lambda i: fraction(club.external_id, "ethnic", i))
    minority_positions = set(order[:minorities])
    oldest, youngest = (2006, 2011) if place.village else (2009, 2011)
    members: list[Body] = []
    for index in range(place.size):
        code = f"LS-HL-{first_number + index:04d}"
        ethnicity = choose(MINORITY_GROUPS, code, "group") if index in minority_positions else KINH
        late = fraction(code, "joined")
        joined = club.established_on
        if late > 0.9:
            joined = date(2023, 9, 18)
        elif late > 0.8:
            joined = date(2023, 2, 13)
        members.append(
            {
                "member_code": code,
                "sex": "female" if is_nth_of(index, place.female, place.size) else "male",
                "birth_year": oldest + int(fraction(code, "born") * (youngest - oldest + 1)),
                "ethnicity": ethnicity,
                "joined_on": joined.isoformat(),
            }
        )
    return members


def plan() -> Plan:
    result = Plan()
    result.expected_units[DISTRICT] = {
        place.commune_id: f"Xã {place.commune}" for place in CLUB_PLACES
    }
    result.expected_units[PROVINCE] = dict(TRAINING_DISTRICTS)
    number_of_first_member = 1
    for number, place in enumerate(CLUB_PLACES, start=1):
        result.classifications.append(
            (
                place.commune_id,
                "region",
                {"value": place.region, "valid_from": REGION_FROM, "valid_to": VN63_LAST_DAY},
            )
        )
        if place.village:
            code, name = place.village
            result.villages.append({"parent_id": place.commune_id, "code": code, "name": name})
            result.classifications.append(
                (
                    place.unit_id,
                    "especially_difficult",
                    {"value": True, "valid_from": DIFFICULT_FROM, "valid_to": VN63_LAST_DAY},
                )
            )
        result.sites.append(site_of(place))
        club = club_of(number, place)
        result.clubs.append(club)
        result.members[club.key] = members_of(number_of_first_member, club, place)
        number_of_first_member += place.size
        result.reformed_units.append(place.commune_id)
    result.targets["P8"] = targets()

    result.expected_units[DISTRICT][DISTRICT_TOWN] = "Thị trấn Hữu Lũng"
    result.activities = lambda refs: build(refs, club_facts(refs, result.clubs))
    return result


def club_facts(refs: Refs, clubs: list[ClubSpec]) -> list[ClubFacts]:
    facts = []
    for number, (club, place) in enumerate(zip(clubs, CLUB_PLACES, strict=True), start=1):
        site = site_of(place)
        facts.append(
            ClubFacts(
                number=number,
                club=club,
                size=place.size,
                female=place.female,
                minority_share=place.minority_share,
                place=lower_first(site.name) if place.village else site.name,
                school_site=None if place.village else refs.sites[site.key],
            )
        )
    return facts


def targets() -> list[Body]:
    """Project 8's plan for Lạng Sơn: the 2022 training plan was 900 trainees in 10 classes."""
    plan = [
        ("trainees", PROVINCE, "2022", 900),
        ("training_courses", PROVINCE, "2022", 10),
        ("training_days", PROVINCE, "2022", 15),
        ("clubs_active", DISTRICT, "2023", 10),
        ("club_members", DISTRICT, "2023", 250),
        ("club_meetings", DISTRICT, "2023", 120),
        ("communication_sessions", DISTRICT, "2023", 30),
        ("forum_participants", DISTRICT, "2023", 150),
        ("support_recipients", DISTRICT, "2023", 150),
        # After the reform the plan is set on the new province.
        ("club_meetings", "vn34:20", "2025H2", 40),
        ("communication_sessions", "vn34:20", "2025H2", 6),
    ]
    return [
        {"indicator": indicator, "unit_id": unit, "period": period, "value": value}
        for indicator, unit, period, value in plan
    ]
