"""NATS server configuration: one user per service with the permissions it needs, an
operator user, JetStream, and the cluster block of a three-node cluster.

Who may publish what (everything else is refused as a permissions violation):
- `registry` publishes `bdg.registry.>`, `events` publishes `bdg.activities.>`,
  `reporting` publishes no event. So a client with another service's password, or with
  none, cannot put a forged event into a stream.
- Every service may, on the two streams only: declare and update them, read their info
  and messages, create, read and delete consumers and fetch from them
  (`$JS.API.CONSUMER.MSG.NEXT`), ack (`$JS.ACK.<stream>.>`) and answer flow control
  (`$JS.FC.<stream>.>`). No service may delete or purge a stream.
- Replies come back on `_INBOX.>`, the only subjects a service subscribes to (pull
  consumers and push-ordered consumers both deliver to an inbox).
- `ops` (for the `nats` command line and operators) may do everything.

Passwords are not written in the file: it names environment variables
(`$NATS_REGISTRY_PASSWORD`, …) that whoever starts the server sets from the secrets, so
the same text serves `make up` (from `$BDG_DATA_DIR/secrets`) and compose (from compose
secrets). Cluster routes accept the `route` user with `$NATS_ROUTE_PASSWORD`, and each
node reaches its peers through `$NATS_ROUTE_TO_<k>` (a URL with that password).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

# Stream → the subjects it stores (shared/contracts/streams.py), and its only publisher.
STREAM_SUBJECTS: Final[dict[str, str]] = {
    "REGISTRY": "bdg.registry.>",
    "ACTIVITIES": "bdg.activities.>",
}
PUBLISHER_OF: Final[dict[str, str]] = {"REGISTRY": "registry", "ACTIVITIES": "events"}
SERVICE_USERS: Final = ("registry", "events", "reporting")
OPS_USER: Final = "ops"
ROUTE_USER: Final = "route"
CLUSTER_NAME: Final = "bdg"
# Eight times NATS's default, on purpose: a programme with tens of thousands of targets
# travels (20,000 make a 1.7 MB event); an event larger than this is refused by
# the server, and the publishing outbox keeps it as a dead letter with an alarm.
MAX_PAYLOAD_BYTES: Final = 8 * 1024 * 1024
INBOXES: Final = "_INBOX.>"


@dataclass(frozen=True)
class Variable:
    """An environment variable read by nats-server when it loads the file."""

    name: str


def password_variable(user: str) -> str:
    return f"NATS_{user.upper()}_PASSWORD"


def variable_value(text: str) -> str:
    """`text` as the value of a variable the configuration names. nats-server parses a
    variable's value as configuration, so an unquoted `-x…` or `12…` would be read as a
    number (and refused): the value is given as a quoted string."""
    return json.dumps(text)


def route_variable(peer: int) -> str:
    """The variable holding the route URL to node `peer`, credentials included
    (`nats-route://route:<password>@host:port`): NATS reads a variable only as a whole
    value, and a route presents the credentials found in its URL."""
    return f"NATS_ROUTE_TO_{peer}"


def route_url(host: str, port: int, password: str) -> str:
    return f"nats-route://{ROUTE_USER}:{password}@{host}:{port}"


ConfValue = str | int | bool | Variable | Sequence["ConfValue"] | Mapping[str, "ConfValue"]


def jetstream_subjects(stream: str) -> list[str]:
    """What a service publishes to use the stream `stream` through JetStream."""
    api = "$JS.API"
    return [
        f"{api}.STREAM.CREATE.{stream}",
        f"{api}.STREAM.UPDATE.{stream}",
        f"{api}.STREAM.INFO.{stream}",
        f"{api}.STREAM.MSG.GET.{stream}",
        # Ephemeral and ordered consumers (`CREATE.<stream>` on older servers), named
        # consumers with a filter, and durables by their legacy subject.
        f"{api}.CONSUMER.CREATE.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.>",
        f"{api}.CONSUMER.DURABLE.CREATE.{stream}.*",
        f"{api}.CONSUMER.INFO.{stream}.*",
        f"{api}.CONSUMER.DELETE.{stream}.*",
        f"{api}.CONSUMER.NAMES.{stream}",
        f"{api}.CONSUMER.LIST.{stream}",
        f"{api}.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def service_permissions(service: str) -> dict[str, ConfValue]:
    if service not in SERVICE_USERS:
        raise ValueError(f"no NATS user for {service!r}")
    publish = [
        subject for stream, subject in STREAM_SUBJECTS.items() if PUBLISHER_OF[stream] == service
    ]
    # Account info, and the lookup of a stream by subject (`pull_subscribe` without a
    # stream name).
    publish += ["$JS.API.INFO", "$JS.API.STREAM.NAMES"]
    for stream in STREAM_SUBJECTS:
        publish += jetstream_subjects(stream)
    return {"publish": {"allow": publish}, "subscribe": {"allow": [INBOXES]}}


def users() -> list[dict[str, ConfValue]]:
    entries: list[dict[str, ConfValue]] = [
        {
            "user": service,
            "password": Variable(password_variable(service)),
            "permissions": service_permissions(service),
        }
        for service in SERVICE_USERS
    ]
    entries.append({"user": OPS_USER, "password": Variable(password_variable(OPS_USER))})
    return entries


@dataclass(frozen=True)
class NodeAddresses:
    """Where one node listens and where it finds its peers."""

    server_name: str
    client_listen: str  # host:port
    monitor_listen: str
    store_dir: str
    route_listen: str | None = None  # None: a single server, no cluster block
    peers: tuple[int, ...] = ()  # the other nodes' numbers


def server_config(node: NodeAddresses) -> dict[str, ConfValue]:
    config: dict[str, ConfValue] = {
        "server_name": node.server_name,
        "listen": node.client_listen,
        "http": node.monitor_listen,
        "max_payload": MAX_PAYLOAD_BYTES,
        "jetstream": {"store_dir": node.store_dir},
        "authorization": {"users": users()},
    }
    if node.route_listen is not None:
        config["cluster"] = {
            "name": CLUSTER_NAME,
            "listen": node.route_listen,
            # Routes present these credentials too, so a process that can reach the
            # route port cannot join as a server and bypass the permissions above.
            "authorization": {
                "user": ROUTE_USER,
                "password": Variable(password_variable(ROUTE_USER)),
            },
            "routes": [Variable(route_variable(peer)) for peer in node.peers],
        }
    return config


def render(config: Mapping[str, ConfValue], header: str = "") -> str:
    """NATS configuration text (its syntax: `key: value`, `{}` maps, `[]` lists)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.extend(_entries(config, 0))
    return "\n".join(lines) + "\n"


def _entries(mapping: Mapping[str, ConfValue], depth: int) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    for key, value in mapping.items():
        rendered = _value(value, depth)
        lines.append(f"{pad}{key}: {rendered}")
    return lines


def _value(value: ConfValue, depth: int) -> str:
    pad = "  " * depth
    if isinstance(value, Variable):
        return f"${value.name}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # Quoted, so that `$JS.API...` is a subject and not a variable.
        return json.dumps(value)
    if isinstance(value, Mapping):
        inner = _entries(value, depth + 1)
        return "{\n" + "\n".join(inner) + f"\n{pad}}}"
    items = [f"{pad}  {_value(item, depth + 1)}" for item in value]
    if not items:
        return "[]"
    return "[\n" + "\n".join(items) + f"\n{pad}]"


# ------------------------------------------------------------------------ compose
COMPOSE_NODES: Final = 3
COMPOSE_HEADER: Final = (
    "NATS for deploy/docker-compose.yml ({what}).\n"
    "Generated by `python -m deploy.local.nats_config` from deploy/local/nats_config.py;\n"
    "tests/unit/test_deploy_compose.py checks that it is up to date. Passwords and route\n"
    "URLs come from the environment that deploy/nats/entrypoint.sh sets from compose secrets."
)


def compose_configs() -> dict[str, str]:
    """File name (under deploy/nats/) → text, for the single node and the three nodes."""
    files = {
        "single.conf": render(
            server_config(
                NodeAddresses(
                    server_name="bdg-nats",
                    client_listen="0.0.0.0:4222",
                    monitor_listen="0.0.0.0:8222",
                    store_dir="/data",
                )
            ),
            COMPOSE_HEADER.format(what="profile single: one server"),
        )
    }
    for node in range(1, COMPOSE_NODES + 1):
        files[f"cluster-{node}.conf"] = render(
            server_config(
                NodeAddresses(
                    server_name=f"bdg-nats-{node}",
                    client_listen="0.0.0.0:4222",
                    monitor_listen="0.0.0.0:8222",
                    store_dir="/data",
                    route_listen="0.0.0.0:6222",
                    peers=tuple(peer for peer in range(1, COMPOSE_NODES + 1) if peer != node),
                )
            ),
            COMPOSE_HEADER.format(what=f"profile cluster: node {node} of {COMPOSE_NODES}"),
        )
    return files


def main() -> None:
    """Write deploy/nats/*.conf for compose."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "nats"
    folder.mkdir(exist_ok=True)
    for name, text in compose_configs().items():
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
