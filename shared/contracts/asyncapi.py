"""The AsyncAPI 3.0 document of every event, generated from the contract models.

`python -m shared.contracts.asyncapi > docs/asyncapi.json` writes it; a test checks
that the committed document matches the models.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from shared.contracts.catalogue import EVENT_KINDS
from shared.contracts.envelope import CloudEvent


def _name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.removeprefix("vn.bdg.").split("."))


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "CloudEventEnvelope": TypeAdapter(CloudEvent).json_schema(mode="serialization")
    }
    for kind in sorted(EVENT_KINDS.values(), key=lambda kind: kind.type):
        name = _name(kind.type)
        schemas[f"{name}Data"] = kind.data_model.model_json_schema(mode="serialization")
        messages[name] = {
            "name": kind.type,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "= event id"}},
                "required": ["Nats-Msg-Id"],
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEventEnvelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": kind.type},
                            "data": {"$ref": f"#/components/schemas/{name}Data"},
                        },
                    },
                ]
            },
        }
        channels[name] = {
            "address": kind.subject,
            "description": f"Stream {kind.stream.name}",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "bdg events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 on NATS JetStream (streams REGISTRY, ACTIVITIES).",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(asyncapi_document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
