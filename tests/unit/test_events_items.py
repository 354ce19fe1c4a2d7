"""Reading batch bodies: JSON arrays, NDJSON, limits, field-level errors, Unicode."""

from __future__ import annotations

import json
import unicodedata

import pytest

from services.events.items import body_of, parse_batch, parse_item
from shared.http import Problem
from tests.events_support.activities import batch_item, communication_session


def test_a_json_array_and_ndjson_give_the_same_items() -> None:
    items = [batch_item("A1", communication_session()), batch_item("A2", communication_session())]
    from_array = parse_batch(json.dumps(items).encode(), "application/json")
    lines = "\n".join(json.dumps(item) for item in items) + "\n\n"
    from_ndjson = parse_batch(lines.encode(), "application/x-ndjson; charset=utf-8")
    assert [item.key for item in from_array] == [("langson-p8", "A1"), ("langson-p8", "A2")]
    assert [(i.index, i.key, i.activity) for i in from_array] == [
        (i.index, i.key, i.activity) for i in from_ndjson
    ]


def test_errors_are_field_level_and_relative_to_the_item() -> None:
    bad = batch_item(
        "A1", communication_session(participants={"female": -1, "male": 2.5}, ended_on="2023-10-01")
    )
    item = parse_item(0, bad)
    assert item.activity is None
    assert {(tuple(error["loc"]), error["msg"]) for error in item.errors} == {
        (("participants", "female"), "Input should be greater than or equal to 0"),
        (("participants", "male"), "Input should be a valid integer"),
    }
    missing_type = parse_item(1, {"source_system": "x", "external_id": "1", "title": "t"})
    assert missing_type.errors[0]["loc"] == ["type"]
    assert "communication_session" in missing_type.errors[0]["msg"]
    assert parse_item(2, batch_item("", communication_session())).errors[0]["loc"] == [
        "external_id"
    ]


def test_a_bad_ndjson_line_rejects_only_that_item() -> None:
    raw = b'{"broken": \n' + json.dumps(batch_item("A2", communication_session())).encode()
    first, second = parse_batch(raw, "application/x-ndjson")
    assert first.errors[0]["msg"].startswith("line 1 is not JSON")
    assert second.activity is not None


def test_more_than_1000_items_is_413_naming_the_limit() -> None:
    items = [batch_item(f"A{n}", communication_session()) for n in range(1001)]
    with pytest.raises(Problem) as raised:
        parse_batch(json.dumps(items).encode(), "application/json")
    assert raised.value.status == 413
    assert "at most 1000" in raised.value.detail
    assert raised.value.extensions["limit"] == 1000


@pytest.mark.parametrize("raw", [b"{not json", b'{"items": []}'])
def test_a_body_that_is_not_an_array_is_400(raw: bytes) -> None:
    with pytest.raises(Problem) as raised:
        parse_batch(raw, "application/json")
    assert raised.value.status == 400
    assert raised.value.kind == "malformed-batch"


def test_text_is_stored_composed_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Xã Vân Nham")
    item = parse_item(0, batch_item("Mã-1", communication_session(title=decomposed)))
    assert item.activity is not None
    assert body_of(item.activity)["title"] == "Xã Vân Nham"
    assert body_of(item.activity)["title"] != decomposed
