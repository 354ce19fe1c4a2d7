"""Schemathesis hooks for the fuzz run: how to send an NDJSON batch body.

The batch route takes NDJSON as well as a JSON array; schemathesis has no NDJSON
serializer of its own, so a generated value goes out as one JSON document per line
(a list as its items, anything else as one line).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson", "application/ndjson", "application/jsonl")
def ndjson(_context: Any, value: Any) -> bytes:
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
