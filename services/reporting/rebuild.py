"""`python -m services.reporting.rebuild`: start a rebuild of the reporting read models
and follow it until it completes (what `make rebuild` runs).

It calls `POST /v1/admin/rebuild` on the running service (`--url`, default
`http://127.0.0.1:$BDG_REPORTING_PORT`) and prints the progress of each stream from
`GET /v1/status` until the service has switched to the new generation. Both need an
admin's access token: `--token`, or the `BDG_TOKEN` environment variable (`make up`
prints `export BDG_TOKEN=...`). Exit code 0 when completed, 1 when the rebuild failed
or could not be followed to its end, 2 when the service cannot be reached or refuses
(no or bad token, not an admin, a rebuild already running).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

NO_TOKEN = (
    "no access token: pass --token or set BDG_TOKEN (make up prints `export BDG_TOKEN=...`; "
    "otherwise get one from the registry's POST /v1/oauth/token as an admin client)"
)


def _call(method: str, url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        method=method,
        data=b"" if method == "POST" else None,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}


def _progress(rebuild: dict[str, Any]) -> str:
    parts = [
        f"{name} {stream['applied_sequence']}/{stream['goal_sequence']}"
        for name, stream in rebuild.get("streams", {}).items()
    ]
    return f"{rebuild['status']:<9} {rebuild['generation']}  " + "  ".join(parts)


def _refusal(status: int, body: dict[str, Any]) -> str:
    detail = body.get("detail", body)
    if status == 401:
        return f"the token was refused ({detail}); get a fresh one (make up prints one)"
    if status == 403:
        return f"not allowed: {detail} (a rebuild needs an admin token)"
    return f"({status}): {detail}"


def main(argv: list[str] | None = None) -> int:
    default = f"http://127.0.0.1:{os.environ.get('BDG_REPORTING_PORT', '8003')}"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=default, help=f"reporting service (default {default})")
    parser.add_argument(
        "--token",
        default=os.environ.get("BDG_TOKEN"),
        help="an admin's access token (default: $BDG_TOKEN)",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    args = parser.parse_args(argv)
    token = (args.token or "").strip()
    if not token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    base = args.url.rstrip("/")
    try:
        status, body = _call("POST", f"{base}/v1/admin/rebuild", token)
    except (urllib.error.URLError, OSError) as error:
        print(f"cannot reach the reporting service at {base}: {error}", file=sys.stderr)
        return 2
    if status != 202:
        print(f"rebuild not started {_refusal(status, body)}", file=sys.stderr)
        return 2
    print(f"rebuild started into generation {body['generation']}", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status, state = _call("GET", f"{base}/v1/status", token)
        if status in (401, 403):
            # Tokens are short-lived: one may expire during a long rebuild.
            print(
                f"cannot follow the rebuild any more {_refusal(status, state)}; it goes on "
                "in the service (GET /v1/status)",
                file=sys.stderr,
            )
            return 1
        rebuild = state.get("rebuild") or {}
        if rebuild:
            print(_progress(rebuild), flush=True)
        if rebuild.get("status") == "completed":
            print(f"switched to generation {state['generation']}", flush=True)
            return 0
        if rebuild.get("status") == "failed":
            print(f"rebuild failed: {rebuild.get('error')}", file=sys.stderr)
            return 1
        time.sleep(args.interval)
    print("gave up waiting; the rebuild goes on in the service", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
