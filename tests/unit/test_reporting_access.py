"""Which province a reporting query is about, and who may read it (no I/O)."""

from __future__ import annotations

import pytest

from services.reporting.access import may_read, province_scope, require_viewer
from services.reporting.exports import Table, file_name
from shared.auth import Principal
from shared.http import Problem
from shared.units import UnitIndex, UnitNode


def units() -> UnitIndex:
    index = UnitIndex()
    index.put_many(
        [
            UnitNode("vn", "vn", "vn", "Việt Nam", "nation", None),
            UnitNode("vn63:20", "vn63", "20", "Tỉnh Lạng Sơn", "province", "vn"),
            UnitNode("vn63:186", "vn63", "186", "Huyện Hữu Lũng", "district", "vn63:20"),
            UnitNode("vn63:06433", "vn63", "06433", "Xã Vân Nham", "commune", "vn63:186"),
            UnitNode("vn63:06433.T05", "vn63", "06433", "Thôn Đồng Tâm", "village",
                     "vn63:06433"),
            UnitNode("vn34:20", "vn34", "20", "Tỉnh Lạng Sơn", "province", "vn"),
            UnitNode("vn34:06440", "vn34", "06440", "Xã Hữu Lũng", "commune", "vn34:20"),
            UnitNode("vn63:02", "vn63", "02", "Tỉnh Hà Giang", "province", "vn"),
            # Its district has not arrived yet: no province can be found.
            UnitNode("vn63:01021", "vn63", "01021", "Thị trấn Vinh Quang", "commune",
                     "vn63:032"),
        ]
    )  # fmt: skip
    return index


LANG_SON = Principal("langson-app", frozenset({"viewer"}), frozenset({"vn63:20", "vn34:20"}))
SUBMITTER = Principal("langson-mis", frozenset({"submitter"}), frozenset({"vn63:20"}))
NATIONAL = Principal("board", frozenset({"viewer"}), frozenset({"vn"}))
ADMIN = Principal("ops", frozenset({"admin"}), frozenset())
NO_ROLE = Principal("nobody", frozenset(), frozenset({"vn63:20"}))


@pytest.mark.parametrize(
    ("unit", "province"),
    [
        ("vn", None),
        ("vn63:20", "vn63:20"),
        ("vn63:186", "vn63:20"),
        ("vn63:06433.T05", "vn63:20"),
        ("vn34:06440", "vn34:20"),
        ("vn63:01021", None),
        ("vn63:99", None),
    ],
)
def test_the_province_of_a_query(unit: str, province: str | None) -> None:
    assert province_scope(unit, units()) == province


def test_who_may_read_what() -> None:
    index = units()
    assert may_read(LANG_SON, "vn63:06433.T05", index)
    assert may_read(LANG_SON, "vn34:06440", index)
    assert may_read(SUBMITTER, "vn63:186", index)
    assert not may_read(LANG_SON, "vn63:02", index)
    assert not may_read(LANG_SON, "vn", index)
    assert not may_read(LANG_SON, "vn63:01021", index), "no province known: national only"
    assert not may_read(NO_ROLE, "vn63:20", index)
    for everywhere in (NATIONAL, ADMIN):
        assert all(may_read(everywhere, u, index) for u in ("vn", "vn63:02", "vn63:01021"))


def test_a_refusal_names_the_missing_scope() -> None:
    with pytest.raises(Problem) as refused:
        require_viewer(LANG_SON, "vn63:02", units())
    assert refused.value.status == 403
    assert refused.value.extensions == {
        "required_role": "viewer",
        "required_province": "vn63:02",
    }
    with pytest.raises(Problem) as national:
        require_viewer(LANG_SON, "vn", units())
    assert national.value.extensions["required_province"] == "vn"


def test_export_file_names_are_plain_ascii() -> None:
    name = file_name(Table("targets_Ẩn ĐỘ/../x", [], []), "csv")
    assert name.isascii()
    assert name == "targets_-n-------x.csv"
