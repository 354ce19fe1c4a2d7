"""The dashboard page and its static files, served by this service (nothing from a CDN).

`static/dashboard.html` is the page, given the registry's public URL (where it signs in
and searches units: the `registry_public_url` setting, or the page's host on port 8001);
`static/dashboard.js` and `dashboard.css` are the application; `static/vendor/` holds
Apache ECharts as built by `frontend/` (version, licences and the rebuild command in
`static/vendor/VERSIONS.txt`). Only the files listed in `STATIC_FILES` are served.
"""

from __future__ import annotations

import html
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
STATIC_FILES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "vendor/echarts.min.js": "text/javascript; charset=utf-8",
    "vendor/echarts.LICENSE.txt": "text/plain; charset=utf-8",
    "vendor/echarts.NOTICE.txt": "text/plain; charset=utf-8",
    "vendor/zrender.LICENSE.txt": "text/plain; charset=utf-8",
    "vendor/VERSIONS.txt": "text/plain; charset=utf-8",
}
_TEMPLATE = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8")


def content_security_policy(registry_url: str | None) -> str:
    """Scripts and styles from this service only; calls to this service and the
    registry (any http(s) origin when the page derives the registry's URL itself)."""
    registry = html.escape(registry_url.rstrip("/")) if registry_url else "http: https:"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:; connect-src 'self' {registry}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def dashboard_page(registry_url: str | None) -> str:
    return _TEMPLATE.replace("{{REGISTRY_URL}}", html.escape(registry_url or "", quote=True))


def dashboard_headers(registry_url: str | None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(registry_url),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def static_file(name: str) -> tuple[Path, str] | None:
    """The file and its media type, for a listed name only."""
    media_type = STATIC_FILES.get(name)
    return (STATIC_DIR / name, media_type) if media_type else None
