"""MongoDB's matching, sorting and pipeline rules, as mongomock implements them.

The one place the embedded store borrows semantics rather than storage: the matcher
decides whether a candidate document satisfies a filter (the planner only narrows the
candidates), the sort key orders values of mixed types as BSON does, and the pipeline
runner executes the stages after a leading `$match`. mongomock is untyped; these
wrappers give the rest of the package typed calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mongomock.aggregate import process_pipeline
from mongomock.filtering import filter_applies, resolve_sort_key


def matches(query: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    return bool(filter_applies(query, document))  # type: ignore[no-untyped-call]


def sort_key(path: str, document: Mapping[str, Any]) -> Any:
    return resolve_sort_key(path, document)  # type: ignore[no-untyped-call]


def run_pipeline(
    documents: list[dict[str, Any]], stages: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    return list(process_pipeline(documents, None, list(stages), None))  # type: ignore[no-untyped-call]
