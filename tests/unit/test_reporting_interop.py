"""The DHIS2/ADX mapping shipped with the service, period ids and the ADX message."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest

from services.reporting.adx import ADX_NAMESPACE, adx_message
from services.reporting.catalogue import CATALOGUE, GRADES
from services.reporting.interop import (
    DEFAULT_MAPPING,
    DataPoint,
    Mapped,
    MappingSource,
    adx_period,
    dhis2_period,
)
from shared.http import Problem
from shared.periods import parse_period

SPLITS = {
    "sex": ("female", "male", None),
    "ethnic_minority": (True, False, None),
    "grade": GRADES,
}


def mapped() -> Mapped:
    return Mapped(MappingSource(DEFAULT_MAPPING).load(), DEFAULT_MAPPING)


@pytest.mark.parametrize(
    ("period", "dhis2", "adx"),
    [
        ("2023", "2023", "2023-01-01/P1Y"),
        ("2023H2", "2023S2", "2023-07-01/P6M"),
        ("2023Q1", "2023Q1", "2023-01-01/P3M"),
        ("2023-01", "202301", "2023-01-01/P1M"),
        ("SY2023-2024", "2023July", "2023-09-01/P1Y"),
    ],
)
def test_periods_as_dhis2_ids_and_adx_durations(period: str, dhis2: str, adx: str) -> None:
    parsed = parse_period(period)
    assert dhis2_period(parsed) == dhis2
    assert adx_period(parsed) == adx


def test_a_range_has_an_adx_duration_in_days_and_no_dhis2_id() -> None:
    ranged = parse_period("2024-01-01..2024-12-31")
    assert adx_period(ranged) == "2024-01-01/P366D"
    with pytest.raises(Problem) as refused:
        dhis2_period(ranged)
    assert refused.value.status == 422


def test_the_shipped_mapping_covers_every_indicator_and_split_value() -> None:
    lookups = mapped()
    for indicator in CATALOGUE:
        assert lookups.data_element(indicator.code).startswith("BDG_")
        assert lookups.category_option_combo(()) == "default"
        dims = [dim for dim in indicator.disaggregations if dim in SPLITS or dim == "kind"]
        for dim in dims:
            values = indicator.kind_values if dim == "kind" else SPLITS[dim]
            for value in values:
                assert lookups.category_option_combo(((dim, value),))
                assert lookups.adx_attributes(((dim, value),))
    # Members are the one indicator crossing sex and ethnic minority.
    for sex, minority in itertools.product(("female", "male"), (True, False)):
        crossed = (("sex", sex), ("ethnic_minority", minority))
        assert lookups.category_option_combo(crossed).startswith("BDG_EM_")
    assert lookups.org_unit("vn63:20") == "vn63:20"  # unmapped: its own id


def test_an_unmapped_value_is_refused_naming_it() -> None:
    with pytest.raises(Problem) as refused:
        mapped().category_option_combo((("kind", "picnic"),))
    assert refused.value.status == 422
    assert "'kind=picnic'" in refused.value.detail


def test_a_missing_mapping_file_is_a_503_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(Problem) as refused:
        MappingSource(missing).load()
    assert refused.value.status == 503
    assert str(missing) in refused.value.detail


def test_adx_message_is_namespaced_and_grouped() -> None:
    points = [
        DataPoint("trainees", "vn63:20", parse_period("2023"), (("sex", "female"),), 60, None),
        DataPoint("trainees", "vn63:20", parse_period("2023"), (("sex", "male"),), 40, None),
        DataPoint("trainees", "vn63:186", parse_period("2023"), (("sex", "female"),), 0, None),
    ]
    message = adx_message(points, mapped(), datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert message.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ElementTree.fromstring(message)
    assert root.tag == f"{{{ADX_NAMESPACE}}}adx"
    assert root.get("exported") == "2025-01-02T03:04:05+00:00"
    groups = root.findall(f"{{{ADX_NAMESPACE}}}group")
    assert [len(group) for group in groups] == [2, 1]
    first = groups[0][0]
    assert (first.get("dataElement"), first.get("SEX"), first.get("value")) == (
        "BDG_TRAINEES",
        "F",
        "60",
    )
