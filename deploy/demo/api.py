"""A small JSON-over-HTTP client (standard library only) that fails loudly."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class DemoDataError(RuntimeError):
    """A call of the demo loader failed; the message carries the response body."""


class Api:
    """Calls the services by name (`registry`, `events`, `reporting`).

    With a token every request carries `Authorization: Bearer <token>`.
    """

    def __init__(self, urls: dict[str, str], token: str | None = None, timeout: float = 60):
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.token = token
        self.timeout = timeout
        self.calls = 0

    def url(self, service: str, path: str, query: dict[str, Any] | None = None) -> str:
        if service not in self.urls:
            raise DemoDataError(f"no URL given for the {service} service")
        url = f"{self.urls[service]}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(
                {key: value for key, value in query.items() if value is not None}
            )
        return url

    def call(
        self,
        service: str,
        method: str,
        path: str,
        body: Any | None = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON). Any non-2xx answer raises."""
        url = self.url(service, path, query)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        self.calls += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise DemoDataError(f"{method} {url} answered {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            raise DemoDataError(f"{method} {url} failed: {error}") from None
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            text = raw[:500].decode("utf-8", "replace")
            raise DemoDataError(f"{method} {url} answered {status} with non-JSON: {text}") from None

    def get(self, service: str, path: str, **query: Any) -> Any:
        return self.call(service, "GET", path, query=query)[1]

    def items(self, service: str, path: str, **query: Any) -> list[Any]:
        """Every item of a cursor-paginated list."""
        found: list[Any] = []
        cursor: str | None = None
        while True:
            page = self.get(service, path, limit=1000, cursor=cursor, **query)
            found.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found
