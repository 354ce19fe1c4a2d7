"""`python -m services.reporting.rebuild`: start a rebuild of the reporting read models
and follow it until it completes (what `make rebuild` runs).

It calls `POST /v1/admin/rebuild` on the running service (`--url`, default
`http://127.0.0.1:$BDG_REPORTING_PORT`) and prints the progress of each stream from
`GET /v1/status` until the service has switched to the new generation. Exit code 0
when completed, 1 when the rebuild failed, 2 when the service cannot be reached or
refuses (e.g. a rebuild is already running).
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


def _call(method: str, url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _progress(rebuild: dict[str, Any]) -> str:
    parts = [
        f"{name} {stream['applied_sequence']}/{stream['goal_sequence']}"
        for name, stream in rebuild.get("streams", {}).items()
    ]
    return f"{rebuild['status']:<9} {rebuild['generation']}  " + "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    default = f"http://127.0.0.1:{os.environ.get('BDG_REPORTING_PORT', '8003')}"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=default, help=f"reporting service (default {default})")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    try:
        status, body = _call("POST", f"{base}/v1/admin/rebuild")
    except (urllib.error.URLError, OSError) as error:
        print(f"cannot reach the reporting service at {base}: {error}", file=sys.stderr)
        return 2
    if status != 202:
        print(f"rebuild not started ({status}): {body.get('detail', body)}", file=sys.stderr)
        return 2
    print(f"rebuild started into generation {body['generation']}", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        _, state = _call("GET", f"{base}/v1/status")
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
