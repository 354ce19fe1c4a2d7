"""The national reference read from the package: counts, named units, the crosswalk."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest

from services.registry.crosswalk import SHARE_STEPS, dyadic_shares
from services.registry.reference import NationalReference, Selection, build_reference
from services.registry.vnunits import PackageData, clean_name


@pytest.fixture(scope="module")
def reference() -> NationalReference:
    return build_reference(Selection.parse("all"))


@pytest.fixture(scope="module")
def units(reference: NationalReference) -> dict[str, dict[str, Any]]:
    return {unit["id"]: unit for chunk in reference.chunks for unit in chunk.units}


def test_both_editions_hold_exactly_the_official_counts(
    units: dict[str, dict[str, Any]],
) -> None:
    counts = Counter((unit["edition"], unit["level"]) for unit in units.values())
    assert counts == {
        ("vn", "nation"): 1,
        ("vn63", "province"): 63,
        ("vn63", "district"): 696,
        ("vn63", "commune"): 10_035,
        ("vn34", "province"): 34,
        ("vn34", "commune"): 3_321,
    }
    special_zones = [u for u in units.values() if u["name"].startswith("Đặc khu ")]
    assert len(special_zones) == 13
    assert all(u["edition"] == "vn34" for u in special_zones)


def test_van_nham_sits_under_huu_lung_under_lang_son(units: dict[str, dict[str, Any]]) -> None:
    commune = units["vn63:06433"]
    district = units[commune["parent_id"]]
    province = units[district["parent_id"]]
    assert (commune["name"], commune["level"]) == ("Xã Vân Nham", "commune")
    assert (district["id"], district["name"]) == ("vn63:186", "Huyện Hữu Lũng")
    assert (province["id"], province["name"], province["parent_id"]) == (
        "vn63:20",
        "Tỉnh Lạng Sơn",
        "vn",
    )
    assert commune["valid_to"] == "2025-06-30"
    assert commune["valid_from"] is None


@pytest.mark.parametrize(
    ("unit_id", "name", "parent_id"),
    [
        ("vn63:00004", "Phường Trúc Bạch", "vn63:001"),
        ("vn63:001", "Quận Ba Đình", "vn63:01"),
        ("vn63:26734", "Phường Tân Định", "vn63:760"),
        ("vn63:760", "Quận 1", "vn63:79"),
        ("vn63:20194", "Phường Hòa Hiệp Bắc", "vn63:490"),
        ("vn63:31117", "Phường Cái Khế", "vn63:916"),
        ("vn63:00715", "Xã Lũng Cú", "vn63:026"),
        ("vn63:032", "Huyện Hoàng Su Phì", "vn63:02"),
        ("vn63:03040", "Xã Tả Van", "vn63:088"),
        ("vn63:755", "Huyện Côn Đảo", "vn63:77"),
        ("vn63:46", "Thành phố Huế", "vn"),
        ("vn34:00004", "Phường Ba Đình", "vn34:01"),
        ("vn34:06994", "Đặc khu Vân Đồn", "vn34:22"),
        ("vn34:22736", "Đặc khu Trường Sa", "vn34:56"),
        ("vn34:08", "Tỉnh Tuyên Quang", "vn"),
        ("vn34:01", "Thành phố Hà Nội", "vn"),
    ],
)
def test_named_units_of_many_provinces(
    units: dict[str, dict[str, Any]], unit_id: str, name: str, parent_id: str
) -> None:
    assert (units[unit_id]["name"], units[unit_id]["parent_id"]) == (name, parent_id)


def test_every_vn63_unit_has_successors_summing_to_one(units: dict[str, dict[str, Any]]) -> None:
    vn34 = {unit_id for unit_id, unit in units.items() if unit["edition"] == "vn34"}
    for unit in units.values():
        if unit["edition"] != "vn63":
            assert unit["successors"] == []
            continue
        shares = [link["share"] for link in unit["successors"]]
        assert shares, unit["id"]
        assert abs(math.fsum(shares) - 1) <= 1e-9, unit["id"]
        assert sum(shares) == 1.0  # dyadic shares: exact in any order
        assert all(0 < share <= 1 for share in shares)
        assert {link["unit_id"] for link in unit["successors"]} <= vn34
        target_level = "province" if unit["level"] == "province" else "commune"
        assert {units[link["unit_id"]]["level"] for link in unit["successors"]} == {target_level}


def test_whole_merges_divisions_and_island_districts(units: dict[str, dict[str, Any]]) -> None:
    assert units["vn63:06433"]["successors"] == [{"unit_id": "vn34:06415", "share": 1.0}]
    dai_mo = {link["unit_id"]: link["share"] for link in units["vn63:00634"]["successors"]}
    assert len(dai_mo) == 5
    assert dai_mo["vn34:00622"] == pytest.approx(0.2613, abs=1e-4)  # by the new communes' area
    islands = {
        "vn63:318": "vn34:11948",
        "vn63:471": "vn34:19742",
        "vn63:498": "vn34:20333",
        "vn63:536": "vn34:21548",
        "vn63:755": "vn34:26732",
    }
    for district, zone in islands.items():
        assert units[district]["successors"] == [{"unit_id": zone, "share": 1.0}]
        assert not any(u["parent_id"] == district for u in units.values())
    assert units["vn63:02"]["successors"] == [{"unit_id": "vn34:08", "share": 1.0}]
    divided = [u for u in units.values() if u["level"] == "commune" and len(u["successors"]) > 1]
    assert len(divided) == 441


def test_name_collision_links_are_dropped(reference: NationalReference) -> None:
    dropped = reference.crosswalk.dropped
    assert len(dropped) == 32
    assert len({old for old, _ in dropped}) == 30
    # Xã Thạnh Quới of Vĩnh Thạnh and of Mỹ Xuyên swapped targets in the package.
    assert ("31246", "31726") in dropped
    assert ("31714", "31246") in dropped
    assert reference.crosswalk.communes["31246"] == (("31246", 1.0),)


def test_a_district_share_is_the_mean_of_its_communes(units: dict[str, dict[str, Any]]) -> None:
    communes = [u for u in units.values() if u["parent_id"] == "vn63:186"]
    expected: dict[str, Fraction] = {}
    for commune in communes:
        for link in commune["successors"]:
            expected[link["unit_id"]] = expected.get(link["unit_id"], Fraction(0)) + Fraction(
                link["share"]
            ) / len(communes)
    shares = {link["unit_id"]: link["share"] for link in units["vn63:186"]["successors"]}
    assert shares.keys() == expected.keys()
    for target, share in shares.items():
        assert share == pytest.approx(float(expected[target]), abs=1 / SHARE_STEPS)


def test_dyadic_shares_add_up_exactly_and_never_vanish() -> None:
    shares = dyadic_shares([Fraction(1), Fraction(1), Fraction(1)])
    assert sum(shares) == 1.0
    assert sum(reversed(shares)) == 1.0
    tiny = dyadic_shares([Fraction(1, 10**12), Fraction(1)])
    assert tiny[0] > 0
    assert sum(tiny) == 1.0
    assert dyadic_shares([Fraction(5)]) == [1.0]


def test_a_slice_brings_the_vn34_provinces_its_units_went_into() -> None:
    reference = build_reference(Selection.parse("vn63:20, vn63:02"))
    assert [chunk.id for chunk in reference.chunks] == [
        "vn",
        "vn63:02",
        "vn63:20",
        "vn34:08",
        "vn34:20",
    ]
    assert Selection.parse("all").provinces is None
    assert Selection.parse("").provinces is None
    assert build_reference(Selection.parse("none")).chunks == []
    with pytest.raises(ValueError, match="vn63:99"):
        build_reference(Selection.parse("vn63:99"))


def test_names_are_cleaned_of_title_cased_prefixes() -> None:
    assert clean_name("Thành Phố  Bắc Kạn ") == "Thành phố Bắc Kạn"
    assert clean_name("Thị Trấn Ái Tử") == "Thị trấn Ái Tử"
    names = {unit.name for unit in PackageData().vn63()}
    assert "Thành phố Bắc Kạn" in names
    assert "Thành Phố Bắc Kạn" not in names


def test_checksums_follow_the_content(reference: NationalReference) -> None:
    again = build_reference(Selection.parse("vn63:20"))
    lang_son = next(chunk for chunk in reference.chunks if chunk.id == "vn63:20")
    assert next(c for c in again.chunks if c.id == "vn63:20").checksum == lang_son.checksum
    assert len({chunk.checksum for chunk in reference.chunks}) == len(reference.chunks)
