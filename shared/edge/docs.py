"""The API documentation as an integrator reads it, working without a network.

`/docs` (Swagger UI) and `/redoc` (ReDoc) load their scripts and styles from the
service itself (`/docs/static`, the files the `fastapi-offline` package ships), never
from a CDN. Every operation that needs a token declares the bearer scheme (through
`shared.auth.http.current_principal`), and beside it the OAuth 2.0
client-credentials flow that issues the tokens. Every request body and JSON response
gets an example: the one written on the model, or else one derived from the schema.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
STATIC_PATH = "/docs/static"
BEARER = "bearer"
CLIENT_CREDENTIALS = "clientCredentials"
_MAX_DEPTH = 8
_TEXTUAL = ("text/csv", "multipart/form-data", "application/x-www-form-urlencoded")


def install_docs(app: FastAPI, token_url: str) -> None:
    """Serve `/docs` and `/redoc` from local files; document security and examples.

    `token_url` is where tokens are issued (the registry's `/v1/oauth/token`), for the
    client-credentials flow of Swagger UI's Authorize button.
    """
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url=f"{STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC_PATH}/favicon.png",
            with_google_fonts=False,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        # The bearer scheme is declared by `current_principal` itself; the flow that
        # issues its tokens is added beside it, for Swagger UI's Authorize button.
        components = document.setdefault("components", {})
        components.setdefault("securitySchemes", {})[CLIENT_CREDENTIALS] = {
            "type": "oauth2",
            "description": "Client credentials (form fields or HTTP Basic).",
            "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": {}}},
        }
        schemas = components.get("schemas", {})
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                if {BEARER: []} in operation.get("security", []):
                    operation["security"].append({CLIENT_CREDENTIALS: []})
                _add_examples(operation, schemas)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _add_examples(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """An example for the request body and each response that has none."""
    for kind, media in operation.get("requestBody", {}).get("content", {}).items():
        # Files (XLSX, octet streams) and NDJSON have no example a tool could send.
        textual = kind.endswith("json") or kind in _TEXTUAL
        if textual and "example" not in media and "examples" not in media and "schema" in media:
            media["example"] = example_of(media["schema"], schemas)
    for response in operation.get("responses", {}).values():
        for media in response.get("content", {}).values():
            schema = media.get("schema")
            if "example" not in media and "examples" not in media and schema:
                media["example"] = example_of(schema, schemas)


def example_of(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A plausible value for `schema`: its own example where it has one."""
    if depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        target = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return example_of(target, schemas, depth + 1)
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return copy.deepcopy(schema[key])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key, []) if option.get("type") != "null"]
        if options:
            return example_of(options[0], schemas, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties", {})
        return {name: example_of(sub, schemas, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [example_of(schema.get("items", {}), schemas, depth + 1)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("exclusiveMinimum", 0)) or 1)
    if kind == "number":
        return float(schema.get("minimum", 0) or 1.5)
    if kind == "boolean":
        return True
    if kind == "string":
        return _string_example(schema)
    return None


def _string_example(schema: dict[str, Any]) -> str:
    formats = {
        "date": "2023-10-12",
        "date-time": "2023-10-12T08:30:00+07:00",
        "binary": "Mã hệ thống nguồn,Mã định danh\nlangson-p8,HL-1\n",
        "uri": "https://example.org",
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    title = str(schema.get("title", "")).lower()
    for hint, value in (
        ("unit", "vn63:06433"),
        ("source", "langson-p8"),
        ("external", "HL-2023-0042"),
        ("programme", "P8"),
        ("province", "vn63:20"),
        ("code", "HL01-0001"),
        ("name", "Xã Vân Nham"),
    ):
        if hint in title:
            return value
    return "string"
