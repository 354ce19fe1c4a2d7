"""The rules an activity must meet beyond its schema: references, editions, dates.

`validate` is pure: it reads the in-memory reference data and a date, and returns a
`Verdict` with field-level errors (definite problems), the references not known yet
(the activity waits for them as `pending_reference`), and where the activity lies.
Locations in errors are relative to the activity body (`["club_id"]`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.events.reference_cache import (
    CLUB,
    PROGRAMME,
    SITE,
    UNIT,
    ReferenceCache,
    reference_key,
    split_key,
)
from shared.contracts.activities import (
    ACTIVITY_MODELS,
    ActivityBase,
    LearningCentreRating,
    SchoolExchange,
    SupportDelivery,
)
from shared.edge.dates import future_date_error
from shared.edge.i18n import say
from shared.units import LAST_DAY_VN63, NATION_ID, REFORM_DATE, edition_on, parse_unit_id

# The kind of site each type needs (`site_id`, and a school exchange's partners).
SITE_KIND_BY_TYPE = {
    "learning_centre_class": "learning_centre",
    "learning_centre_rating": "learning_centre",
    "school_exchange": "school",
}
INVALID = "invalid-activity"
WRONG_EDITION = "wrong-unit-edition"

FieldError = dict[str, Any]
_TYPE_OF_MODEL = {model: name for name, model in ACTIVITY_MODELS.items()}


def type_of(activity: ActivityBase) -> str:
    return _TYPE_OF_MODEL[type(activity)]


def field_error(loc: list[str | int], msg: str) -> FieldError:
    return {"loc": loc, "msg": msg}


@dataclass
class Verdict:
    errors: list[FieldError] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    province_id: str | None = None
    lineage: list[str] = field(default_factory=list)
    kind: str = INVALID
    # For a wrong-edition unit: the units to use instead, `[{unit_id, share, name}]`.
    successors: list[dict[str, Any]] | None = None
    predecessors: list[dict[str, Any]] | None = None
    # For an unknown reference refused at once: the first one's field and value.
    unknown: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return not self.errors and not self.missing

    @property
    def pending(self) -> bool:
        return not self.errors and bool(self.missing)

    def detail(self) -> str:
        """One sentence for a problem's `detail`: the first error, and how many more."""
        if not self.errors:
            return say("The activity is valid.", "Hoạt động hợp lệ.")
        first = self.errors[0]["msg"]
        more = len(self.errors) - 1
        if more == 0:
            return str(first)
        return str(first) + say(
            f" (and {more} more; see `errors`)", f" (và {more} lỗi khác; xem `errors`)"
        )


def validate(activity: ActivityBase, refs: ReferenceCache, today: date) -> Verdict:
    verdict = Verdict()
    _check_dates(activity, today, verdict)
    _check_unit(activity, refs, verdict)
    if activity.programme not in refs.programmes:
        verdict.missing.append(reference_key(PROGRAMME, activity.programme))
    _check_club(activity, refs, verdict)
    _check_sites(activity, refs, verdict)
    _check_type_rules(activity, verdict)
    return verdict


_FIELDS = {UNIT: "unit_id", PROGRAMME: "programme", CLUB: "club_id", SITE: "site_id"}
_WORDS = {
    UNIT: ("unit", "đơn vị hành chính"),
    PROGRAMME: ("programme", "chương trình"),
    CLUB: ("club", "câu lạc bộ"),
    SITE: ("site", "điểm (cơ sở)"),
}


def refuse_missing(activity: ActivityBase, verdict: Verdict) -> None:
    """Turn references the replica does not know into errors naming field and value.

    Used unless the client opted in to pending (`?allow_pending=true`): a mistyped
    club id or an unknown programme is answered at once, not 24 hours later.
    """
    if not verdict.missing:
        return
    first_kind = split_key(verdict.missing[0])[0]
    for key in verdict.missing:
        kind, value = split_key(key)
        loc: list[str | int] = [_FIELDS[kind]]
        if kind == SITE and isinstance(activity, SchoolExchange) and value != activity.site_id:
            loc = ["partner_site_ids", activity.partner_site_ids.index(value)]
        en, vi = _WORDS[kind]
        verdict.errors.append(
            field_error(
                loc,
                say(
                    f"there is no {en} {value!r} in the registry; register it first, or send "
                    "?allow_pending=true if it was registered a moment ago",
                    f"không có {vi} {value!r} trong hệ thống đăng ký; hãy đăng ký trước, hoặc "
                    "gửi ?allow_pending=true nếu vừa mới đăng ký",
                ),
            )
        )
    if verdict.kind == INVALID and len(verdict.errors) == len(verdict.missing):
        verdict.kind = f"unknown-{first_kind}"
        first = verdict.errors[0]
        verdict.unknown = {
            "field": ".".join(str(part) for part in first["loc"]),
            "value": split_key(verdict.missing[0])[1],
        }
    verdict.missing = []


def _check_dates(activity: ActivityBase, today: date, verdict: Verdict) -> None:
    for name in ("started_on", "ended_on"):
        error = future_date_error([name], getattr(activity, name), today)
        if error is not None:
            verdict.errors.append(error)


def _named(refs: ReferenceCache, pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [
        {"unit_id": unit_id, "share": share, "name": refs.unit_name(unit_id)}
        for unit_id, share in pairs
    ]


def _listed(units: list[dict[str, Any]]) -> str:
    parts = []
    for unit in units:
        about = [unit["name"]] if unit["name"] else []
        if unit["share"] < 1:
            about.append(f"{round(unit['share'] * 100)}%")
        parts.append(unit["unit_id"] + (f" ({', '.join(about)})" if about else ""))
    return ", ".join(parts)


def _check_unit(activity: ActivityBase, refs: ReferenceCache, verdict: Verdict) -> None:
    unit_id = activity.unit_id
    ref = parse_unit_id(unit_id)
    if ref is None:
        verdict.errors.append(
            field_error(
                ["unit_id"],
                say(
                    f"{unit_id!r} is not a unit id: expected vn63:<code> or vn34:<code>, "
                    "optionally followed by .<village code> (e.g. vn63:06433 or vn63:06433.T05)",
                    f"{unit_id!r} không phải mã đơn vị: cần vn63:<mã> hoặc vn34:<mã>, có thể "
                    "kèm .<mã thôn> (ví dụ vn63:06433 hoặc vn63:06433.T05)",
                ),
            )
        )
        return
    if unit_id == NATION_ID:
        verdict.errors.append(
            field_error(
                ["unit_id"],
                say(
                    "an activity takes place in a province or a unit below it, not in `vn`",
                    "hoạt động diễn ra ở một tỉnh hoặc đơn vị cấp dưới, không phải `vn`",
                ),
            )
        )
        return
    expected = edition_on(activity.started_on)
    if ref.edition != expected:
        _wrong_edition(activity, refs, verdict, expected)
        return
    if unit_id not in refs.units:
        verdict.missing.append(reference_key(UNIT, unit_id))
        # A village not seen yet still lies in its commune's province.
        verdict.province_id = refs.province_of(unit_id)
        return
    lineage = refs.units.lineage(unit_id)
    unknown = [ancestor for ancestor in lineage[1:] if ancestor not in refs.units]
    if unknown:
        verdict.missing.append(reference_key(UNIT, unknown[0]))
        return
    verdict.lineage = lineage
    verdict.province_id = refs.units.province_of(unit_id)


def _wrong_edition(
    activity: ActivityBase, refs: ReferenceCache, verdict: Verdict, expected: str
) -> None:
    verdict.kind = WRONG_EDITION
    unit = refs.label(activity.unit_id)
    started = activity.started_on.isoformat()
    if expected == "vn34":
        verdict.successors = _named(refs, refs.successors_of(activity.unit_id))
        instead = _listed(verdict.successors) or say(
            "the vn34 unit it became", "đơn vị vn34 mà nó đã trở thành"
        )
        msg = say(
            f"{unit} is a unit of the structure in force until {LAST_DAY_VN63.isoformat()}; "
            f"an activity started on {started} must use a vn34 unit: {instead}",
            f"{unit} là đơn vị của cơ cấu có hiệu lực đến {LAST_DAY_VN63.isoformat()}; "
            f"hoạt động bắt đầu ngày {started} phải dùng đơn vị vn34: {instead}",
        )
    else:
        verdict.predecessors = _named(refs, _peers(refs, activity.unit_id))
        instead = _listed(verdict.predecessors) or say(
            "the vn63 unit(s) it was formed from", "các đơn vị vn63 đã hợp thành nó"
        )
        msg = say(
            f"{unit} is a unit of the structure in force from {REFORM_DATE.isoformat()}; "
            f"an activity started on {started} must use a vn63 unit: {instead}",
            f"{unit} là đơn vị của cơ cấu có hiệu lực từ {REFORM_DATE.isoformat()}; "
            f"hoạt động bắt đầu ngày {started} phải dùng đơn vị vn63: {instead}",
        )
    verdict.errors.append(field_error(["unit_id"], msg))


def _peers(refs: ReferenceCache, unit_id: str) -> list[tuple[str, float]]:
    """The predecessors of a vn34 unit at its own level (communes of a commune), or all."""
    found = refs.units.predecessors(unit_id)
    node = refs.units.get(unit_id)
    if node is None:
        return found
    same_level = [
        (old, share)
        for old, share in found
        if (old_node := refs.units.get(old)) is not None and old_node.level == node.level
    ]
    return same_level or found


def _check_club(activity: ActivityBase, refs: ReferenceCache, verdict: Verdict) -> None:
    if activity.club_id is None:
        return
    club = refs.clubs.get(activity.club_id)
    if club is None:
        verdict.missing.append(reference_key(CLUB, activity.club_id))
        return
    province = verdict.province_id
    if province is not None and not refs.same_province(club.province_id, province):
        verdict.errors.append(
            field_error(
                ["club_id"],
                say(
                    f"club {club.id} ({club.name}) lies in {refs.label(club.province_id)}, "
                    f"but the activity's unit {activity.unit_id} lies in {refs.label(province)}",
                    f"câu lạc bộ {club.id} ({club.name}) thuộc {refs.label(club.province_id)}, "
                    f"nhưng đơn vị {activity.unit_id} của hoạt động thuộc {refs.label(province)}",
                ),
            )
        )
    if club.dissolved_on is not None and club.dissolved_on < activity.started_on:
        verdict.errors.append(
            field_error(
                ["club_id"],
                say(
                    f"club {club.id} ({club.name}) was dissolved on "
                    f"{club.dissolved_on.isoformat()}, before the activity started",
                    f"câu lạc bộ {club.id} ({club.name}) đã giải thể ngày "
                    f"{club.dissolved_on.isoformat()}, trước khi hoạt động bắt đầu",
                ),
            )
        )
    if club.established_on is not None and club.established_on > activity.ended_on:
        verdict.errors.append(
            field_error(
                ["club_id"],
                say(
                    f"club {club.id} ({club.name}) was established on "
                    f"{club.established_on.isoformat()}, after the activity ended",
                    f"câu lạc bộ {club.id} ({club.name}) thành lập ngày "
                    f"{club.established_on.isoformat()}, sau khi hoạt động kết thúc",
                ),
            )
        )


def _check_sites(activity: ActivityBase, refs: ReferenceCache, verdict: Verdict) -> None:
    kind_of_activity = type_of(activity)
    needed = SITE_KIND_BY_TYPE.get(kind_of_activity)
    sites: list[tuple[list[str | int], str]] = []
    if activity.site_id is not None:
        sites.append((["site_id"], activity.site_id))
    if isinstance(activity, SchoolExchange):
        sites.extend(
            (["partner_site_ids", index], site_id)
            for index, site_id in enumerate(activity.partner_site_ids)
        )
    for loc, site_id in sites:
        site = refs.sites.get(site_id)
        if site is None:
            verdict.missing.append(reference_key(SITE, site_id))
            continue
        if needed is not None and site.kind != needed:
            verdict.errors.append(
                field_error(
                    loc,
                    say(
                        f"site {site.id} ({site.name}) is a {site.kind}; "
                        f"a {kind_of_activity} needs a {needed}",
                        f"điểm {site.id} ({site.name}) là loại {site.kind}; "
                        f"hoạt động {kind_of_activity} cần loại {needed}",
                    ),
                )
            )
        province = verdict.province_id
        if loc == ["site_id"] and province and not refs.same_province(site.province_id, province):
            verdict.errors.append(
                field_error(
                    loc,
                    say(
                        f"site {site.id} ({site.name}) lies in {refs.label(site.province_id)}, "
                        f"but the activity's unit {activity.unit_id} lies in "
                        f"{refs.label(province)}",
                        f"điểm {site.id} ({site.name}) thuộc {refs.label(site.province_id)}, "
                        f"nhưng đơn vị {activity.unit_id} của hoạt động thuộc "
                        f"{refs.label(province)}",
                    ),
                )
            )


def _check_type_rules(activity: ActivityBase, verdict: Verdict) -> None:
    people = activity.participants.total
    roles = sum(activity.roles.values())
    if people and roles > people:
        verdict.errors.append(
            field_error(
                ["roles"],
                say(
                    f"roles add up to {roles}, more than the {people} participants (female + male)",
                    f"tổng thành phần là {roles}, nhiều hơn {people} người tham gia (nữ + nam)",
                ),
            )
        )
    if isinstance(activity, SupportDelivery):
        reached = activity.beneficiaries.women + activity.beneficiaries.children
        if reached == 0:
            verdict.errors.append(
                field_error(
                    ["beneficiaries"],
                    say(
                        "a support delivery must reach at least one woman or child",
                        "hoạt động hỗ trợ phải đến với ít nhất một phụ nữ hoặc trẻ em",
                    ),
                )
            )
    if isinstance(activity, LearningCentreRating):
        first_year = int(activity.school_year[:4])
        if activity.started_on < date(first_year, 9, 1):
            verdict.errors.append(
                field_error(
                    ["school_year"],
                    say(
                        f"a rating of school year {activity.school_year} cannot be dated "
                        f"{activity.started_on.isoformat()}, before the year began on "
                        f"{first_year}-09-01",
                        f"xếp loại năm học {activity.school_year} không thể ghi ngày "
                        f"{activity.started_on.isoformat()}, trước khi năm học bắt đầu "
                        f"{first_year}-09-01",
                    ),
                )
            )
