"""`make up`'s plan: which processes on which ports, what stack.json says, and the data
folder it keeps (layout marker, secrets, lock)."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from deploy.local.datadir import DataDir, DataDirError
from deploy.local.nats_config import render, server_config, service_permissions
from deploy.local.plan import PlanError, plan_from_env, taken_ports
from deploy.local.stack import admin_client, node_addresses, service_children


def test_default_plan_is_one_of_each_on_the_usual_ports() -> None:
    plan = plan_from_env({})
    assert plan.stack_json() == {
        "nats": ["nats://127.0.0.1:4222"],
        "services": {
            "registry": ["http://127.0.0.1:8001"],
            "events": ["http://127.0.0.1:8002"],
            "reporting": ["http://127.0.0.1:8003"],
        },
    }
    assert plan.stream_replicas == 1
    assert plan.nats_url == "nats://127.0.0.1:4222"


def test_two_replicas_and_three_nodes() -> None:
    plan = plan_from_env({"BDG_REPLICAS": "2", "BDG_NATS_NODES": "3"})
    assert plan.stack_json() == {
        "nats": ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"],
        "services": {
            "registry": ["http://127.0.0.1:8001", "http://127.0.0.1:8011"],
            "events": ["http://127.0.0.1:8002", "http://127.0.0.1:8012"],
            "reporting": ["http://127.0.0.1:8003", "http://127.0.0.1:8013"],
        },
    }
    assert plan.stream_replicas == 3
    assert plan.nats_url == ",".join(plan.stack_json()["nats"])  # type: ignore[arg-type]
    assert [node.route_port for node in plan.nats_nodes] == [6222, 6223, 6224]
    assert [node.monitor_port for node in plan.nats_nodes] == [8222, 8223, 8224]


def test_ports_follow_the_port_variables() -> None:
    plan = plan_from_env(
        {"BDG_REPLICAS": "3", "BDG_REGISTRY_PORT": "9001", "BDG_NATS_PORT": "14222"}
    )
    assert [replica.port for replica in plan.of("registry")] == [9001, 9011, 9021]
    assert plan.nats_nodes[0].monitor_port == 18222


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BDG_REPLICAS": "0"}, "BDG_REPLICAS must be between 1 and 9"),
        ({"BDG_REPLICAS": "two"}, "not a whole number"),
        ({"BDG_NATS_NODES": "2"}, "BDG_NATS_NODES must be 1"),
        # registry replica 2 lands on the events port
        ({"BDG_REPLICAS": "2", "BDG_EVENTS_PORT": "8011"}, "would both use port 8011"),
        ({"BDG_NATS_PORT": "65000"}, "out of range"),
    ],
)
def test_impossible_plans_say_what_to_change(env: dict[str, str], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_from_env(env)


def test_a_port_in_use_by_another_program_is_reported() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        plan = plan_from_env({"BDG_EVENTS_PORT": str(port), "BDG_NATS_PORT": "14222"})
        assert (port, "events-1") in taken_ports(plan)
    assert (port, "events-1") not in taken_ports(plan)


# --------------------------------------------------------------------- data folder
def test_a_new_folder_gets_a_layout_marker_and_private_secrets(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    assert data.prepare(nats_nodes=1) is True
    assert json.loads((data.root / "layout.json").read_text()) == {"layout": 2, "nats_nodes": 1}
    secret = data.secret("nats-events-password")
    assert len(secret) >= 32
    assert stat.S_IMODE(data.secret_path("nats-events-password").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.secrets.stat().st_mode) == 0o700
    # The next run reads the same folder: same secrets, nothing recreated.
    again = DataDir(tmp_path / "data")
    assert again.prepare(nats_nodes=1) is False
    assert again.secret("nats-events-password") == secret
    assert data.secret_path("nats-events-password").read_text() == secret


def test_a_folder_from_the_previous_version_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "data"
    (old / "nats" / "jetstream").mkdir(parents=True)
    with pytest.raises(DataDirError, match="written by an older bdg") as refused:
        DataDir(old).prepare(nats_nodes=1)
    assert f"mv {old} {old}.old" in str(refused.value)
    assert not (old / "layout.json").exists()


def test_a_change_of_nats_node_count_is_refused(tmp_path: Path) -> None:
    DataDir(tmp_path).prepare(nats_nodes=1)
    with pytest.raises(DataDirError, match="BDG_NATS_NODES=3 cannot reuse it"):
        DataDir(tmp_path).prepare(nats_nodes=3)


def test_one_folder_serves_one_launcher_at_a_time(tmp_path: Path) -> None:
    first = DataDir(tmp_path)
    first.lock()
    second = DataDir(tmp_path)
    try:
        with pytest.raises(DataDirError, match="another `make up` still running"):
            second.lock()
    finally:
        first.unlock()
    second.lock()  # free again once the first one is gone
    second.unlock()


# --------------------------------------------------------------------------- NATS
def test_each_service_may_publish_only_its_own_events() -> None:
    def published(service: str) -> set[str]:
        allow = service_permissions(service)["publish"]["allow"]  # type: ignore[index]
        return {subject for subject in allow if subject.startswith("bdg.")}

    assert published("registry") == {"bdg.registry.>"}
    assert published("events") == {"bdg.activities.>"}
    assert published("reporting") == set()
    for service in ("registry", "events", "reporting"):
        allow = service_permissions(service)["publish"]["allow"]  # type: ignore[index]
        assert not any("DELETE.REGISTRY" in s and "STREAM" in s for s in allow)
        assert service_permissions(service)["subscribe"] == {"allow": ["_INBOX.>"]}


def test_cluster_nodes_route_to_their_two_peers_only(tmp_path: Path) -> None:
    plan = plan_from_env({"BDG_NATS_NODES": "3"})
    data = DataDir(tmp_path)
    second = render(server_config(node_addresses(plan, plan.nats_nodes[1], data)))
    assert 'listen: "127.0.0.1:6223"' in second
    assert "$NATS_ROUTE_TO_1" in second
    assert "$NATS_ROUTE_TO_3" in second
    assert "$NATS_ROUTE_TO_2" not in second
    single = render(server_config(node_addresses(plan_from_env({}), plan.nats_nodes[0], data)))
    assert "\ncluster:" not in single
    # No password is ever written into the file.
    assert "password: $NATS_EVENTS_PASSWORD" in single


# ------------------------------------------------------------ service settings
def test_each_replica_gets_its_port_its_nats_user_and_secrets_by_file(tmp_path: Path) -> None:
    plan = plan_from_env({"BDG_REPLICAS": "2", "BDG_NATS_NODES": "3"})
    data = DataDir(tmp_path)
    data.prepare(nats_nodes=3)
    inherited = {
        "PATH": "/usr/bin",
        "BDG_NATS_USER": "someone-else",
        "BDG_NATS_PASSWORD": "inherited",
        "BDG_ADMIN_CLIENT_SECRET": "",
        "BDG_DRAIN": "x",
    }
    admin = admin_client(inherited, data)
    specs = {spec.name: spec for spec in service_children(inherited, plan, data, admin)}
    assert sorted(specs) == [
        "events-1",
        "events-2",
        "registry-1",
        "registry-2",
        "reporting-1",
        "reporting-2",
    ]
    events_2 = specs["events-2"].env
    assert events_2["BDG_EVENTS_PORT"] == "8012"
    assert events_2["BDG_NATS_USER"] == "events"
    assert "BDG_NATS_PASSWORD" not in events_2
    password_file = Path(events_2["BDG_NATS_PASSWORD_FILE"])
    assert password_file.read_text() == data.secret("nats-events-password")
    assert events_2["BDG_NATS_URL"] == plan.nats_url
    assert events_2["BDG_STREAM_REPLICAS"] == "3"
    assert events_2["BDG_DATA_DIR"] == str(tmp_path)
    assert events_2["BDG_JWKS_URL"] == "http://127.0.0.1:8001/.well-known/jwks.json"
    # The generated admin secret travels by file, never in a child's environment.
    assert events_2["BDG_ADMIN_CLIENT_ID"] == "bdg-admin"
    assert "BDG_ADMIN_CLIENT_SECRET" not in events_2
    assert Path(events_2["BDG_ADMIN_CLIENT_SECRET_FILE"]).read_text() == admin.secret
    assert all(admin.secret not in value for value in events_2.values())
    # Only the registry gets the passphrase of its signing keys.
    registry = specs["registry-2"].env
    assert Path(registry["BDG_SIGNING_KEY_PASSPHRASE_FILE"]).read_text()
    assert "BDG_SIGNING_KEY_PASSPHRASE_FILE" not in events_2
    # Stopping waits for the drain (20 s by default) and a margin.
    assert specs["events-1"].stop_seconds == 30


def test_admin_client_from_the_environment_is_passed_as_it_is(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.prepare(nats_nodes=1)
    env = {"BDG_ADMIN_CLIENT_ID": "ops-admin", "BDG_ADMIN_CLIENT_SECRET": "from-env-0123456789"}
    admin = admin_client(env, data)
    assert (admin.client_id, admin.secret, admin.secret_file) == (
        "ops-admin",
        "from-env-0123456789",
        None,
    )
    child = service_children(env, plan_from_env({}), data, admin)[0].env
    assert child["BDG_ADMIN_CLIENT_SECRET"] == "from-env-0123456789"
    assert "BDG_ADMIN_CLIENT_SECRET_FILE" not in child
    assert not data.secret_path("admin-client-secret").exists()


def test_generated_admin_client_is_the_same_at_the_next_start(tmp_path: Path) -> None:
    first = admin_client({}, DataDir(tmp_path))
    again = admin_client(
        {"BDG_ADMIN_CLIENT_ID": "", "BDG_ADMIN_CLIENT_SECRET": ""}, DataDir(tmp_path)
    )
    assert first == again
    assert first.client_id == "bdg-admin"
