"""MongoDB update operators applied to a document held in memory.

The operators the project writes with — `$set`, `$unset`, `$inc`, `$max`, `$min`,
`$push` (with `$each`), `$pull` (a value or a condition), `$addToSet` and
`$setOnInsert` — on top-level and dotted paths, with MongoDB's rules for missing
fields and for the immutable `_id`. Anything else is refused by name rather than
approximated. Conditions inside `$pull` use the same matcher as queries (semantics.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from bson import ObjectId
from pymongo.errors import WriteError

from shared.embedded.semantics import matches

Document = dict[str, Any]
_MISSING = object()
_BAD_VALUE = 2
_IMMUTABLE_FIELD = 66


def _parent(document: Document, path: str, create: bool) -> tuple[Any, str]:
    """The container holding the last part of `path`, created on the way if asked."""
    parts = path.split(".")
    current: Any = document
    for part in parts[:-1]:
        if isinstance(current, list) and part.isdigit():
            index = int(part)
            if index >= len(current):
                if not create:
                    return None, parts[-1]
                current.extend([None] * (index + 1 - len(current)))
            if current[index] is None and create:
                current[index] = {}
            current = current[index]
        elif isinstance(current, dict):
            if part not in current or current[part] is None:
                if not create:
                    return None, parts[-1]
                current[part] = {}
            current = current[part]
        else:
            if not create:
                return None, parts[-1]
            raise WriteError(f"cannot create field {part!r} in element {current!r}", _BAD_VALUE)
    return current, parts[-1]


def _get(document: Document, path: str) -> Any:
    container, name = _parent(document, path, create=False)
    if isinstance(container, dict):
        return container.get(name, _MISSING)
    if isinstance(container, list) and name.isdigit() and int(name) < len(container):
        return container[int(name)]
    return _MISSING


def _put(document: Document, path: str, value: Any) -> None:
    container, name = _parent(document, path, create=True)
    if isinstance(container, list) and name.isdigit():
        index = int(name)
        if index >= len(container):
            container.extend([None] * (index + 1 - len(container)))
        container[index] = value
    elif isinstance(container, dict):
        container[name] = value
    else:
        raise WriteError(f"cannot set field {name!r} in element {container!r}", _BAD_VALUE)


def _unset(document: Document, path: str) -> None:
    container, name = _parent(document, path, create=False)
    if isinstance(container, dict):
        container.pop(name, None)
    elif isinstance(container, list) and name.isdigit() and int(name) < len(container):
        container[int(name)] = None


def _number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WriteError(f"cannot apply arithmetic to non-numeric field {path!r}", 14)


def _set(document: Document, path: str, value: Any) -> None:
    _put(document, path, copy.deepcopy(value))


def _inc(document: Document, path: str, value: Any) -> None:
    _number(value, path)
    current = _get(document, path)
    if current is _MISSING or current is None:
        _put(document, path, value)
        return
    _number(current, path)
    _put(document, path, current + value)


def _compare_and_keep(keep_new: Callable[[Any, Any], bool]) -> Callable[[Document, str, Any], None]:
    def apply(document: Document, path: str, value: Any) -> None:
        current = _get(document, path)
        if current is _MISSING or keep_new(value, current):
            _put(document, path, copy.deepcopy(value))

    return apply


def _greater(new: Any, current: Any) -> bool:
    try:
        return bool(new > current)
    except TypeError:
        return False


def _smaller(new: Any, current: Any) -> bool:
    try:
        return bool(new < current)
    except TypeError:
        return False


def _array_at(document: Document, path: str) -> list[Any]:
    current = _get(document, path)
    if current is _MISSING or current is None:
        array: list[Any] = []
        _put(document, path, array)
        return array
    if not isinstance(current, list):
        raise WriteError(f"the field {path!r} must be an array", _BAD_VALUE)
    return current


def _items(value: Any) -> list[Any]:
    if isinstance(value, Mapping) and "$each" in value:
        if set(value) - {"$each"}:
            raise WriteError(f"unsupported $push modifiers {sorted(value)}", _BAD_VALUE)
        return list(value["$each"])
    return [value]


def _push(document: Document, path: str, value: Any) -> None:
    _array_at(document, path).extend(copy.deepcopy(_items(value)))


def _add_to_set(document: Document, path: str, value: Any) -> None:
    array = _array_at(document, path)
    for item in _items(value):
        if item not in array:
            array.append(copy.deepcopy(item))


def _pull_matches(condition: Any) -> Callable[[Any], bool]:
    members = _member_test(condition)
    if members is not None:
        return members
    if isinstance(condition, Mapping) and condition:
        if all(str(key).startswith("$") for key in condition):
            return lambda item: matches({"v": condition}, {"v": item})
        return lambda item: isinstance(item, dict) and matches(condition, item)
    return lambda item: bool(item == condition)


def _member_test(condition: Any) -> Callable[[Any], bool] | None:
    """`{"field": {"$in": [strings]}}` — the outbox's pull of sent events — as a set
    lookup rather than a scan of the list for every element."""
    if not (isinstance(condition, Mapping) and len(condition) == 1):
        return None
    ((field, spec),) = condition.items()
    if str(field).startswith("$") or not (isinstance(spec, Mapping) and set(spec) == {"$in"}):
        return None
    values = spec["$in"]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        return None
    wanted = frozenset(values)
    return lambda item: (
        isinstance(item, dict) and isinstance(item.get(field), str) and (item[field] in wanted)
    )


def _pull(document: Document, path: str, condition: Any) -> None:
    current = _get(document, path)
    if current is _MISSING or current is None:
        return
    if not isinstance(current, list):
        raise WriteError(f"cannot apply $pull to a non-array value at {path!r}", _BAD_VALUE)
    matches = _pull_matches(condition)
    _put(document, path, [item for item in current if not matches(item)])


_OPERATORS: dict[str, Callable[[Document, str, Any], None]] = {
    "$set": _set,
    "$unset": lambda document, path, _value: _unset(document, path),
    "$inc": _inc,
    "$max": _compare_and_keep(_greater),
    "$min": _compare_and_keep(_smaller),
    "$push": _push,
    "$addToSet": _add_to_set,
    "$pull": _pull,
}


def is_update_document(update: Mapping[str, Any]) -> bool:
    return bool(update) and all(str(key).startswith("$") for key in update)


def apply_update(
    document: Document, update: Mapping[str, Any], *, inserting: bool, in_place: bool = False
) -> Document:
    """`document` with `update`'s operators applied: a new document, or `document`
    itself changed when `in_place` (the caller holds another copy to compare with)."""
    if not is_update_document(update):
        raise ValueError("update only works with $ operators")
    original_id = document.get("_id")
    had_id = "_id" in document
    result = document if in_place else copy.deepcopy(document)
    for operator, fields in update.items():
        if operator == "$setOnInsert":
            if inserting:
                for path, value in fields.items():
                    _set(result, path, value)
            continue
        apply = _OPERATORS.get(operator)
        if apply is None:
            raise WriteError(f"the embedded store does not support {operator}", _BAD_VALUE)
        for path, value in fields.items():
            apply(result, path, value)
    if had_id and result.get("_id") != original_id:
        raise WriteError(
            "Performing an update on the path '_id' would modify the immutable field '_id'",
            _IMMUTABLE_FIELD,
        )
    return result


def replacement(document: Document, new: Mapping[str, Any]) -> Document:
    """A whole-document replacement keeping `_id`."""
    if is_update_document(new):
        raise ValueError("replacement document must not contain $ operators")
    if "_id" in new and new["_id"] != document["_id"]:
        raise WriteError("the _id field cannot be changed by a replacement", _IMMUTABLE_FIELD)
    # Not copied: the store encodes it at once and keeps no reference to it.
    return {"_id": document["_id"], **{k: v for k, v in new.items() if k != "_id"}}


def upserted(query: Mapping[str, Any], update: Mapping[str, Any]) -> Document:
    """The document an upsert inserts: the query's equality fields, then the update."""
    seed: Document = {}
    for path, value in query.items():
        if path.startswith("$"):
            continue
        if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
            if set(value) == {"$eq"}:
                _put(seed, path, copy.deepcopy(value["$eq"]))
            continue
        _put(seed, path, copy.deepcopy(value))
    if is_update_document(update):
        document = apply_update(seed, update, inserting=True, in_place=True)
    else:
        # A replacement: stored (encoded) at once, so not copied.
        document = {**({"_id": seed["_id"]} if "_id" in seed else {}), **dict(update)}
    if "_id" not in document:
        document = {"_id": ObjectId(), **document}
    return document


def _copy_level(operator: str, path: str) -> int:
    """How much of a top-level field an operator on `path` changes in place: 0 nothing
    (the field's value is replaced or removed), 1 the list itself, 2 anything inside."""
    if "." in path:
        return 2
    return 1 if operator in ("$push", "$addToSet") else 0


def working_copy(document: Document, update: Mapping[str, Any]) -> Document:
    """A copy of `document` that `apply_update(..., in_place=True)` may change while
    `document` stays as it was: top-level fields the update does not touch are
    shared, and only those it changes inside are copied (a list it appends to, a
    sub-document reached by a dotted path)."""
    levels: dict[str, int] = {}
    for operator, fields in update.items():
        if isinstance(fields, Mapping):
            for path in fields:
                root = str(path).split(".", 1)[0]
                levels[root] = max(levels.get(root, 0), _copy_level(operator, str(path)))
    copied = dict(document)
    for root, level in levels.items():
        value = copied.get(root)
        if level == 2 and isinstance(value, (dict, list)):
            copied[root] = copy.deepcopy(value)
        elif level == 1 and isinstance(value, list):
            copied[root] = list(value)
    return copied
