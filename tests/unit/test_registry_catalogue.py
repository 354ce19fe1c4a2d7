"""Search folding, the period grammar, ethnic groups and the reading of uploaded cells."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.registry.folding import fold, nfc
from services.registry.import_columns import COLUMNS, Kind
from services.registry.vocabularies import (
    ETHNIC_GROUPS,
    ethnicity_code,
    is_ethnic_minority,
    period_error,
)
from services.reporting.catalogue import INDICATORS
from shared.contracts.indicators import INDICATOR_CODES
from shared.edge.spreadsheets import CellError, Column, convert


@pytest.mark.parametrize("query", ["van nham", "Vân Nham", "VAN NHAM", "vÂn NhAm", " van  nham "])
def test_names_fold_without_diacritics_and_case(query: str) -> None:
    assert fold(query) == "van nham"
    assert fold(query) in fold("Xã Vân Nham")


def test_d_with_stroke_folds_to_d() -> None:
    assert fold("Xã Đồng Tiến") == "xa dong tien"
    assert fold("ĐỒNG TIẾN") == fold("dong tien")
    # Decomposed input (NFD) folds the same as composed text.
    assert fold("Va\u0302n Nham") == "van nham"
    assert nfc("  Xa\u0303 Va\u0302n Nham ") == "Xã Vân Nham"


@pytest.mark.parametrize(
    "period",
    ["2023", "2023H1", "2023H2", "2023Q4", "2023-11", "SY2017-2018", "2021-01-01..2025-12-31"],
)
def test_periods_of_the_contract_are_accepted(period: str) -> None:
    assert period_error(period) is None


@pytest.mark.parametrize(
    "period",
    [
        "23",
        "2023H3",
        "2023Q5",
        "2023-13",
        "SY2017-2019",
        "2025-12-31..2021-01-01",
        "2023-02-30..2023-03-01",
        "Q4 2023",
    ],
)
def test_periods_outside_the_grammar_are_refused(period: str) -> None:
    assert period_error(period) is not None


def test_the_54_ethnic_groups_with_kinh_as_the_only_majority() -> None:
    assert len(ETHNIC_GROUPS) == 54
    assert list(ETHNIC_GROUPS) == [f"{n:02d}" for n in range(1, 55)]
    assert [code for code in ETHNIC_GROUPS if not is_ethnic_minority(code)] == ["01"]
    assert ETHNIC_GROUPS["02"] == "Tày"
    assert ETHNIC_GROUPS["07"] == "Nùng"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("01", "01"),
        ("1", "01"),
        (2, "02"),
        ("Tày", "02"),
        ("tay", "02"),
        ("Mông", "08"),
        ("Khơ-me", "05"),
        ("Khmer", "05"),
        ("55", None),
        ("00", None),
        ("Martian", None),
    ],
)
def test_ethnicity_by_code_or_name(given: str | int, code: str | None) -> None:
    assert ethnicity_code(given) == code


def test_indicator_catalogue_of_the_contract() -> None:
    assert len(INDICATOR_CODES) == len(set(INDICATOR_CODES)) == 18
    assert {"club_members", "people_reached", "budget_vnd"} <= set(INDICATOR_CODES)
    assert tuple(INDICATORS) == INDICATOR_CODES, "targets name what reporting computes"


def _column(kind: Kind, field: str) -> Column:
    return next(c for c in COLUMNS[kind] if c.field == field)


def test_spreadsheet_cells_are_read_as_the_json_fields() -> None:
    joined = _column("members", "joined_on")
    assert convert(joined, datetime(2023, 9, 5)) == "2023-09-05"
    assert convert(joined, date(2023, 9, 5)) == "2023-09-05"
    assert convert(joined, "05/09/2023") == "2023-09-05"
    assert convert(joined, "2023-09-05") == "2023-09-05"
    with pytest.raises(CellError) as raised:
        convert(joined, "31/02/2023")
    assert "is not a date" in str(raised.value)
    with pytest.raises(CellError) as raised:
        convert(_column("members", "sex"), "gái")
    assert raised.value.vi == "'gái' không hợp lệ; chọn một trong Nữ, Nam"
    assert convert(_column("members", "sex"), "Nữ") == "female"
    assert convert(_column("members", "sex"), "NAM") == "male"
    assert convert(_column("members", "birth_year"), 2010.0) == 2010
    assert convert(_column("members", "ethnic_minority"), "Có") is True
    assert convert(_column("members", "ethnic_minority"), "không") is False
    assert convert(_column("members", "member_code"), 1234.0) == "1234"
    assert convert(_column("clubs", "kind"), "Trường học") == "school"
    assert convert(_column("sites", "kind"), "Trung tâm học tập cộng đồng") == "learning_centre"
    assert (
        convert(_column("classifications", "name"), "Đặc biệt khó khăn") == "especially_difficult"
    )
