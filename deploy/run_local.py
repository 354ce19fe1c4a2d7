"""`make up`: NATS and the three services on this machine, with demo data, until Ctrl-C.

- `BDG_REPLICAS=N` runs N processes of each service, `BDG_NATS_NODES=3` a three-node
  JetStream cluster (deploy/local/plan.py has the ports).
- Data stays in `$BDG_DATA_DIR` (default `.data`) from one run to the next: the services'
  embedded store (unless `BDG_MONGODB_URL` is set), JetStream, and the generated secrets
  (deploy/local/datadir.py). Nothing is reset at start.
- NATS requires a password: one user per service, allowed to publish only its own events
  (deploy/local/nats_config.py), and an `ops` user.
- A child that crashes is started again after a back-off, the others keep running; Ctrl-C
  or SIGTERM stops the services (each drains first), then NATS, and nothing else
  (deploy/local/supervisor.py). A port already taken stops the launch before anything
  starts: it never uses a NATS or a service it did not start.
- Once everything answers, and the demo data is in, `$BDG_DATA_DIR/stack.json` lists the
  URLs; it is removed on stop.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.demo.api import Api, DemoDataError  # noqa: E402
from deploy.demo_data import VIETNAM, load_demo_data, next_due_day, plans  # noqa: E402
from deploy.local.datadir import DataDir, DataDirError  # noqa: E402
from deploy.local.demo_marker import DemoMarker, already_loaded, fingerprint  # noqa: E402
from deploy.local.nats_config import OPS_USER  # noqa: E402
from deploy.local.plan import PlanError, StackPlan, plan_from_env, taken_ports  # noqa: E402
from deploy.local.stack import (  # noqa: E402
    AdminClient,
    LaunchError,
    admin_client,
    nats_children,
    secret_name,
    service_children,
)
from deploy.local.supervisor import Child, Supervisor  # noqa: E402

READY_LINE: Final = "press Ctrl-C to stop"
NATS_READY_SECONDS: Final = 60.0
SERVICES_READY_SECONDS: Final = 120.0
POLL_SECONDS: Final = 0.2


def say(message: str) -> None:
    print(f"[bdg] {message}", flush=True)


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop what was started, in order."""


class Signals:
    """The first SIGINT/SIGTERM interrupts the launcher; a second one while stopping
    hurries the stop (children still running are killed at once)."""

    def __init__(self) -> None:
        self.stopping = False
        self.hurry = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            self.hurry = True
            return
        self.stopping = True
        raise Stop(signal.Signals(signum).name)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until(
    ready: Callable[[], list[str]], supervisor: Supervisor, timeout: float, what: str
) -> float:
    """Poll `ready` (names not ready yet) until it is empty, restarting crashed children
    meanwhile; raise LaunchError after `timeout` seconds."""
    started = time.monotonic()
    while True:
        supervisor.poll()
        waiting = ready()
        if not waiting:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            crashed = [
                f"{child.spec.name} ({child.restarts} restarts)"
                for child in supervisor.children
                if child.restarts
            ]
            detail = f"; restarted: {', '.join(crashed)}" if crashed else ""
            raise LaunchError(f"{what} not ready after {timeout:.0f} s: {waiting}{detail}")
        time.sleep(POLL_SECONDS)


def access_token(registry_url: str, admin: AdminClient) -> str:
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": admin.client_id,
            "client_secret": admin.secret,
        }
    ).encode()
    request = urllib.request.Request(f"{registry_url}/v1/oauth/token", data=form, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            token: str = json.loads(response.read())["access_token"]
            return token
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:300]
        raise LaunchError(
            f"the registry refused the admin client {admin.client_id!r} ({error.code}: "
            f"{detail}). If BDG_ADMIN_CLIENT_ID/SECRET changed since this data folder was "
            "made, use the old ones or the secret kept in its secrets/ folder."
        ) from None


def load_demo(plan: StackPlan, data: DataDir, token: str, env: dict[str, str]) -> None:
    if env.get("BDG_DEMO_DATA", "1").strip().lower() in {"0", "false", "no"}:
        say("demo data: not loaded (BDG_DEMO_DATA=0)")
        return
    urls = {service: plan.first(service).url for service in ("registry", "events", "reporting")}
    demo_plans = plans()
    today = datetime.now(UTC).astimezone(VIETNAM).date()
    source_systems = sorted({site.source_system for p in demo_plans for site in p.sites})
    marker = DemoMarker.load(data.demo_marker)
    if already_loaded(marker, today, Api(urls, token), source_systems):
        say(f"demo data: already there ({data.demo_marker.name} matches what the services hold)")
        return
    summary = load_demo_data(urls, token)
    due = next_due_day(demo_plans)
    DemoMarker(
        fingerprint=fingerprint(),
        activities=summary["activities"],
        clubs=summary["clubs"],
        next_due=None if due is None else due.isoformat(),
    ).save(data.demo_marker)
    say(f"demo data loaded: {json.dumps(summary, ensure_ascii=False)}")


def redact(url: str) -> str:
    """A connection string without its password."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def show_ready(
    plan: StackPlan, data: DataDir, admin: AdminClient, token: str, env: dict[str, str]
) -> None:
    registry = plan.first("registry").url
    say(f"admin client ({admin.origin}): BDG_ADMIN_CLIENT_ID={admin.client_id}")
    if admin.secret_file is not None:
        say(f"                          BDG_ADMIN_CLIENT_SECRET={admin.secret}")
    say("access token (admin, national scope; valid 15 minutes), ready to paste:")
    print(f"export BDG_TOKEN={token}", flush=True)
    say("a new one:")
    print(
        f"curl -s -X POST {registry}/v1/oauth/token -d grant_type=client_credentials "
        f"-d client_id={admin.client_id} -d client_secret=<secret>",
        flush=True,
    )
    say(f'then: curl -H "Authorization: Bearer $BDG_TOKEN" {registry}/v1/programmes')
    for replica in plan.replicas:
        say(f"{replica.name:<12} {replica.url}   (docs: {replica.url}/docs)")
    say(f"dashboard: {plan.first('reporting').url}/dashboard (sign in with the admin client above)")
    nodes = ", ".join(node.url for node in plan.nats_nodes)
    streams = f"streams on {plan.stream_replicas} node(s)"
    say(f"NATS: {nodes} ({streams}); logs in {data.logs}")
    ops_password = data.secret_path(secret_name(OPS_USER))
    say(
        f"NATS as operator: nats -s {plan.nats_nodes[0].url} --user {OPS_USER} "
        f'--password "$(cat {ops_password})" stream ls'
    )
    mongodb = env.get("BDG_MONGODB_URL")
    if mongodb:
        say(f"MongoDB: {redact(mongodb)}")
    elif env.get("BDG_MONGODB_URL_FILE"):
        say(f"MongoDB: the URL in {env['BDG_MONGODB_URL_FILE']}")
    else:
        say(f"MongoDB: embedded store in {data.store} (kept across runs)")
    say(f"data folder: {data.root}; URLs in {data.stack_file}")
    say(READY_LINE)


def stop(supervisor: Supervisor, signals: Signals, nats: list[Child]) -> None:
    services = [child for child in supervisor.children if child not in nats]
    supervisor.stop([services, nats], hurry=lambda: signals.hurry)


def run(env: dict[str, str]) -> int:
    try:
        plan = plan_from_env(env)
    except PlanError as error:
        say(f"error: {error}")
        return 2
    data = DataDir(Path(env.get("BDG_DATA_DIR") or ROOT / ".data").resolve())
    try:
        data.lock()
        data.prepare(len(plan.nats_nodes))
    except DataDirError as error:
        say(f"error: {error}")
        return 2
    taken = taken_ports(plan)
    if taken:
        for port, what in taken:
            say(f"error: port {port} ({what}) is already in use by another program")
        say(
            "nothing was started. Stop that program (another `make up`? a NATS of your own?) "
            "or choose other ports: BDG_NATS_PORT, BDG_REGISTRY_PORT, BDG_EVENTS_PORT, "
            "BDG_REPORTING_PORT."
        )
        return 2
    data.remove_stack()

    signals = Signals()
    signals.install()
    supervisor = Supervisor(say)
    nats: list[Child] = []
    try:
        admin = admin_client(env, data)
        nats = [supervisor.start(spec) for spec in nats_children(plan, data)]
        wait_until(
            lambda: [n.name for n in plan.nats_nodes if not answers(n.health_url)],
            supervisor,
            NATS_READY_SECONDS,
            "NATS",
        )
        say(f"NATS ready: {len(plan.nats_nodes)} node(s), data in {data.root / 'nats'}")
        for spec in service_children(env, plan, data, admin):
            supervisor.start(spec)
        seconds = wait_until(
            lambda: [r.name for r in plan.replicas if not answers(f"{r.url}/readyz")],
            supervisor,
            SERVICES_READY_SECONDS,
            "services",
        )
        say(f"all services ready in {seconds:.1f} s ({len(plan.replicas)} processes)")
        token = access_token(plan.first("registry").url, admin)
        load_demo(plan, data, token, env)
        data.write_stack(plan.stack_json())
        show_ready(plan, data, admin, token, env)
        while True:
            supervisor.poll()
            time.sleep(POLL_SECONDS)
    except Stop as reason:
        say(f"{reason}: stopping the services, then NATS")
        return 0
    except (LaunchError, DemoDataError) as error:
        say(f"error: {error}")
        return 1
    finally:
        # Whatever ended the run (even an unexpected error): stop in order.
        signals.stopping = True
        stop(supervisor, signals, nats)
        data.remove_stack()
        say("stopped")


def main() -> int:
    return run(dict(os.environ))


if __name__ == "__main__":
    sys.exit(main())
