"""What `make up` runs and on which loopback ports, read from the environment.

- `BDG_REPLICAS=N` (default 1): N processes of each service; replica k listens on the
  service's usual port + 10 * (k - 1) (registry 8001, 8011, 8021, …).
- `BDG_NATS_NODES` (1 or 3, default 1): NATS servers; node k takes client port
  `BDG_NATS_PORT` + k - 1 (4222, 4223, 4224), cluster route port `BDG_NATS_ROUTE_PORT`
  + k - 1 (default client port + 2000: 6222…) and monitoring port `BDG_NATS_MONITOR_PORT`
  + k - 1 (default client port + 4000: 8222…). Three nodes keep every stream on all
  three (`BDG_STREAM_REPLICAS=3`), so one node can be lost without losing a message.

Everything binds to 127.0.0.1. The plan is checked before anything starts: no two
things on one port, and no port already taken by another program.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

HOST: Final = "127.0.0.1"
REPLICA_PORT_STEP: Final = 10
MAX_REPLICAS: Final = 9
NATS_NODE_COUNTS: Final = (1, 3)
# Service name → (variable naming its first replica's port, default port).
SERVICE_PORTS: Final[dict[str, tuple[str, int]]] = {
    "registry": ("BDG_REGISTRY_PORT", 8001),
    "events": ("BDG_EVENTS_PORT", 8002),
    "reporting": ("BDG_REPORTING_PORT", 8003),
}
ROUTE_PORT_OFFSET: Final = 2000
MONITOR_PORT_OFFSET: Final = 4000


class PlanError(ValueError):
    """A setting makes the plan impossible; the message tells the user what to change."""


@dataclass(frozen=True)
class NatsNode:
    index: int  # 1-based
    client_port: int
    route_port: int
    monitor_port: int

    @property
    def name(self) -> str:
        return f"nats-{self.index}"

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.client_port}"

    @property
    def route_url(self) -> str:
        return f"nats-route://{HOST}:{self.route_port}"

    @property
    def health_url(self) -> str:
        # 200 once this node's JetStream is usable: in a cluster, once it is current with
        # an elected meta leader (`?js-enabled-only=true` answers 200 before that, and a
        # stream created then is lost).
        return f"http://{HOST}:{self.monitor_port}/healthz"


@dataclass(frozen=True)
class ServiceReplica:
    service: str
    replica: int  # 1-based
    port: int

    @property
    def name(self) -> str:
        return f"{self.service}-{self.replica}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class StackPlan:
    nats_nodes: tuple[NatsNode, ...]
    replicas: tuple[ServiceReplica, ...]

    @property
    def stream_replicas(self) -> int:
        return len(self.nats_nodes)

    @property
    def nats_url(self) -> str:
        """`BDG_NATS_URL` for the services: every node, so a client fails over."""
        return ",".join(node.url for node in self.nats_nodes)

    def of(self, service: str) -> list[ServiceReplica]:
        return [replica for replica in self.replicas if replica.service == service]

    def first(self, service: str) -> ServiceReplica:
        return self.of(service)[0]

    def stack_json(self) -> dict[str, object]:
        """The content of `$BDG_DATA_DIR/stack.json` (CONTRACT.md, Additions)."""
        return {
            "nats": [node.url for node in self.nats_nodes],
            "services": {
                service: [replica.url for replica in self.of(service)] for service in SERVICE_PORTS
            },
        }

    def ports(self) -> list[tuple[int, str]]:
        """Every port the stack listens on, with what listens there."""
        used: list[tuple[int, str]] = []
        for node in self.nats_nodes:
            used.append((node.client_port, f"{node.name} clients"))
            if len(self.nats_nodes) > 1:
                used.append((node.route_port, f"{node.name} cluster routes"))
            used.append((node.monitor_port, f"{node.name} monitoring"))
        used.extend((replica.port, replica.name) for replica in self.replicas)
        return used


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise PlanError(f"{name}={raw!r} is not a whole number") from None


def plan_from_env(env: Mapping[str, str]) -> StackPlan:
    replica_count = _integer(env, "BDG_REPLICAS", 1)
    if not 1 <= replica_count <= MAX_REPLICAS:
        raise PlanError(f"BDG_REPLICAS must be between 1 and {MAX_REPLICAS}, not {replica_count}")
    node_count = _integer(env, "BDG_NATS_NODES", 1)
    if node_count not in NATS_NODE_COUNTS:
        raise PlanError(
            f"BDG_NATS_NODES must be 1 (one server) or 3 (a JetStream cluster), not {node_count}"
        )
    client = _integer(env, "BDG_NATS_PORT", 4222)
    route = _integer(env, "BDG_NATS_ROUTE_PORT", client + ROUTE_PORT_OFFSET)
    monitor = _integer(env, "BDG_NATS_MONITOR_PORT", client + MONITOR_PORT_OFFSET)
    nodes = tuple(
        NatsNode(
            index=k,
            client_port=client + k - 1,
            route_port=route + k - 1,
            monitor_port=monitor + k - 1,
        )
        for k in range(1, node_count + 1)
    )
    replicas = tuple(
        ServiceReplica(
            service=service,
            replica=k,
            port=_integer(env, variable, default) + REPLICA_PORT_STEP * (k - 1),
        )
        for service, (variable, default) in SERVICE_PORTS.items()
        for k in range(1, replica_count + 1)
    )
    plan = StackPlan(nodes, replicas)
    _check_distinct(plan)
    return plan


def _check_distinct(plan: StackPlan) -> None:
    seen: dict[int, str] = {}
    for port, what in plan.ports():
        if not 0 < port < 65536:
            raise PlanError(f"{what}: port {port} is out of range")
        if port in seen:
            raise PlanError(f"{what} and {seen[port]} would both use port {port}")
        seen[port] = what


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on `port` now (as the servers do: SO_REUSEADDR, so a
    connection still closing does not count as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def taken_ports(plan: StackPlan) -> list[tuple[int, str]]:
    return [(port, what) for port, what in plan.ports() if not port_is_free(port)]
