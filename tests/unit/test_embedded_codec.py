"""The embedded store's document codec: what is stored comes back as it was written.

The fast path (orjson, tagging only what JSON has no type for, decoding top-level
tags first) must give exactly what the exact walk gives, for any document — including
strings that start with or hold the tag character, integers beyond 2^53, dates in
nested arrays — and refuse what BSON refuses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from bson.errors import InvalidDocument
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.embedded import codec

TAG = codec.TAG

texts = st.text(alphabet=st.sampled_from(["a", "b", "ệ", " ", TAG, "\\", '"']), max_size=6)
dates = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    dates,
    st.builds(ObjectId),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=20,
)
documents = st.dictionaries(texts, values, max_size=6)


def exact_round_trip(document: dict[str, Any]) -> dict[str, Any]:
    """What the exact walk alone stores and reads back."""
    parsed: dict[str, Any] = json.loads(json.dumps(codec.encode_value(document)))
    codec.decode_in_place(parsed)
    return parsed


@settings(max_examples=400, deadline=None)
@given(documents)
def test_a_document_reads_back_as_written(document: dict[str, Any]) -> None:
    stored = codec.dumps(document)
    assert codec.loads(stored) == document
    assert codec.loads(stored) == exact_round_trip(document)


def test_strings_holding_the_tag_are_not_mistaken_for_dates() -> None:
    moment = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    document = {
        "top": TAG + "D2026-01-01T00:00:00.000Z",
        "at": moment,
        "nested": {"list": [TAG, f"a{TAG}b", moment]},
    }
    assert codec.loads(codec.dumps(document)) == document


def test_dates_at_the_top_and_nested_all_come_back_as_dates() -> None:
    moment = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    for document in (
        {"at": moment, "nested": {"at": moment}},
        {"at": moment, "versions": [{"at": moment}, moment]},
        {"at": moment, "note": TAG, "nested": {"at": moment}},
    ):
        assert codec.loads(codec.dumps(document)) == document


def test_nan_and_infinities_are_stored_as_null_on_either_path() -> None:
    for document in ({"x": float("nan"), "y": 1.5}, {"x": float("-inf"), "s": TAG}):
        stored = codec.loads(codec.dumps(document))
        assert stored["x"] is None
        assert {k: v for k, v in stored.items() if k != "x"} == {
            k: v for k, v in document.items() if k != "x"
        }


def test_large_integers_are_kept_up_to_64_bits_and_refused_beyond() -> None:
    assert codec.loads(codec.dumps({"n": 2**62 + 1}))["n"] == 2**62 + 1
    with pytest.raises(OverflowError):
        codec.dumps({"n": 2**63})


def test_what_bson_cannot_hold_is_refused() -> None:
    with pytest.raises(InvalidDocument):
        codec.dumps({"when": datetime(2026, 1, 1).date()})
    with pytest.raises(InvalidDocument):
        codec.dumps({1: "not a string key"})  # type: ignore[dict-item]
