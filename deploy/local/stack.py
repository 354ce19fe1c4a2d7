"""The processes of the local stack: NATS nodes and service replicas, with their settings.

Each service replica gets:
- `BDG_<SERVICE>_PORT` (its port in the plan), `BDG_DATA_DIR` (where the embedded store
  keeps one file per service, shared by that service's replicas), `BDG_NATS_URL` (every
  NATS node), `BDG_STREAM_REPLICAS` (the node count), `BDG_JWKS_URL` (registry replica 1);
- its NATS user: `BDG_NATS_USER=<service>` and `BDG_NATS_PASSWORD_FILE`;
- the admin client: `BDG_ADMIN_CLIENT_ID` and `BDG_ADMIN_CLIENT_SECRET_FILE` when they
  come from the data folder (the environment's own values are passed as they are);
- the registry also `BDG_SIGNING_KEY_PASSPHRASE_FILE` (its private keys are encrypted
  with it), unless `BDG_SIGNING_KEY_PASSPHRASE[_FILE]` is set.
Secrets go by file, so they appear neither in `ps` nor in a child's environment.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from deploy.local.datadir import DataDir
from deploy.local.nats_config import (
    OPS_USER,
    ROUTE_USER,
    SERVICE_USERS,
    NodeAddresses,
    password_variable,
    render,
    route_url,
    route_variable,
    server_config,
    variable_value,
)
from deploy.local.plan import HOST, NatsNode, ServiceReplica, StackPlan
from deploy.local.supervisor import ChildSpec

ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_ADMIN_CLIENT_ID: Final = "bdg-admin"
DEFAULT_DRAIN_SECONDS: Final = 20.0
# Past the services' own drain time before SIGKILL.
STOP_MARGIN_SECONDS: Final = 10.0
NATS_STOP_SECONDS: Final = 15.0
# Settings the launcher decides per child; inherited values would contradict them.
OWN_VARIABLES: Final = (
    "BDG_NATS_URL",
    "BDG_NATS_USER",
    "BDG_NATS_PASSWORD",
    "BDG_NATS_PASSWORD_FILE",
    "BDG_STREAM_REPLICAS",
    "BDG_JWKS_URL",
    "BDG_DATA_DIR",
)


class LaunchError(RuntimeError):
    """Something the user must fix before the stack can start."""


def nats_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise LaunchError("nats-server not found: run `make up` so the locked environment is used")
    return found


def secret_name(user: str) -> str:
    return f"nats-{user}-password"


@dataclass(frozen=True)
class AdminClient:
    client_id: str
    secret: str
    # Where the secret is kept for the services; None when it came from the environment.
    secret_file: Path | None

    @property
    def origin(self) -> str:
        if self.secret_file is None:
            return "from BDG_ADMIN_CLIENT_ID/SECRET"
        return f"kept in {self.secret_file.parent}"


def admin_client(env: Mapping[str, str], data: DataDir) -> AdminClient:
    """The bootstrap admin from the environment, else the data folder's (made once)."""
    client_id = env.get("BDG_ADMIN_CLIENT_ID") or ""
    secret = env.get("BDG_ADMIN_CLIENT_SECRET") or ""
    if client_id and secret:
        return AdminClient(client_id, secret, None)
    return AdminClient(
        data.secret("admin-client-id", lambda: DEFAULT_ADMIN_CLIENT_ID),
        data.secret("admin-client-secret"),
        data.secret_path("admin-client-secret"),
    )


def drain_seconds(env: Mapping[str, str]) -> float:
    try:
        return float(env.get("BDG_SHUTDOWN_DRAIN_SECONDS") or DEFAULT_DRAIN_SECONDS)
    except ValueError:
        raise LaunchError("BDG_SHUTDOWN_DRAIN_SECONDS must be a number of seconds") from None


# -------------------------------------------------------------------------- NATS
def node_addresses(plan: StackPlan, node: NatsNode, data: DataDir) -> NodeAddresses:
    clustered = len(plan.nats_nodes) > 1
    return NodeAddresses(
        server_name=f"bdg-{node.name}",
        client_listen=f"{HOST}:{node.client_port}",
        monitor_listen=f"{HOST}:{node.monitor_port}",
        store_dir=str(data.nats_store(node.index)),
        route_listen=f"{HOST}:{node.route_port}" if clustered else None,
        peers=tuple(peer.index for peer in plan.nats_nodes if peer != node) if clustered else (),
    )


def nats_environment(plan: StackPlan, data: DataDir) -> dict[str, str]:
    """The variables the NATS configuration names: passwords and peer route URLs."""
    env = {"PATH": os.environ.get("PATH", "")}
    for user in (*SERVICE_USERS, OPS_USER):
        env[password_variable(user)] = variable_value(data.secret(secret_name(user)))
    if len(plan.nats_nodes) > 1:
        route_password = data.secret(secret_name(ROUTE_USER))
        env[password_variable(ROUTE_USER)] = variable_value(route_password)
        for node in plan.nats_nodes:
            url = route_url(HOST, node.route_port, route_password)
            env[route_variable(node.index)] = variable_value(url)
    return env


def nats_children(plan: StackPlan, data: DataDir) -> list[ChildSpec]:
    binary = nats_binary()
    env = nats_environment(plan, data)
    specs = []
    for node in plan.nats_nodes:
        config_path = data.nats_config(node.index)
        header = (
            f"Written by `make up` at each start ({len(plan.nats_nodes)} node(s)); "
            "edits are lost.\nPasswords come from the environment (deploy/local/stack.py)."
        )
        config_path.write_text(render(server_config(node_addresses(plan, node, data)), header))
        data.nats_store(node.index).mkdir(parents=True, exist_ok=True)
        specs.append(
            ChildSpec(
                name=node.name,
                argv=[binary, "-c", str(config_path)],
                env=env,
                cwd=ROOT,
                log=data.logs / f"{node.name}.log",
                stop_seconds=NATS_STOP_SECONDS,
            )
        )
    return specs


# ---------------------------------------------------------------------- services
def service_environment(
    base: Mapping[str, str], plan: StackPlan, data: DataDir, admin: AdminClient
) -> dict[str, str]:
    """What every replica of every service shares."""
    env = {key: value for key, value in base.items() if key not in OWN_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    env["BDG_DATA_DIR"] = str(data.root)
    env["BDG_NATS_URL"] = plan.nats_url
    env["BDG_STREAM_REPLICAS"] = str(plan.stream_replicas)
    env["BDG_JWKS_URL"] = f"{plan.first('registry').url}/.well-known/jwks.json"
    # Dashboards served from another origin may call a local stack (CONTRACT.md), and
    # reporting's dashboard signs in at the registry's address, whatever its port.
    env.setdefault("BDG_CORS_ORIGINS", "*")
    env.setdefault("BDG_REGISTRY_PUBLIC_URL", plan.first("registry").url)
    if admin.secret_file is not None:
        env["BDG_ADMIN_CLIENT_ID"] = admin.client_id
        env.pop("BDG_ADMIN_CLIENT_SECRET", None)
        env["BDG_ADMIN_CLIENT_SECRET_FILE"] = str(admin.secret_file)
    if not env.get("BDG_MONGODB_URL") and not env.get("BDG_MONGODB_URL_FILE"):
        env.pop("BDG_MONGODB_URL", None)
        env.pop("BDG_MONGODB_URL_FILE", None)
    return env


def replica_environment(
    shared: Mapping[str, str], replica: ServiceReplica, data: DataDir
) -> dict[str, str]:
    env = dict(shared)
    env[f"BDG_{replica.service.upper()}_PORT"] = str(replica.port)
    env["BDG_NATS_USER"] = replica.service
    data.secret(secret_name(replica.service))
    env["BDG_NATS_PASSWORD_FILE"] = str(data.secret_path(secret_name(replica.service)))
    if replica.service == "registry" and not (
        env.get("BDG_SIGNING_KEY_PASSPHRASE") or env.get("BDG_SIGNING_KEY_PASSPHRASE_FILE")
    ):
        data.secret("signing-key-passphrase", lambda: secrets.token_urlsafe(48))
        env["BDG_SIGNING_KEY_PASSPHRASE_FILE"] = str(data.secret_path("signing-key-passphrase"))
    return env


def service_children(
    base: Mapping[str, str], plan: StackPlan, data: DataDir, admin: AdminClient
) -> list[ChildSpec]:
    shared = service_environment(base, plan, data, admin)
    stop_seconds = drain_seconds(base) + STOP_MARGIN_SECONDS
    return [
        ChildSpec(
            name=replica.name,
            argv=[sys.executable, "-m", f"services.{replica.service}"],
            env=replica_environment(shared, replica, data),
            cwd=ROOT,
            stop_seconds=stop_seconds,
        )
        for replica in plan.replicas
    ]
