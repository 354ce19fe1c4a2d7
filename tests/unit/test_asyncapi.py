"""The committed AsyncAPI document describes exactly the contract models."""

from __future__ import annotations

import json
from pathlib import Path

from shared.contracts.asyncapi import asyncapi_document, render

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_committed_asyncapi_matches_the_models() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "docs/asyncapi.json is stale: run `make docs`"
    )


def test_every_contract_subject_is_a_channel() -> None:
    addresses = {channel["address"] for channel in asyncapi_document()["channels"].values()}
    assert addresses == {
        "bdg.registry.v1.unit.upserted",
        "bdg.registry.v1.classification.set",
        "bdg.registry.v1.programme.upserted",
        "bdg.registry.v1.target.set",
        "bdg.registry.v1.site.upserted",
        "bdg.registry.v1.club.upserted",
        "bdg.registry.v1.member.upserted",
        "bdg.registry.v1.lock.set",
        "bdg.registry.v1.approval.set",
        "bdg.activities.v1.recorded",
        "bdg.activities.v1.revised",
        "bdg.activities.v1.voided",
    }
    assert json.loads(render())["asyncapi"] == "3.0.0"
