"""Query plans: which index answers a MongoDB filter and sort, as SQL over its entries.

The planner reads the filter's predicates that an index can serve — equality, `$in`
and ranges with scalar operands, on top-level paths or inside `$and` — and picks the
index whose leading keys they cover best (the primary key for `_id`): equalities on
a prefix of its keys, then a range on the next (a partial index only for a filter
asking for every equality of its own filter). The SQL walks that index's entries; if
the remaining keys follow the requested sort, rows come already sorted and a limit
stops the walk early. A plan is *exact* when its SQL condition is the whole filter
(every predicate served, operands whose comparison SQLite and MongoDB agree on, type
bracketing kept by a guard on ranges); otherwise each candidate is checked with
mongomock's matcher. Without a usable index the plan is a scan, and the test of the
repositories' query shapes (tests/unit/test_query_shapes.py) fails for it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId

from shared.embedded.codec import TAG, encode_value, key_of, sql_scalar
from shared.embedded.engine import NULL_KEY, CollectionInfo, IndexSpec, table_of

Sort = Sequence[tuple[str, int]]
_COMPARISONS = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_RANGES = ("$gt", "$gte", "$lt", "$lte")


@dataclass(frozen=True)
class Predicate:
    operator: str  # $eq, $in or a range operator
    operand: Any


@dataclass
class Predicates:
    by_path: dict[str, list[Predicate]] = field(default_factory=dict)
    # Parts of the filter no index can serve ($or, $ne, regexes, arrays as operands…).
    rest: bool = False
    # Paths with such a part among their operators.
    partial: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Plan:
    """SQL selecting `(id, doc)` candidates; `index` names what serves it."""

    source: str  # what follows FROM: the tables, the conditions and the order
    table_alias: str  # how the source names the collection's table ("" or "t.")
    count: str
    params: tuple[Any, ...]
    index: str | None  # an index name, "_id_" for the primary key, None for a scan
    exact: bool
    # What each candidate must still be checked against (the filter less what the SQL
    # decided exactly); None when the SQL decided everything.
    residual: dict[str, Any] | None
    ordered: bool
    may_repeat: bool  # a document can appear once per matching array element

    def selecting(self, fields: Sequence[str] | None = None) -> str:
        """The SQL selecting `id` and the stored document, or only the JSON text of
        some of its top-level fields (plain names: see `plain_field`), each NULL where
        missing."""
        doc = f"{self.table_alias}doc"
        columns = doc if fields is None else ", ".join(f"{doc} -> '$.{f}'" for f in fields)
        return f"SELECT {self.table_alias}id, {columns} FROM {self.source}"


JSON_ARROW = sqlite3.sqlite_version_info >= (3, 38, 0)  # SQLite's `->`, used where it can
_PLAIN_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def plain_field(name: Any) -> bool:
    """A top-level field name a JSON path names as it is (`$.name`)."""
    return isinstance(name, str) and _PLAIN_FIELD.fullmatch(name) is not None


def _scalar(value: Any) -> bool:
    """Operands an index entry can be compared with (booleans as 1 and 0: rechecked)."""
    return isinstance(value, (str, int, float, datetime, ObjectId)) or value is None


def _plain(value: Any) -> bool:
    """Operands SQLite compares as MongoDB does (numbers may meet booleans: rechecked)."""
    return isinstance(value, (str, datetime, ObjectId))


def predicates(query: Mapping[str, Any] | None, into: Predicates | None = None) -> Predicates:
    found = into or Predicates()
    for key, spec in (query or {}).items():
        if key == "$and" and isinstance(spec, Sequence):
            for part in spec:
                predicates(part, found)
            continue
        if key.startswith("$"):
            found.rest = True
            continue
        operators = (
            spec
            if isinstance(spec, Mapping) and spec and all(str(k).startswith("$") for k in spec)
            else {"$eq": spec}
        )
        for operator, operand in operators.items():
            if (operator in _COMPARISONS and _scalar(operand)) or (
                operator == "$in"
                and isinstance(operand, (list, tuple))
                and all(_scalar(item) for item in operand)
            ):
                found.by_path.setdefault(key, []).append(Predicate(operator, operand))
            else:
                found.rest = True
                found.partial.add(key)
    return found


def _value(path: str, operand: Any) -> Any:
    return key_of(operand) if path == "_id" else sql_scalar(operand)


def _conditions(
    column: str, path: str, found: list[Predicate], multikey: bool
) -> tuple[list[str], list[Any], bool]:
    """SQL for one path's predicates, and whether it is exact."""
    sql: list[str] = []
    params: list[Any] = []
    exact = True
    ranged = False
    # The primary key is never null; an index entry holds `NULL_KEY` for null or missing.
    null_sql, null_params = (
        (f"{column} IS NULL", []) if path == "_id" else (f"{column} = ?", [NULL_KEY])
    )
    for predicate in found:
        operand = predicate.operand
        if predicate.operator == "$in":
            values = [item for item in operand if item is not None]
            parts = []
            if values:
                parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(_value(path, item) for item in values)
            if len(values) < len(operand):
                parts.append(null_sql)
                params.extend(null_params)
                exact = False  # null also matches a missing field, or an array holding null
            sql.append("(" + " OR ".join(parts) + ")" if parts else "0")
            exact = exact and all(_plain(item) for item in values)
            continue
        if operand is None:
            sql.append(null_sql)
            params.extend(null_params)
            exact = False
            continue
        sql.append(f"{column} {_COMPARISONS[predicate.operator]} ?")
        params.append(_value(path, operand))
        exact = exact and _plain(operand)
        if predicate.operator in _RANGES:
            exact = exact and not multikey  # each bound may be met by another element
            if path != "_id" and _plain(operand) and not ranged:
                guard, guard_params = _same_type(column, operand)
                sql.append(guard)
                params.extend(guard_params)
                ranged = True
            elif path != "_id" and predicate.operator in ("$lt", "$lte"):
                sql.append(f"{column} > ?")  # not the null entries below every number
                params.append(NULL_KEY)
    return sql, params, exact


def _same_type(column: str, operand: Any) -> tuple[str, list[Any]]:
    """Keep a range on values of the operand's type, as MongoDB's type bracketing does
    (SQLite would compare numbers with text, and tagged dates with strings)."""
    if isinstance(operand, str):
        return (
            f"(typeof({column}) = 'text' AND (substr({column}, 1, 1) <> ? "
            f"OR substr({column}, 2, 1) = ?))",
            [TAG, TAG],
        )
    return f"substr({column}, 1, 2) = ?", [encode_value(operand)[:2]]


def _coverage(spec: IndexSpec, found: Predicates) -> tuple[int, int]:
    """How many leading keys of `spec` the filter fixes by equality, then by a range."""
    equal = 0
    for path in spec.paths:
        preds = found.by_path.get(path, [])
        if preds and all(p.operator in ("$eq", "$in") for p in preds):
            equal += 1
            continue
        if preds and any(p.operator in _RANGES for p in preds):
            return equal, 1
        break
    return equal, 0


def _same_equality(predicate: Predicate, wanted: Any) -> bool:
    operand = predicate.operand
    return predicate.operator == "$eq" and type(operand) is type(wanted) and operand == wanted


def _implies(found: Predicates, spec: IndexSpec) -> bool:
    """Whether the filter asks for every equality of a partial index's filter, so that
    every document it can match has entries in that index (MongoDB's rule too)."""
    return all(
        any(_same_equality(p, wanted) for p in found.by_path.get(path, []))
        for path, wanted in spec.partial
    )


def _sorts_like(spec: IndexSpec, equal: int, sort: Sort) -> int:
    """+1 or -1 when the index keys after the equalities follow `sort`, else 0."""
    if not sort or spec.multikey:
        return 0
    rest = [*spec.paths[equal:], "_id"]
    if [path for path, _ in sort] != rest[: len(sort)]:
        return 0
    directions = {direction for _, direction in sort}
    if len(directions) != 1:
        return 0
    return 1 if directions == {1} else -1


def plan(
    collection: str, info: CollectionInfo, query: Mapping[str, Any] | None, sort: Sort
) -> Plan:
    found = predicates(query)
    table = table_of(collection)
    id_preds = found.by_path.get("_id", [])
    id_sql, id_params, id_exact = _conditions("id", "_id", id_preds, multikey=False)
    by_id_order = [path for path, _ in sort] in ([], ["_id"])
    id_order = f" ORDER BY id {'DESC' if sort and sort[0][1] < 0 else 'ASC'}" if sort else ""
    if any(p.operator in ("$eq", "$in") for p in id_preds):
        where = " WHERE " + " AND ".join(id_sql)
        return Plan(
            f"{table}{where}{id_order if by_id_order else ''}",
            "",
            f"SELECT COUNT(*) FROM {table}{where}",
            tuple(id_params),
            "_id_",
            *_decided(query, found, {"_id"} if id_exact else set()),
            by_id_order,
            False,
        )
    best: tuple[tuple[int, int, int, int], IndexSpec] | None = None
    for spec in info.indexes:
        if spec.partial and not _implies(found, spec):
            continue  # a partial index holds only some documents: not enough here
        equal, ranged = _coverage(spec, found)
        if equal + ranged == 0:
            continue
        score = (equal, ranged, abs(_sorts_like(spec, equal, sort)), -len(spec.keys))
        if best is None or score > best[0]:
            best = (score, spec)
    if best is None:
        # No index: the primary key serves a range on `_id`, or the whole table is read.
        where = " WHERE " + " AND ".join(id_sql) if id_sql else ""
        return Plan(
            f"{table}{where}{id_order if by_id_order else ''}",
            "",
            f"SELECT COUNT(*) FROM {table}{where}",
            tuple(id_params),
            "_id_" if id_sql else None,
            *_decided(query, found, {"_id"} if id_sql and id_exact else set()),
            by_id_order,
            False,
        )
    (equal, _, _, _), spec = best
    entries = spec.table(collection)
    sql: list[str] = []
    params: list[Any] = []
    decided: set[str] = set()
    columns_of = dict(zip(spec.paths, spec.columns, strict=True))
    if "_id" not in columns_of:
        columns_of["_id"] = "id"
    for path, column in columns_of.items():
        if path in found.by_path:
            more, more_params, path_exact = _conditions(
                f"x.{column}", path, found.by_path[path], spec.multikey and path != "_id"
            )
            sql.extend(more)
            params.extend(more_params)
            if path_exact:
                decided.add(path)
    # A partial index holds exactly the documents meeting its filter (MongoDB's
    # equality, arrays included): the filter's same equalities need no second look.
    decided |= {
        path
        for path, wanted in spec.partial
        if all(_same_equality(p, wanted) for p in found.by_path.get(path, []))
    }
    direction = _sorts_like(spec, equal, sort)
    order = ""
    if direction:
        columns = [*spec.columns[equal:], "id"][: len(sort)]
        order = " ORDER BY " + ", ".join(
            f"x.{column} {'ASC' if direction > 0 else 'DESC'}" for column in columns
        )
    where = " AND ".join(sql)
    return Plan(
        f"{entries} AS x JOIN {table} AS t ON t.id = x.id WHERE {where}{order}",
        "t.",
        f"SELECT COUNT(DISTINCT x.id) FROM {entries} AS x WHERE {where}",
        tuple(params),
        spec.name,
        *_decided(query, found, decided),
        bool(direction) or not sort,
        spec.multikey,
    )


def _decided(
    query: Mapping[str, Any] | None, found: Predicates, exact_paths: set[str]
) -> tuple[bool, dict[str, Any] | None]:
    """(exact, residual): what of the filter is left to check on each candidate."""
    decided = exact_paths - found.partial
    residual = {key: value for key, value in (query or {}).items() if key not in decided}
    return not residual, residual or None


def project(document: dict[str, Any], projection: Mapping[str, Any] | None) -> dict[str, Any]:
    """MongoDB's find projection for top-level and dotted paths, inclusive or exclusive."""
    if not projection:
        return document
    flags = {path: bool(value) for path, value in projection.items()}
    keep_id = flags.pop("_id", True)
    if not flags and keep_id:  # `{"_id": 1}`: the key alone
        return {"_id": document["_id"]} if "_id" in document else {}
    if not flags or not any(flags.values()):
        result = {key: value for key, value in document.items() if keep_id or key != "_id"}
        for path in flags:
            _remove(result, path.split("."))
        return result
    result = {"_id": document["_id"]} if keep_id and "_id" in document else {}
    for path in flags:
        if "." in path:
            _copy(document, result, path.split("."))
        elif path in document:
            result[path] = document[path]
    return result


def _remove(document: dict[str, Any], parts: list[str]) -> None:
    head, *rest = parts
    if head not in document:
        return
    if not rest:
        del document[head]
    elif isinstance(document[head], dict):
        document[head] = dict(document[head])
        _remove(document[head], rest)


def _copy(source: dict[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    head, *rest = parts
    if head not in source:
        return
    if not rest:
        target[head] = source[head]
    elif isinstance(source[head], dict):
        inner = target.setdefault(head, {})
        if isinstance(inner, dict):
            _copy(source[head], inner, rest)
