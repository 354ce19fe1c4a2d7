"""Expected indicator values, read back from reporting's `/v1/indicators/{code}/values`
and compared exactly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

Cell = Any  # one dimension's value, or a tuple of them when `by` names several


@dataclass(frozen=True)
class Figure:
    """One query and its exact answer. `cells` holds the non-zero rows keyed by the
    value of the `by` dimension (`unit_id` for `child_unit`), or by a tuple of values
    when `by` names several; every row not listed must be 0."""

    indicator: str
    unit_id: str
    period: str
    total: float
    cells: Mapping[Cell, float] = field(default_factory=dict)
    by: str = ""
    structure: str = "as_was"
    programme: str | None = None

    def params(self) -> dict[str, str]:
        params = {"unit_id": self.unit_id, "period": self.period, "structure": self.structure}
        if self.by:
            params["by"] = self.by
        if self.programme:
            params["programme"] = self.programme
        return params

    def label(self) -> str:
        return (
            f"{self.indicator} {self.unit_id} {self.period} by={self.by or '-'} "
            f"{self.structure}{' ' + self.programme if self.programme else ''}"
        )


def _key(row: dict[str, Any], dims: list[str]) -> Cell:
    values = [row["unit_id"] if dim == "child_unit" else row[dim] for dim in dims]
    return values[0] if len(values) == 1 else tuple(values)


def mismatch(figure: Figure, body: dict[str, Any]) -> str | None:
    """What differs between a response and the expected figure (None when equal)."""
    dims = [dim for dim in figure.by.split(",") if dim]
    got_cells = {_key(row, dims): row["value"] for row in body["rows"]} if dims else {}
    problems = []
    if body["total"] != figure.total:
        problems.append(f"total {body['total']} != {figure.total}")
    if dims and sum(row["value"] for row in body["rows"]) != body["total"]:
        problems.append("rows do not add up to the total")
    nonzero = {key: value for key, value in got_cells.items() if value}
    if dims and nonzero != dict(figure.cells):
        problems.append(f"rows {nonzero} != {dict(figure.cells)}")
    missing = [key for key in figure.cells if key not in got_cells]
    if missing:
        problems.append(f"no rows for {missing}")
    return f"{figure.label()}: {'; '.join(problems)}" if problems else None


async def read(client: httpx.AsyncClient, figure: Figure) -> dict[str, Any]:
    response = await client.get(f"/v1/indicators/{figure.indicator}/values", params=figure.params())
    assert response.status_code == 200, f"{figure.label()}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def check_figures(client: httpx.AsyncClient, figures: list[Figure]) -> list[dict[str, Any]]:
    """Assert every figure; returns the responses without `as_of` (to compare runs)."""
    bodies, problems = [], []
    for figure in figures:
        body = await read(client, figure)
        problem = mismatch(figure, body)
        if problem:
            problems.append(problem)
        body.pop("as_of", None)
        bodies.append(body)
    assert not problems, "\n".join(problems)
    return bodies
