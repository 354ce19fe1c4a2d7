"""Rounding restated figures so that rows still add up to their total.

Restated (vn34) figures are sums of shares and so have fractions. They are rounded
once, at the end: the total is the exact sum rounded half to even, and the rows are
apportioned to it by the largest-remainder method (each row gets its value rounded
down, then the units still missing go to the rows with the largest fractions, ties
to the earlier row), so the rows always add up exactly to the total.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

# Float sums of shares carry noise far below this; it is removed before rounding.
_NOISE_DIGITS = 9


def round_half_even(value: float, decimals: int = 0) -> float:
    exact = Decimal(str(round(value, _NOISE_DIGITS)))
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


def round_half_up(value: float, decimals: int = 1) -> float:
    exact = Decimal(str(round(value, _NOISE_DIGITS)))
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def apportion(values: Sequence[float], decimals: int = 0) -> tuple[list[float], float]:
    """Rows rounded to `decimals` places so that they add up to the rounded total."""
    scale = 10**decimals
    scaled = [round(value * scale, _NOISE_DIGITS) for value in values]
    total = round_half_even(sum(scaled))
    floors = [math.floor(value) for value in scaled]
    missing = int(total) - sum(floors)
    order = sorted(range(len(scaled)), key=lambda i: (-(scaled[i] - floors[i]), i))
    rounded = list(floors)
    for position in range(max(missing, 0)):
        rounded[order[position % len(order)]] += 1
    return [value / scale for value in rounded], total / scale
