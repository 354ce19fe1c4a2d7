"""The message contract: subjects, types and the envelope as CONTRACT.md names them."""

from __future__ import annotations

import json

import pytest

from shared.contracts import PROGRAMME_UPSERTED, EnvelopeError, parse_envelope
from tests.support.events import programme_event


def test_programme_event_uses_the_contract_subject_and_type() -> None:
    assert PROGRAMME_UPSERTED.subject == "bdg.registry.v1.programme.upserted"
    assert PROGRAMME_UPSERTED.type == "vn.bdg.programme.upserted.v1"
    assert PROGRAMME_UPSERTED.stream.name == "REGISTRY"


def test_envelope_round_trip_keeps_vietnamese_text_exactly() -> None:
    event = programme_event("P8", 3, "Xã Vân Nham")
    wire = event.to_bytes()
    assert "Xã Vân Nham".encode() in wire  # not \\u-escaped
    parsed = parse_envelope(wire)
    assert parsed == event
    document = json.loads(wire)
    assert document["specversion"] == "1.0"
    assert document["datacontenttype"] == "application/json"
    assert {"id", "source", "type", "subject", "time", "correlationid", "data"} <= set(document)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not a CloudEvents 1.0 envelope"),
        (b'{"specversion": "1.0"}', "not a CloudEvents 1.0 envelope"),
        (b"[]", "not a CloudEvents 1.0 envelope"),
    ],
)
def test_malformed_envelopes_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse_envelope(body)


def test_unknown_type_is_rejected() -> None:
    document = programme_event("P8", 1, "x").to_document()
    document["type"] = "vn.bdg.unheard.of.v1"
    with pytest.raises(EnvelopeError, match="unknown event type"):
        parse_envelope(json.dumps(document).encode())


def test_data_not_matching_its_type_is_rejected() -> None:
    document = programme_event("P8", 1, "x").to_document()
    del document["data"]["revision"]
    with pytest.raises(EnvelopeError, match="invalid data"):
        parse_envelope(json.dumps(document).encode())


def test_unknown_envelope_attributes_are_rejected() -> None:
    document = programme_event("P8", 1, "x").to_document()
    document["surprise"] = True
    with pytest.raises(EnvelopeError, match="surprise"):
        parse_envelope(json.dumps(document).encode())
