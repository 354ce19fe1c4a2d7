"""The rules an activity must meet beyond its schema: references, editions, dates.

`validate` is pure: it reads the in-memory reference data and a date, and returns a
`Verdict` with field-level errors (definite problems), the references not known yet
(the activity waits for them as `pending_reference`), and where the activity lies.
Locations in errors are relative to the activity body (`["club_id"]`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from services.events.references import (
    CLUB,
    PROGRAMME,
    SITE,
    UNIT,
    ReferenceCache,
    reference_key,
)
from shared.contracts.activities import (
    ACTIVITY_MODELS,
    ActivityBase,
    LearningCentreRating,
    SchoolExchange,
    SupportDelivery,
)
from shared.units import LAST_DAY_VN63, NATION_ID, REFORM_DATE, edition_on, parse_unit_id

# Vietnam keeps UTC+7 all year: "today" for a province is the date there.
VIETNAM = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
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


def today_in_vietnam() -> date:
    return datetime.now(UTC).astimezone(VIETNAM).date()


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

    @property
    def valid(self) -> bool:
        return not self.errors and not self.missing

    @property
    def pending(self) -> bool:
        return not self.errors and bool(self.missing)

    def detail(self) -> str:
        """One sentence for a problem's `detail`: the first error, and how many more."""
        if not self.errors:
            return "The activity is valid."
        first = self.errors[0]["msg"]
        more = len(self.errors) - 1
        return first if more == 0 else f"{first} (and {more} more; see `errors`)"


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


def _check_dates(activity: ActivityBase, today: date, verdict: Verdict) -> None:
    for name in ("started_on", "ended_on"):
        day: date = getattr(activity, name)
        if day > today:
            verdict.errors.append(
                field_error(
                    [name],
                    f"{name} {day.isoformat()} is in the future "
                    f"(today is {today.isoformat()} in Vietnam)",
                )
            )


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
                f"{unit_id!r} is not a unit id: expected vn63:<code> or vn34:<code>, "
                "optionally followed by .<village code> (e.g. vn63:06433 or vn63:06433.T05)",
            )
        )
        return
    if unit_id == NATION_ID:
        verdict.errors.append(
            field_error(
                ["unit_id"],
                "an activity takes place in a province or a unit below it, not in `vn`",
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
        instead = _listed(verdict.successors) or "the vn34 unit it became"
        msg = (
            f"{unit} is a unit of the structure in force until {LAST_DAY_VN63.isoformat()}; "
            f"an activity started on {started} must use a vn34 unit: {instead}"
        )
    else:
        verdict.predecessors = _named(refs, _peers(refs, activity.unit_id))
        instead = _listed(verdict.predecessors) or "the vn63 unit(s) it was formed from"
        msg = (
            f"{unit} is a unit of the structure in force from {REFORM_DATE.isoformat()}; "
            f"an activity started on {started} must use a vn63 unit: {instead}"
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
                f"club {club.id} ({club.name}) lies in {refs.label(club.province_id)}, "
                f"but the activity's unit {activity.unit_id} lies in {refs.label(province)}",
            )
        )
    if club.dissolved_on is not None and club.dissolved_on < activity.started_on:
        verdict.errors.append(
            field_error(
                ["club_id"],
                f"club {club.id} ({club.name}) was dissolved on "
                f"{club.dissolved_on.isoformat()}, before the activity started",
            )
        )
    if club.established_on is not None and club.established_on > activity.ended_on:
        verdict.errors.append(
            field_error(
                ["club_id"],
                f"club {club.id} ({club.name}) was established on "
                f"{club.established_on.isoformat()}, after the activity ended",
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
                    f"site {site.id} ({site.name}) is a {site.kind}; "
                    f"a {kind_of_activity} needs a {needed}",
                )
            )
        province = verdict.province_id
        if loc == ["site_id"] and province and not refs.same_province(site.province_id, province):
            verdict.errors.append(
                field_error(
                    loc,
                    f"site {site.id} ({site.name}) lies in {refs.label(site.province_id)}, "
                    f"but the activity's unit {activity.unit_id} lies in {refs.label(province)}",
                )
            )


def _check_type_rules(activity: ActivityBase, verdict: Verdict) -> None:
    people = activity.participants.total
    roles = sum(activity.roles.values())
    if people and roles > people:
        verdict.errors.append(
            field_error(
                ["roles"],
                f"roles add up to {roles}, more than the {people} participants (female + male)",
            )
        )
    if isinstance(activity, SupportDelivery):
        reached = activity.beneficiaries.women + activity.beneficiaries.children
        if reached == 0:
            verdict.errors.append(
                field_error(
                    ["beneficiaries"], "a support delivery must reach at least one woman or child"
                )
            )
    if isinstance(activity, LearningCentreRating):
        first_year = int(activity.school_year[:4])
        if activity.started_on < date(first_year, 9, 1):
            verdict.errors.append(
                field_error(
                    ["school_year"],
                    f"a rating of school year {activity.school_year} cannot be dated "
                    f"{activity.started_on.isoformat()}, before the year began on "
                    f"{first_year}-09-01",
                )
            )
