"""Updates SQLite applies to the stored text itself, without decoding the document.

The outbox relay marks every document it published: each update names the document by
`_id`, guards on its outbox being as read, empties it and removes the pending marker.
Decoding a whole document, matching it, applying the update and encoding it again cost
more than all the rest of its write. An update made only of `$set` and `$unset` of
top-level fields, with a filter of `_id` and equalities on top-level fields, is a
*patch*: SQLite extracts just the fields the filter, the update and the indexes it
moves name (`doc -> '$.field'`), and writes with `json_set` and `json_remove`, which
change those fields in place and append a new one at the end, as MongoDB does.

An equality is decided here only when the field's stored text is the text its value
encodes to (then the values are equal). Any other outcome (a missing field, an array
holding the value, 1 against 1.0) leaves the update to the general path, which
decodes and matches; so does a document SQLite cannot read as JSON (NaN written by an
earlier version) and a patch that would move a unique index, whose duplicate-key error
needs the whole document.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bson.errors import InvalidDocument

from shared.embedded import codec
from shared.embedded.engine import (
    IndexSpec,
    SqliteFile,
    entries,
    key_named,
    rows_of_keys,
    table_of,
)
from shared.embedded.query import JSON_ARROW, plain_field

_EMPTY = ("[]", "{}")  # the only texts of an empty array and an empty document


@dataclass(frozen=True)
class Patch:
    key: Any  # the document's key column value
    conditions: tuple[tuple[str, str], ...]  # (field, the text its value encodes to)
    sets: tuple[tuple[str, str], ...]  # (field, the text of its new value)
    unsets: tuple[str, ...]

    @cached_property
    def changed(self) -> frozenset[str]:
        return frozenset(field for field, _ in self.sets) | frozenset(self.unsets)


@dataclass(frozen=True)
class Applied:
    """What a patch did: whether its filter matched, and whether it changed anything."""

    matched: bool
    modified: bool


def _field(name: Any) -> bool:
    return name != "_id" and plain_field(name)


def _operator_free(value: Any) -> bool:
    """A value equality with which is equality of stored text: not an operator
    expression (a document whose first key starts with `$`) nor a regular expression
    (the codec stores neither, so one further down makes the text fail)."""
    if isinstance(value, Mapping):
        return not value or not str(next(iter(value))).startswith("$")
    return not isinstance(value, re.Pattern)


def _text(value: Any) -> str | None:
    try:
        return codec.dumps(value)
    except (InvalidDocument, OverflowError, TypeError, ValueError):
        return None


def patch_of(query: Mapping[str, Any], change: Mapping[str, Any]) -> Patch | None:
    """The patch an update amounts to, or None when it needs the general path."""
    key = key_named(query)
    if key is None:
        return None
    if not change or not set(change) <= {"$set", "$unset"}:
        return None
    sets_of, unsets_of = change.get("$set", {}), change.get("$unset", {})
    if not isinstance(sets_of, Mapping) or not isinstance(unsets_of, Mapping):
        return None
    if not (sets_of or unsets_of) or set(sets_of) & set(unsets_of):
        return None
    if not all(_field(name) for name in [*sets_of, *unsets_of]):
        return None
    conditions = []
    for name, value in query.items():
        if name == "_id":
            continue
        text = _text(value) if _field(name) and _operator_free(value) else None
        if text is None or text == "null":  # null also matches a missing field
            return None
        conditions.append((name, text))
    sets = [(name, _text(value)) for name, value in sets_of.items()]
    if any(text is None for _, text in sets):
        return None
    return Patch(
        key,
        tuple(conditions),
        tuple((name, text) for name, text in sets if text is not None),
        tuple(unsets_of),
    )


def _moved(store: SqliteFile, collection: str, patch: Patch) -> list[IndexSpec]:
    changed = patch.changed
    return [spec for spec in store.info(collection).indexes if not spec.roots.isdisjoint(changed)]


def apply(
    store: SqliteFile, connection: sqlite3.Connection, collection: str, patches: list[Patch]
) -> list[Applied | None]:
    """Apply each patch that can be decided on its fields' text; None for the others,
    which the caller runs on the general path. Patches must name distinct documents."""
    outcomes: list[Applied | None] = [None] * len(patches)
    if not JSON_ARROW:
        return outcomes
    if not store.info(collection).exists:
        return [Applied(False, False)] * len(patches)
    groups: dict[tuple[str, ...], list[int]] = {}
    moved = [_moved(store, collection, patch) for patch in patches]
    if any(spec.unique for specs in moved for spec in specs):
        return outcomes
    for position, patch in enumerate(patches):
        names = {name for name, _ in patch.conditions} | patch.changed
        names |= {root for spec in moved[position] for root in spec.roots}
        if not all(plain_field(name) for name in names):
            continue  # an index on a field no plain path can name
        groups.setdefault(tuple(sorted(names)), []).append(position)
    try:
        for wanted, positions in groups.items():
            fields = _read(connection, collection, wanted, [patches[p].key for p in positions])
            for position in positions:
                found = fields.get(patches[position].key)
                outcomes[position] = (
                    Applied(False, False)
                    if found is None
                    else _apply_one(
                        store, connection, collection, patches[position], moved[position], found
                    )
                )
    except sqlite3.OperationalError as exc:
        if "malformed JSON" not in str(exc):
            raise
        # A document of an earlier version holds NaN: what is left goes the general way.
    return outcomes


def _read(
    connection: sqlite3.Connection, collection: str, names: tuple[str, ...], keys: list[Any]
) -> dict[Any, dict[str, str | None]]:
    """For each key found: the stored text of each named field (None where missing)."""
    columns = ", ".join(f"doc -> '$.{name}'" for name in names)
    return {
        row[0]: dict(zip(names, row[1:], strict=True))
        for row in rows_of_keys(connection, collection, columns, keys)
    }


def _apply_one(
    store: SqliteFile,
    connection: sqlite3.Connection,
    collection: str,
    patch: Patch,
    moved: list[IndexSpec],
    stored: dict[str, str | None],
) -> Applied | None:
    if any(stored[name] != text for name, text in patch.conditions):
        return None  # maybe no match, maybe an equal value written otherwise
    modified = any(stored[name] is not None for name in patch.unsets) or any(
        _differs(stored[name], text) for name, text in patch.sets
    )
    if not modified:
        return Applied(True, False)
    updated = "doc"
    if patch.sets:
        pairs = ", ".join(f"'$.{name}', json(?)" for name, _ in patch.sets)
        updated = f"json_set({updated}, {pairs})"
    if patch.unsets:
        paths = ", ".join(f"'$.{name}'" for name in patch.unsets)
        updated = f"json_remove({updated}, {paths})"
    connection.execute(
        f"UPDATE {table_of(collection)} SET doc = {updated} WHERE id = ?",
        [*(text for _, text in patch.sets), patch.key],
    )
    if moved:
        # The moved indexes' fields alone, before and after.
        roots = {root for spec in moved for root in spec.roots}
        before = {
            name: codec.loads_value(text)
            for name, text in stored.items()
            if name in roots and text is not None
        }
        after = {name: value for name, value in before.items() if name not in patch.unsets}
        after.update((name, codec.loads_value(text)) for name, text in patch.sets if name in roots)
        for spec in moved:
            old, new = entries(spec, before, patch.key), entries(spec, after, patch.key)
            if old != new:
                store.remove_entries(connection, collection, spec, old - new)
                store.add_entries(connection, collection, spec, [new - old], complete=[new])
    return Applied(True, True)


def _differs(stored: str | None, text: str) -> bool:
    """Whether setting a field to `text` changes it (equal values may be written
    differently: 1 and 1.0; an empty container has only one text)."""
    if stored is None or stored == text:
        return stored is None
    if stored in _EMPTY or text in _EMPTY:
        return True
    return bool(codec.loads_value(stored) != codec.loads_value(text))
