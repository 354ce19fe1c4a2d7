"""The shared HTTP edge without I/O: languages, refusals, cursors, bodies, spreadsheets."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from services.events.columns import columns_for
from services.registry.import_columns import COLUMNS
from services.registry.programmes import merged_plan
from shared.auth import Principal
from shared.edge.authorization import forbidden, require, require_role, viewable_provinces
from shared.edge.bodies import json_document
from shared.edge.cursors import decode_cursor, encode_cursor
from shared.edge.i18n import language_of, use_language
from shared.edge.spreadsheets import (
    GUIDE_SHEET,
    Table,
    Upload,
    read_rows,
    read_table,
    template_xlsx,
)
from shared.http import Problem

LANG_SON = Principal("langson-app", frozenset({"submitter"}), frozenset({"vn63:20", "vn34:20"}))
VIEWER = Principal("langson-dashboard", frozenset({"viewer"}), frozenset({"vn34:20", "vn63:20"}))
NATIONAL = Principal("board", frozenset({"viewer"}), frozenset({"vn"}))
ADMIN = Principal("ops", frozenset({"admin"}), frozenset())
MEMBERS = COLUMNS["members"]
REQUIRED_MEMBER_COLUMNS = [column for column in MEMBERS if column.required]


@pytest.fixture(autouse=True)
def english() -> None:
    use_language("en")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("vi", "vi"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("en-US,en;q=0.9,vi;q=0.8", "en"),
        ("fr;q=0.5, vi;q=0.7", "vi"),
        ("vi;q=0", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_vietnamese_only_when_the_client_prefers_it(header: str | None, language: str) -> None:
    assert language_of(header) == language


def test_a_refusal_for_another_province_names_the_province_not_a_role() -> None:
    with pytest.raises(Problem) as raised:
        require(LANG_SON, "submitter", "vn63:02", "Unit vn63:032 is here.", "", ["unit_id"])
    problem = raised.value
    assert (problem.status, problem.kind) == (403, "forbidden")
    assert problem.extensions == {
        "required_role": "submitter",
        "required_province": "vn63:02",
    }
    assert "does not act for province vn63:02" in problem.detail
    assert "needs role" not in problem.detail
    assert problem.errors is not None
    assert problem.errors[0]["loc"] == ["unit_id"]
    viewer = forbidden(VIEWER, "viewer", "vn63:02")
    assert "does not act for province vn63:02" in viewer.detail


def test_a_refusal_for_a_missing_role_names_the_role() -> None:
    problem = forbidden(VIEWER, "submitter", "vn63:20")
    assert "needs role 'submitter'" in problem.detail
    with pytest.raises(Problem) as raised:
        require_role(VIEWER, "submitter")
    assert raised.value.extensions["required_role"] == "submitter"


def test_refusals_are_said_in_vietnamese_for_vi() -> None:
    use_language("vi")
    problem = forbidden(LANG_SON, "submitter", "vn63:02")
    assert problem.title == "Ứng dụng không được phép"
    assert "không được làm việc với tỉnh vn63:02" in problem.detail
    assert problem.kind == "forbidden"  # the type stays stable


def test_who_may_what() -> None:
    require(LANG_SON, "submitter", "vn34:20")
    require(LANG_SON, "viewer", "vn63:20")  # a submitter reads its data back
    require(ADMIN, "submitter", None)
    require(NATIONAL, "viewer", "vn63:02")
    for caller, province in ((VIEWER, "vn63:20"), (LANG_SON, None), (NATIONAL, "vn63:02")):
        with pytest.raises(Problem):
            require(caller, "submitter", province)
    assert viewable_provinces(VIEWER) == ["vn34:20", "vn63:20"]
    assert viewable_provinces(NATIONAL) is None


def test_a_province_replaces_only_its_part_of_a_plan() -> None:
    def target(unit: str, value: float) -> dict[str, object]:
        return {"indicator": "trainees", "unit_id": unit, "period": "2022", "value": value}

    stored = [target("vn63:186", 860), target("vn63:032", 40), target("vn", 1000)]
    lang_son = {"vn63:186", "vn63:06433"}
    plan = merged_plan(stored, [target("vn63:06433", 900)], lambda unit: unit in lang_son)
    assert plan == [target("vn", 1000), target("vn63:032", 40), target("vn63:06433", 900)]


@pytest.mark.parametrize(
    "cursor", ["%%%", "bm90IGpzb24", encode_cursor(["a"]), encode_cursor([1, 2])]
)
def test_a_cursor_not_given_out_is_400(cursor: str) -> None:
    with pytest.raises(Problem) as raised:
        decode_cursor(cursor, (str, str))
    assert (raised.value.status, raised.value.kind) == (400, "invalid-cursor")


def test_a_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(["2023-10-12", "id-1"]), (str, str)) == (
        "2023-10-12",
        "id-1",
    )
    assert decode_cursor(None, (str,)) is None


@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        '[{"a": ' + "1" * 5000 + "}]",
        '[{"a": ' + "9" * 25 + "}]",
        '{"a": ' * 40 + "1" + "}" * 40,
    ],
)
def test_hostile_json_is_a_400(body: str) -> None:
    with pytest.raises(Problem) as raised:
        json_document(body)
    assert raised.value.status == 400


def test_sane_json_passes() -> None:
    assert json_document('[{"female": 31, "budget_vnd": 3000000000}]') == [
        {"female": 31, "budget_vnd": 3_000_000_000}
    ]


def _csv(text: str) -> Table:
    return read_table(Upload(text.encode(), "members.csv", "text/csv"))


def _rows(text: str, max_rows: int = 100) -> list[dict[str, object]]:
    rows = read_rows(
        _csv(text), MEMBERS, required=REQUIRED_MEMBER_COLUMNS, max_rows=max_rows, template="T"
    )
    return [{"number": row.number, "values": row.values, "errors": row.errors} for row in rows]


HEADER = "Mã CLB (id);Mã thành viên;Giới tính;Năm sinh;Ngày tham gia"


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"])
def test_csv_lines_may_end_in_cr_lf_or_crlf(newline: str) -> None:
    text = newline.join([HEADER, "c1;M-1;Nữ;2010;05/09/2023", "c1;M-2;Nam;2011;2023-09-05"])
    rows = _rows(text + newline)
    assert [row["values"]["sex"] for row in rows] == ["female", "male"]  # type: ignore[index]


def test_an_oversize_csv_field_is_a_422_not_a_crash() -> None:
    text = HEADER + "\n" + "c1;" + "x" * 200_000 + ";Nữ;2010;05/09/2023\n"
    with pytest.raises(Problem) as raised:
        _rows(text)
    assert (raised.value.status, raised.value.kind) == (422, "import-unreadable")


def test_every_mistake_of_a_row_names_its_column_and_allowed_values() -> None:
    [row] = _rows(HEADER + "\nc1;M-1;gái;năm;31/02/2023\n")
    errors = row["errors"]
    assert [error["column"] for error in errors] == ["Giới tính", "Năm sinh", "Ngày tham gia"]  # type: ignore[index, union-attr]
    assert errors[0]["msg"] == "Giới tính: 'gái' is not allowed; choose one of Nữ, Nam"  # type: ignore[index]
    use_language("vi")
    [row] = _rows(HEADER + "\nc1;M-1;gái;2010;05/09/2023\n")
    assert row["errors"][0]["msg"] == "Giới tính: 'gái' không hợp lệ; chọn một trong Nữ, Nam"  # type: ignore[index]


def test_too_many_rows_is_one_413_before_anything_is_checked() -> None:
    text = HEADER + "\n" + "".join(f"c1;M-{n};Nữ;2010;05/09/2023\n" for n in range(4))
    with pytest.raises(Problem) as raised:
        _rows(text, max_rows=3)
    assert (raised.value.status, raised.value.kind) == (413, "import-too-many-rows")


def test_a_header_that_does_not_match_the_template_names_both_sides() -> None:
    with pytest.raises(Problem) as raised:
        _rows("Mã thành viên;Ghi chú\nM-1;x\n")
    problem = raised.value
    assert (problem.status, problem.kind) == (422, "import-columns")
    assert problem.extensions["unknown_columns"] == ["Ghi chú"]
    assert "Giới tính" in problem.extensions["missing_columns"]


def test_templates_have_vietnamese_headers_choices_and_a_guide() -> None:
    book = load_workbook(
        io.BytesIO(template_xlsx("training_course", columns_for("training_course")))
    )
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["Hệ thống nguồn *", "Mã bản ghi *", "Mã chương trình *"]
    assert headers[-2:] == ["Số lớp *", "Số ngày *"]
    assert sheet.max_row == 1  # an untouched template imports nothing
    guide = book[GUIDE_SHEET]
    fields = [row[1] for row in guide.iter_rows(min_row=2, values_only=True) if row[1]]
    assert fields == [column.field for column in columns_for("training_course")]
    members = load_workbook(io.BytesIO(template_xlsx("Dữ liệu", MEMBERS)))
    allowed = {
        row[0]: row[4] for row in members[GUIDE_SHEET].iter_rows(min_row=2, values_only=True)
    }
    assert allowed["Giới tính"] == "Nữ, Nam"
