"""The 2025 crosswalk: where each vn63 unit went, with the share each vn34 unit received.

Communes come from the package's converter. A whole merge has share 1. A divided
commune's shares are proportional to the *areas of the new communes* it went into
(the package ships no population and no overlap areas; an unknown or zero area
falls back to an equal split). Districts and provinces follow from their communes,
every commune weighing the same: share(D → N) = Σ_{c in D} share(c → N) / |D|.

Shares are rounded to multiples of 2⁻³⁰ by the largest-remainder method, every link
keeping at least one step. Such floats are exact in binary, so the shares of one
unit add up to exactly 1.0 in any order of summation.

The converter matched old communes to new ones by *name* within a new province, so
two old communes with the same name (Xã Thạnh Quới of Vĩnh Thạnh and of Mỹ Xuyên)
each received the union of both targets. `suspect_pairs` finds those links and the
loader drops them (32 links of 30 communes in version 1.0.4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from services.registry.vnunits import RawPair, RawUnit

SHARE_STEPS = 1 << 30

Links = tuple[tuple[str, float], ...]


def dyadic_shares(weights: Sequence[Fraction]) -> list[float]:
    """Shares proportional to `weights`, as multiples of 2⁻³⁰ that sum to exactly 1."""
    if len(weights) == 1:
        return [1.0]
    total = sum(weights, Fraction(0))
    if total <= 0:
        weights, total = [Fraction(1)] * len(weights), Fraction(len(weights))
    scaled = [weight * SHARE_STEPS / total for weight in weights]
    steps = [max(int(value), 1 if value > 0 else 0) for value in scaled]
    short = SHARE_STEPS - sum(steps)
    order = sorted(range(len(weights)), key=lambda k: scaled[k] - int(scaled[k]), reverse=True)
    for k in order[: max(short, 0)]:
        steps[k] += 1
    while short < 0:  # minimum steps given out: take them back from the largest
        largest = max(range(len(steps)), key=steps.__getitem__)
        steps[largest] -= 1
        short += 1
    return [step / SHARE_STEPS for step in steps]


def suspect_pairs(
    pairs: Sequence[RawPair], vn63: Iterable[RawUnit], new_province: Mapping[str, str | None]
) -> set[tuple[str, str]]:
    """Divided links that look like artefacts of matching communes by name.

    A link (O → N) is suspect when an old commune with O's name, in the same new
    province, also maps to N, and neither N's seat (the old commune whose code N
    kept) nor any other unsuspected source of N lies in O's old district. An old
    commune never loses its last link."""
    communes = {unit.code: unit for unit in vn63 if unit.level == "commune"}
    targets: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, set[str]] = defaultdict(set)
    divided: set[str] = set()
    for pair in pairs:
        targets[pair.old_code].add(pair.new_code)
        sources[pair.new_code].add(pair.old_code)
        if pair.divided:
            divided.add(pair.old_code)

    def name_key(old: str) -> tuple[str | None, str]:
        # Old communes never span two new provinces in this data: one target will do.
        return new_province.get(next(iter(targets[old]))), communes[old].name

    same_name: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for old in targets:
        if old in communes:
            same_name[name_key(old)].add(old)
    candidates: set[tuple[str, str]] = set()
    for old in divided & communes.keys():
        twins = same_name[name_key(old)] - {old}
        for new in targets[old]:
            if any(new in targets[twin] for twin in twins):
                candidates.add((old, new))
    flagged: set[tuple[str, str]] = set()
    for old, new in candidates:
        district = communes[old].parent_code
        seat = communes.get(new)
        if seat is not None and seat.parent_code == district:
            continue
        if not any(
            communes[source].parent_code == district
            for source in sources[new]
            if source != old and (source, new) not in candidates and source in communes
        ):
            flagged.add((old, new))
    for old in {old for old, _ in flagged}:
        if all((old, new) in flagged for new in targets[old]):
            flagged -= {(old, new) for new in targets[old]}
    return flagged


@dataclass(frozen=True)
class Crosswalk:
    communes: dict[str, Links]  # vn63 commune code → vn34 commune codes
    districts: dict[str, Links]  # vn63 district code → vn34 commune codes
    provinces: dict[str, Links]  # vn63 province code → vn34 province codes
    dropped: frozenset[tuple[str, str]]  # suspect links left out
    island_districts: dict[str, str]  # vn63 district without communes → special zone


def build_crosswalk(
    pairs: Sequence[RawPair], vn63: Sequence[RawUnit], vn34: Sequence[RawUnit]
) -> Crosswalk:
    new_province = {unit.code: unit.parent_code for unit in vn34 if unit.level == "commune"}
    dropped = suspect_pairs(pairs, vn63, new_province)
    grouped: dict[str, list[RawPair]] = defaultdict(list)
    for pair in pairs:
        if (pair.old_code, pair.new_code) not in dropped:
            grouped[pair.old_code].append(pair)
    links: dict[str, Links] = {}
    for old, group in grouped.items():
        group.sort(key=lambda pair: pair.new_code)
        areas = [pair.area_km2 for pair in group]
        if any(area is None or area <= 0 for area in areas):
            weights = [Fraction(1)] * len(group)
        else:
            weights = [Fraction(str(area)) for area in areas]
        shares = dyadic_shares(weights)
        links[old] = tuple(
            (pair.new_code, share) for pair, share in zip(group, shares, strict=True)
        )
    communes_of: dict[str, list[str]] = defaultdict(list)
    province_of_district: dict[str, str] = {}
    for unit in vn63:
        if unit.level == "commune" and unit.parent_code is not None:
            communes_of[unit.parent_code].append(unit.code)
        elif unit.level == "district" and unit.parent_code is not None:
            province_of_district[unit.code] = unit.parent_code
    communes = {code: found for code, found in links.items() if len(code) == 5}
    islands = {code: found[0][0] for code, found in links.items() if len(code) == 3}
    districts: dict[str, Links] = {}
    for district in province_of_district:
        if district in islands:
            districts[district] = ((islands[district], 1.0),)
        else:
            districts[district] = _average(communes[c] for c in communes_of[district])
    provinces: dict[str, Links] = {}
    communes_of_province: dict[str, list[str]] = defaultdict(list)
    for district, province in province_of_district.items():
        communes_of_province[province].extend(communes_of[district])
    for province, codes in communes_of_province.items():
        provinces[province] = _average(
            tuple((str(new_province[new]), share) for new, share in communes[c]) for c in codes
        )
    return Crosswalk(communes, districts, provinces, frozenset(dropped), islands)


def _average(members: Iterable[Links]) -> Links:
    """The links of a whole made of equally weighted parts."""
    totals: dict[str, Fraction] = defaultdict(Fraction)
    count = 0
    for member in members:
        count += 1
        for target, share in member:
            totals[target] += Fraction(share)
    if count == 0:
        return ()
    keys = sorted(totals)
    return tuple(zip(keys, dyadic_shares([totals[key] for key in keys]), strict=True))
