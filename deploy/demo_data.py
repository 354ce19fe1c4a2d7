"""Demo data for `make up`, loaded through the public HTTP APIs as a province would."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

DEMO_PROGRAMMES: dict[str, dict[str, Any]] = {
    "P8": {
        "name": "Project 8: gender equality and urgent issues for women and children",
        "name_vi": "Dự án 8: Thực hiện bình đẳng giới và giải quyết những vấn đề cấp thiết "
        "đối với phụ nữ và trẻ em",
        "starts_on": "2021-01-01",
        "ends_on": "2025-12-31",
    },
}


def call(method: str, url: str, body: Any | None = None) -> Any:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def load_demo_data(urls: dict[str, str]) -> dict[str, int]:
    """Put the demo records; repeating it changes nothing. Returns counts per kind."""
    for code, body in DEMO_PROGRAMMES.items():
        call("PUT", f"{urls['registry']}/v1/programmes/{code}", body)
    return {"programmes": len(call("GET", f"{urls['registry']}/v1/programmes")["items"])}
