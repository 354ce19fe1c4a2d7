"""Figures restated onto the vn34 units, computed the way docs/reporting.md defines them,
independently of the reporting service's code.

A flow measure recorded on a vn63 commune counts `measure * share` on each vn34
commune the registry lists as its successor (`GET /v1/units/{id}/successors`); a
commune merged whole has one successor with share 1, a divided one several whose
shares add up to 1. A measure recorded on a vn34 unit keeps share 1. The exact sums
are kept (the shares are binary fractions, so `Fraction(share)` loses nothing) and
rounded only at the end of a query:

- the total is the exact sum of every row rounded half to even;
- each row is rounded down, and the units still missing to reach the total go to the
  rows with the largest fractional parts (ties to the earlier row).

Clubs are never split: a club counts whole at its unit's *principal successor* (the
successor with the largest share; ties to the smaller id).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

Shares = Mapping[str, Mapping[str, float]]
# `(recorded unit, measure)` pairs.
Pairs = Sequence[tuple[str, float]]


def spread(contributions: Pairs, shares: Shares) -> dict[str, Fraction]:
    """Exact sums per vn34 unit of `(unit, measure)` pairs; a vn63 unit goes through
    `shares[unit]` (its successors), a vn34 unit counts whole."""
    sums: dict[str, Fraction] = {}
    for unit, measure in contributions:
        targets = shares[unit] if unit.startswith("vn63:") else {unit: 1.0}
        for target, share in targets.items():
            sums[target] = sums.get(target, Fraction(0)) + Fraction(measure) * Fraction(share)
    return sums


def apportion(exact: Mapping[str, Fraction], order: Sequence[str]) -> tuple[dict[str, int], int]:
    """Rows (in the API's `order`) rounded down, topped up by largest remainder to the
    total rounded half to even; returns the rows and the total."""
    values = [exact.get(key, Fraction(0)) for key in order]
    total = round(sum(values, Fraction(0)))  # Fraction rounds half to even
    rows = [math.floor(value) for value in values]
    ranked = sorted(range(len(values)), key=lambda i: (-(values[i] - rows[i]), i))
    for i in ranked[: total - sum(rows)]:
        rows[i] += 1
    return dict(zip(order, rows, strict=True)), total


def principal_successor(successors: Mapping[str, float]) -> str:
    """Where a club on this vn63 unit counts after the reform."""
    return min(successors, key=lambda unit: (-successors[unit], unit))
