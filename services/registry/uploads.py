"""Reading an uploaded file, as the raw body or a `multipart/form-data` part, with a cap."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from services.registry.problems import invalid
from shared.http import Problem

# Room for the multipart envelope (boundaries, part headers) around the file.
_ENVELOPE = 64 * 1024


def too_large(max_bytes: int) -> Problem:
    return Problem(
        413,
        "import-too-large",
        "File too large",
        f"An import file holds at most {max_bytes} bytes ({max_bytes // (1024 * 1024)} MB); "
        "split it into several files.",
        limit_bytes=max_bytes,
    )


async def read_upload(request: Request, max_bytes: int) -> bytes:
    """The uploaded file's bytes: the body itself, or the `file` field of a form."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _ENVELOPE:
        raise too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes + _ENVELOPE:
            raise too_large(max_bytes)
    content = bytes(body)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        content = await _form_file(request, content)
    if len(content) > max_bytes:
        raise too_large(max_bytes)
    if not content:
        raise invalid("import-empty", "Empty file", "No file was sent.", ["file"])
    return content


async def _form_file(request: Request, body: bytes) -> bytes:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, stream()).parse()
    except MultiPartException as exc:
        raise invalid("unreadable-import", "Unreadable upload", exc.message, ["file"]) from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise invalid(
                "import-empty",
                "No file",
                "Send the file as the form field `file`, or as the request body.",
                ["file"],
            )
        return await upload.read()
    finally:
        await form.close()
