"""The NATS that `make up` runs, started by the launcher's own code on real nats-server
processes: its users and permissions, and its three-node cluster."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import nats
import pytest
from nats.errors import TimeoutError
from nats.js.api import StorageType, StreamConfig

from deploy.local.datadir import DataDir
from deploy.local.plan import StackPlan, plan_from_env, port_is_free
from deploy.local.stack import nats_children, secret_name
from deploy.local.supervisor import Supervisor
from tests.support.apps import eventually
from tests.support.nats import free_port

UNIT_SUBJECT = "bdg.registry.v1.unit.upserted"
ACTIVITY_SUBJECT = "bdg.activities.v1.activity.recorded"
STREAMS = {"REGISTRY": "bdg.registry.>", "ACTIVITIES": "bdg.activities.>"}


def free_block(size: int) -> int:
    """A first port such that `size` consecutive ports (and the route and monitoring
    ports the plan derives from them) are free now."""
    for _ in range(50):
        base = free_port()
        if base + 4000 + size >= 65535:
            continue
        ports = [base + offset + k for offset in (0, 2000, 4000) for k in range(size)]
        if all(port_is_free(port) for port in ports):
            return base
    raise RuntimeError("no block of free ports found")


@contextmanager
def launched_nats(data_dir: Path, nodes: int) -> Iterator[tuple[StackPlan, DataDir, Supervisor]]:
    # The services are not started here; their ports only need to be distinct.
    base = free_block(nodes)
    plan = plan_from_env(
        {
            "BDG_NATS_NODES": str(nodes),
            "BDG_NATS_PORT": str(base),
            "BDG_REGISTRY_PORT": str(base + 10),
            "BDG_EVENTS_PORT": str(base + 11),
            "BDG_REPORTING_PORT": str(base + 12),
        }
    )
    data = DataDir(data_dir)
    data.prepare(nodes)
    # Passwords nats-server would read as numbers if the launcher did not quote them.
    data.secret("nats-events-password", lambda: "-5starts-with-a-dash")
    data.secret("nats-registry-password", lambda: "20240101")
    data.secret("nats-route-password", lambda: "-route-1")
    supervisor = Supervisor(say=lambda _line: None)
    for spec in nats_children(plan, data):
        supervisor.start(spec)
    try:
        yield plan, data, supervisor
    finally:
        supervisor.stop_all()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def wait_healthy(plan: StackPlan) -> None:
    async def all_healthy() -> bool:
        return all(healthy(node.health_url) for node in plan.nats_nodes)

    await eventually(all_healthy, timeout=30, interval=0.1)


@asynccontextmanager
async def connected_as(
    plan: StackPlan, data: DataDir, user: str, errors: list[Exception] | None = None
) -> AsyncIterator[nats.NATS]:
    async def on_error(error: Exception) -> None:
        if errors is not None:
            errors.append(error)

    connection = await nats.connect(
        servers=[node.url for node in plan.nats_nodes],
        user=user,
        password=data.secret(secret_name(user)),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        yield connection
    finally:
        await connection.close()


async def declare_streams(connection: nats.NATS, replicas: int) -> None:
    js = connection.jetstream()
    for name, subject in STREAMS.items():
        config = StreamConfig(
            name=name, subjects=[subject], storage=StorageType.FILE, num_replicas=replicas
        )
        await js.add_stream(config=config)
        # A second declaration is an update, as every service does at each start.
        await js.update_stream(config=config)


async def last_sequence(connection: nats.NATS, stream: str) -> int:
    info = await connection.jetstream().stream_info(stream)
    return int(info.state.last_seq)


async def refused(connection: nats.NATS, errors: list[Exception], subject: str) -> None:
    """Publish through JetStream and expect the server's permissions violation."""
    with pytest.raises(TimeoutError):
        await connection.jetstream().publish(subject, b'{"forged": true}', timeout=1)
    await violation_reported(errors, subject)


async def violation_reported(errors: list[Exception], subject: str) -> None:
    """The server told this client that `subject` is not allowed."""

    async def reported() -> bool:
        return any(
            # nats-py reports the server's message in lower case.
            f'permissions violation for publish to "{subject.lower()}"' in str(error).lower()
            for error in errors
        )

    await eventually(reported, timeout=5, interval=0.05)


async def test_only_the_owner_of_a_stream_can_publish_on_it(tmp_path: Path) -> None:
    with launched_nats(tmp_path, nodes=1) as (plan, data, _):
        await wait_healthy(plan)
        async with connected_as(plan, data, "registry") as registry:
            await declare_streams(registry, replicas=1)
            ack = await registry.jetstream().publish(UNIT_SUBJECT, b'{"unit": 1}')
            assert (ack.stream, ack.seq) == ("REGISTRY", 1)

            events_errors: list[Exception] = []
            async with connected_as(plan, data, "events", events_errors) as events:
                await refused(events, events_errors, UNIT_SUBJECT)
                ack = await events.jetstream().publish(ACTIVITY_SUBJECT, b'{"activity": 1}')
                assert (ack.stream, ack.seq) == ("ACTIVITIES", 1)

            reporting_errors: list[Exception] = []
            async with connected_as(plan, data, "reporting", reporting_errors) as reporting:
                await refused(reporting, reporting_errors, ACTIVITY_SUBJECT)
                await refused(reporting, reporting_errors, UNIT_SUBJECT)

            registry_errors: list[Exception] = []
            async with connected_as(plan, data, "registry", registry_errors) as again:
                await refused(again, registry_errors, ACTIVITY_SUBJECT)

            # Only the owners' messages were stored.
            assert await last_sequence(registry, "REGISTRY") == 1
            assert await last_sequence(registry, "ACTIVITIES") == 1
            stored = await registry.jetstream().get_msg("REGISTRY", 1)
            assert stored.data == b'{"unit": 1}'


def handshake(port: int, connect: dict[str, object]) -> str:
    """The server's first answer to CONNECT + PING, read from a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"INFO ")
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        return reader.readline().decode().strip()


async def test_a_client_without_the_password_is_turned_away(tmp_path: Path) -> None:
    with launched_nats(tmp_path, nodes=1) as (plan, data, _):
        await wait_healthy(plan)
        port = plan.nats_nodes[0].client_port
        base = {"verbose": False, "pedantic": False}
        assert handshake(port, base) == "-ERR 'Authorization Violation'"
        wrong = {**base, "user": "events", "pass": "not-the-password"}
        assert handshake(port, wrong) == "-ERR 'Authorization Violation'"
        right = {**base, "user": "events", "pass": data.secret(secret_name("events"))}
        assert handshake(port, right) == "PONG"


async def test_a_consumer_service_can_do_what_consuming_needs(tmp_path: Path) -> None:
    """Durable pull consumer, ordered consumer, stream and consumer info, acks, deletion:
    everything a consuming service does, as `reporting`, with no violation."""
    with launched_nats(tmp_path, nodes=1) as (plan, data, _):
        await wait_healthy(plan)
        async with connected_as(plan, data, "registry") as registry:
            await declare_streams(registry, replicas=1)
            for number in range(3):
                await registry.jetstream().publish(UNIT_SUBJECT, f'{{"n": {number}}}'.encode())

        errors: list[Exception] = []
        async with connected_as(plan, data, "reporting", errors) as reporting:
            await declare_streams(reporting, replicas=1)
            js = reporting.jetstream()
            durable = await js.pull_subscribe("bdg.registry.>", durable="reporting-registry")
            messages = await durable.fetch(3, timeout=5)
            assert [message.metadata.sequence.stream for message in messages] == [1, 2, 3]
            for message in messages:
                await message.ack_sync()
            info = await js.consumer_info("REGISTRY", "reporting-registry")
            assert info.ack_floor.stream_seq == 3

            ordered = await js.subscribe("bdg.registry.>", ordered_consumer=True)
            seen = [await ordered.next_msg(timeout=5) for _ in range(3)]
            assert [message.data for message in seen] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
            await ordered.unsubscribe()

            ephemeral = await js.pull_subscribe("bdg.registry.>", stream="REGISTRY")
            first = await ephemeral.fetch(1, timeout=5)
            await first[0].ack()
            await ephemeral.unsubscribe()

            await js.delete_consumer("REGISTRY", "reporting-registry")
            await reporting.flush()
            assert errors == []
            # Consuming never needs to delete a stream: refused.
            with pytest.raises(TimeoutError):
                await reporting.request("$JS.API.STREAM.DELETE.REGISTRY", b"", timeout=1)
            await violation_reported(errors, "$JS.API.STREAM.DELETE.REGISTRY")


async def test_three_nodes_keep_streams_on_all_three_and_survive_one_loss(
    tmp_path: Path,
) -> None:
    with launched_nats(tmp_path, nodes=3) as (plan, data, supervisor):
        await wait_healthy(plan)
        async with connected_as(plan, data, "registry") as registry:
            await declare_streams(registry, replicas=3)
            await registry.jetstream().publish(UNIT_SUBJECT, b'{"unit": 1}')
            info = await registry.jetstream().stream_info("REGISTRY")
            assert info.config.num_replicas == 3
            assert info.cluster is not None
            members = [info.cluster.leader, *[peer.name for peer in info.cluster.replicas or []]]
            assert sorted(members) == ["bdg-nats-1", "bdg-nats-2", "bdg-nats-3"]

        # Node 3 dies: two of three still hold a majority, so writes go on.
        third = supervisor.children[2].process
        assert third is not None
        third.kill()
        third.wait()
        async with connected_as(plan, data, "registry") as registry:
            js = registry.jetstream()

            async def stored() -> bool:
                try:
                    ack = await js.publish(UNIT_SUBJECT, b'{"unit": 2}', timeout=2)
                except (TimeoutError, nats.js.errors.Error):
                    return False  # a new stream leader is being elected
                return ack.seq >= 2

            await eventually(stored, timeout=30, interval=0.2)
            assert await last_sequence(registry, "REGISTRY") >= 2
