"""The three services served over real HTTP (uvicorn, one thread each) for a browser,
with the `make up` demo data loaded through their APIs.

A browser cannot reach an app through httpx's ASGI transport, so each app runs in its
own uvicorn server and event loop on a free loopback port. Events and reporting trust
the registry's keys (its JWKS over HTTP), as in `make up`, so a token the dashboard
gets from the registry works everywhere. The dashboard calls the registry from
reporting's origin, which needs CORS on the registry: `BDG_CORS_ORIGINS` where the
services have it; here the test allows the dashboard's origin on the registry itself.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from deploy.demo_data import load_demo_data
from shared.auth.tokens import jwks_from_url
from tests.support.apps import ADMIN_ID, ADMIN_SECRET, events_app, registry_app, reporting_app
from tests.support.mongo import MongoBackend
from tests.support.nats import free_port

# The provinces the demo data needs: Lạng Sơn, Hà Giang, Phú Thọ (and their vn34 ones).
DEMO_PROVINCES = "20,02,25"


@dataclass
class Served:
    urls: dict[str, str]
    admin_id: str
    admin_secret: str
    demo: dict[str, int]


@contextmanager
def serve(app: FastAPI, port: int, timeout: float = 60.0) -> Iterator[str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, thread, timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_ready(url: str, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"the server for {url} stopped while starting")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {timeout} s")


def allow_origin(app: FastAPI, origin: str) -> None:
    """CORS for the dashboard's origin (outermost, so that it answers the preflight
    whatever the app's own CORS settings are)."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[origin],
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Accept-Language"],
    )


@contextmanager
def demo_stack(mongo: MongoBackend, nats_url: str) -> Iterator[Served]:
    ports = {name: free_port() for name in ("registry", "events", "reporting")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    jwks = jwks_from_url(f"{urls['registry']}/.well-known/jwks.json")
    registry = registry_app(mongo, nats_url, reference_provinces=DEMO_PROVINCES)
    allow_origin(registry, urls["reporting"])
    apps = {
        "registry": registry,
        "events": events_app(mongo, nats_url, jwks=jwks),
        "reporting": reporting_app(
            mongo, nats_url, jwks=jwks, registry_public_url=urls["registry"]
        ),
    }
    with ExitStack() as stack:
        for name, app in apps.items():
            stack.enter_context(serve(app, ports[name], timeout=120))
        token = admin_token(urls["registry"])
        demo = load_demo_data(urls, token, settle_timeout=120)
        yield Served(urls, ADMIN_ID, ADMIN_SECRET, demo)


def admin_token(registry_url: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": ADMIN_ID, "client_secret": ADMIN_SECRET}
    ).encode()
    request = urllib.request.Request(f"{registry_url}/v1/oauth/token", data=form, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["access_token"]
        return token
