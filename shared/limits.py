"""Request body limits: one limiter and one 413 (`body-too-large`) for every service.

`BodySizeLimit` holds every request to the service-wide `BDG_MAX_BODY_BYTES`;
`read_limited` holds a route that reads its own body (a batch, an upload) to that
route's smaller limit. Both answer with `problems.body_too_large`.
"""

from __future__ import annotations

import json

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.edge.i18n import header_language, use_language
from shared.edge.problems import body_too_large
from shared.http import PROBLEM_JSON


class BodySizeLimit:
    """Answer 413 (problem+json) for a body over `max_bytes`, declared or streamed.

    A declared `Content-Length` is checked before anything is read. A body sent without
    one (chunked) is read here first, up to the limit, and handed on only when it fits:
    the route never starts on a body it could not finish, and nothing is half-written.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._reject(scope, send)
                return
            # The server delivers exactly the declared length.
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        # Outside the app's middleware stack: the language is taken here.
        use_language(header_language(scope))
        body = json.dumps(body_too_large(self.max_bytes).body(), ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise body_too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise body_too_large(max_bytes)
    return bytes(body)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that first gives back what was already read."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
