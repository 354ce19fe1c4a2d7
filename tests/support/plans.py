"""Which index serves each query the services run: recorded on the embedded store.

`record_plans()` wraps the embedded store's planner for the duration of a test and
collects, per query shape (collection, filter paths with their operators, sort), the
index that served it. `unindexed()` lists the shapes no index served, apart from the
reads of a whole collection that the services make on purpose (loading their
in-memory reference copies).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.embedded import operations
from shared.embedded.query import Plan, plan


def filter_shape(query: Mapping[str, Any] | None) -> str:
    """The paths of a filter with their operators: `{a:=,b:$gte+$lt,$or[{c:=}|{c:$gt}]}`
    (keys sorted, values left out)."""
    parts = []
    for key, value in sorted((query or {}).items()):
        if isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value):
            parts.append(f"{key}:{'+'.join(sorted(value))}")
        elif isinstance(value, list) and key.startswith("$"):
            parts.append(f"{key}[{'|'.join(filter_shape(item) for item in value)}]")
        else:
            parts.append(f"{key}:=")
    return "{" + ",".join(parts) + "}"


@dataclass
class Plans:
    served: dict[tuple[str, str, str], set[str | None]] = field(default_factory=dict)

    def note(self, collection: str, query: Mapping[str, Any] | None, sort: Any, plan: Plan) -> None:
        name = re.sub(r"_g\d+$", "", collection)
        key = (name, filter_shape(query), ",".join(f"{p}:{d}" for p, d in sort or ()))
        self.served.setdefault(key, set()).add(plan.index)

    def unindexed(self) -> list[tuple[str, str, str]]:
        """Shapes some run of which no index served, whole-collection reads aside."""
        return sorted(
            key for key, indexes in self.served.items() if None in indexes and key[1] != "{}"
        )


@contextmanager
def record_plans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Plans]:
    plans = Plans()
    original = plan  # what `operations` calls, replaced there below

    def recording(collection: str, info: Any, query: Any, sort: Any) -> Plan:
        chosen = original(collection, info, query, sort)
        plans.note(collection, query, sort, chosen)
        return chosen

    monkeypatch.setattr(operations, "plan", recording)
    yield plans
