"""Restated figures: rounded once, rows apportioned so they add up to the total."""

from __future__ import annotations

import pytest

from services.reporting.reports import achieved_pct
from services.reporting.rounding import apportion, round_half_even


def test_rows_add_up_to_the_rounded_total() -> None:
    rows, total = apportion([13.0, 7.2, 9.0, 7.8, 0.0, 0.0])
    assert total == 37
    assert rows == [13, 7, 9, 8, 0, 0]


def test_thirds_keep_their_total() -> None:
    rows, total = apportion([10 / 3, 10 / 3, 10 / 3])
    assert total == 10
    assert rows == [4, 3, 3]
    assert sum(rows) == total


def test_total_rounds_half_to_even() -> None:
    assert apportion([0.25, 0.25])[1] == 0
    assert apportion([0.75, 0.75])[1] == 2
    assert round_half_even(2.5) == 2
    assert round_half_even(3.5) == 4


def test_float_noise_does_not_move_a_figure() -> None:
    # 0.6 * 55 + 0.4 * 55 in floating point is not exactly 55.
    rows, total = apportion([0.6 * 55, 0.4 * 55])
    assert (rows, total) == ([33, 22], 55)


def test_decimals() -> None:
    rows, total = apportion([0.555, 0.555], decimals=2)
    assert total == pytest.approx(1.11)
    assert sum(rows) == pytest.approx(total)


@pytest.mark.parametrize(
    ("actual", "target", "pct"),
    [(100, 120, 83.3), (1, 4, 25.0), (6, 6, 100.0), (1, 0, None), (None, 5, None),
     (1, 8, 12.5), (5, 3, 166.7)],
)  # fmt: skip
def test_achieved_percentage(actual: float | None, target: float, pct: float | None) -> None:
    assert achieved_pct(actual, target) == pct
