"""Static checks of the deployment files: deploy/docker-compose.yml and what it mounts
(NATS, MongoDB, Caddy, Prometheus and Grafana files), deploy/.env.example,
deploy/compose_secrets.py, deploy/Dockerfile and the CI workflow. No Docker engine is
needed; `docker compose config`, `promtool`, `nats-server -t` and `caddy validate` run
where they are installed and are skipped otherwise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from deploy.compose_secrets import ensure_secrets
from deploy.local.nats_config import compose_configs, password_variable, route_variable

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DEPLOY_DIR: Final = REPO_ROOT / "deploy"
COMPOSE_FILE: Final = DEPLOY_DIR / "docker-compose.yml"
ENV_EXAMPLE: Final = DEPLOY_DIR / ".env.example"
DOCKERFILE: Final = DEPLOY_DIR / "Dockerfile"
DOCKERIGNORE: Final = DEPLOY_DIR / "Dockerfile.dockerignore"
CI_WORKFLOW: Final = REPO_ROOT / ".github" / "workflows" / "ci.yml"
PROMETHEUS_DIR: Final = DEPLOY_DIR / "prometheus"
CADDYFILE: Final = DEPLOY_DIR / "caddy" / "Caddyfile"

APP_PORTS: Final[dict[str, int]] = {"registry": 8001, "events": 8002, "reporting": 8003}
PROFILES: Final[dict[str, set[str]]] = {
    "single": {"nats", "mongo", "registry", "events", "reporting", "proxy"},
    "cluster": {
        "nats-1",
        "nats-2",
        "nats-3",
        "mongo-1",
        "mongo-2",
        "mongo-3",
        "cluster-registry",
        "cluster-events",
        "cluster-reporting",
        "cluster-proxy",
    },
    "observability": {"prometheus", "grafana"},
}
# (profile, app service name) → the service it runs.
APP_SERVICES: Final[dict[str, str]] = {
    "registry": "registry",
    "events": "events",
    "reporting": "reporting",
    "cluster-registry": "registry",
    "cluster-events": "events",
    "cluster-reporting": "reporting",
}
NATS_NODES: Final[dict[str, list[str]]] = {
    "single": ["nats"],
    "cluster": ["nats-1", "nats-2", "nats-3"],
}
DIGEST: Final = re.compile(r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")
BDG_NAME: Final = re.compile(r"\bBDG_[A-Z0-9_]*[A-Z0-9]\b")
DURATION: Final = re.compile(r"^(?:(\d+)m)?(?:(\d+)s)?$")


def _load_yaml(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def _compose() -> dict[str, Any]:
    return _load_yaml(COMPOSE_FILE)


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict), "compose file has no services mapping"
    return services


def _service(name: str) -> dict[str, Any]:
    service = _services().get(name)
    assert isinstance(service, dict), f"service {name!r} missing from {COMPOSE_FILE}"
    return service


def _profile_of(name: str) -> str:
    return next(profile for profile, names in PROFILES.items() if name in names)


def _as_args(value: object) -> list[str]:
    """A compose command/healthcheck test as a list of strings (string form split on spaces)."""
    if isinstance(value, str):
        return value.split()
    assert isinstance(value, list), f"expected a list or a string, got {value!r}"
    return [str(item) for item in value]


def _volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source, for short and long volume syntax."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts[str(entry["target"])] = str(entry.get("source", ""))
        else:
            parts = str(entry).split(":")
            if len(parts) >= 2:
                mounts[parts[1]] = parts[0]
    return mounts


def _published_ports(service: dict[str, Any]) -> set[int]:
    published: set[int] = set()
    for entry in service.get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        published.add(int(parts[-2]))
    return published


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    assert isinstance(environment, dict), "use the mapping form of environment"
    return {str(key): str(value) for key, value in environment.items()}


def _secret_names(service: dict[str, Any]) -> set[str]:
    return {
        str(entry["source"] if isinstance(entry, dict) else entry)
        for entry in service.get("secrets", [])
    }


def _seconds(duration: str) -> int:
    match = DURATION.match(duration)
    assert duration, "empty duration"
    assert match, f"not a duration: {duration!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        assert "=" in stripped, f"{path}: not KEY=VALUE: {line!r}"
        key, value = stripped.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def _env_example() -> dict[str, str]:
    assert ENV_EXAMPLE.is_file(), f"{ENV_EXAMPLE} is missing"
    return _parse_env_file(ENV_EXAMPLE)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\s*\n", " ", "\n".join(lines))
    instructions: list[tuple[str, str]] = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


# --- profiles and images ---------------------------------------------------------


def test_each_service_belongs_to_exactly_one_profile() -> None:
    """`--profile single` and `--profile cluster` never start each other's services."""
    assert set(_services()) == set().union(*PROFILES.values())
    for name, service in _services().items():
        assert service.get("profiles") == [_profile_of(name)], name


@pytest.mark.parametrize("name", sorted(set().union(*PROFILES.values()) - set(APP_SERVICES)))
def test_every_image_is_pinned_by_digest(name: str) -> None:
    image = str(_service(name).get("image", ""))
    assert DIGEST.match(image), f"{name}: {image!r} is not tag@sha256:<digest>"


@pytest.mark.parametrize("name", sorted(set().union(*PROFILES.values()) - {"grafana"}))
def test_every_long_running_service_restarts_and_has_a_healthcheck_or_is_a_proxy(
    name: str,
) -> None:
    service = _service(name)
    assert service.get("restart") == "unless-stopped"
    if name.endswith("proxy"):
        return
    test = _as_args(service["healthcheck"]["test"])
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1


# --- the services ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "service_name"), sorted(APP_SERVICES.items()))
def test_app_service_builds_the_shared_image_and_publishes_no_port(
    name: str, service_name: str
) -> None:
    service = _service(name)
    build = service["build"]
    assert (DEPLOY_DIR / str(build["context"])).resolve() == REPO_ROOT
    assert (REPO_ROOT / str(build["dockerfile"])).resolve() == DOCKERFILE
    assert _as_args(service.get("command")) == ["python", "-m", f"services.{service_name}"]
    # No host port: `--scale` and `deploy.replicas` start several; the proxy publishes.
    assert "ports" not in service
    test = _as_args(service["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "-c"]
    assert f":{APP_PORTS[service_name]}/readyz" in " ".join(test)


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_stop_grace_period_is_longer_than_the_drain(name: str) -> None:
    drain = float(_env_example()["BDG_SHUTDOWN_DRAIN_SECONDS"])
    grace = _seconds(str(_service(name)["stop_grace_period"]))
    assert grace >= drain + 5, f"{name}: {grace} s to stop, {drain} s to drain"


@pytest.mark.parametrize(("name", "service_name"), sorted(APP_SERVICES.items()))
def test_app_service_uses_its_own_credentials_from_secrets(name: str, service_name: str) -> None:
    service = _service(name)
    environment = _environment(service)
    mounted = _secret_names(service)
    assert environment["BDG_NATS_USER"] == service_name
    files = {key: value for key, value in environment.items() if key.endswith("_FILE")}
    assert {
        "BDG_NATS_PASSWORD_FILE",
        "BDG_MONGODB_URL_FILE",
        "BDG_ADMIN_CLIENT_SECRET_FILE",
    } <= set(files)
    for variable, path in files.items():
        assert path.startswith("/run/secrets/"), variable
        assert path.removeprefix("/run/secrets/") in mounted, f"{name}: {path} not mounted"
    assert files["BDG_NATS_PASSWORD_FILE"] == f"/run/secrets/nats_{service_name}_password"
    assert f"mongodb_{service_name}_url" in files["BDG_MONGODB_URL_FILE"]
    # Only the registry holds the passphrase of the signing keys.
    assert ("BDG_SIGNING_KEY_PASSPHRASE_FILE" in files) == (service_name == "registry")
    # No secret in plain variables.
    for variable in ("BDG_NATS_PASSWORD", "BDG_MONGODB_URL", "BDG_ADMIN_CLIENT_SECRET"):
        assert variable not in environment
        assert variable not in _env_example()


@pytest.mark.parametrize(("name", "service_name"), sorted(APP_SERVICES.items()))
def test_app_service_reaches_the_infrastructure_of_its_profile(
    name: str, service_name: str
) -> None:
    service = _service(name)
    profile = _profile_of(name)
    environment = _environment(service)
    nodes = NATS_NODES[profile]
    assert environment["BDG_NATS_URL"] == ",".join(f"nats://{node}:4222" for node in nodes)
    depends_on = service["depends_on"]
    first_mongo = "mongo" if profile == "single" else "mongo-1"
    assert set(depends_on) == {*nodes, first_mongo}
    assert all(entry["condition"] == "service_healthy" for entry in depends_on.values())
    if profile == "cluster":
        assert service["deploy"]["replicas"] == 2
        assert environment["BDG_STREAM_REPLICAS"] == "3"
        assert environment["BDG_JWKS_URL"].startswith("http://cluster-registry:8001/")
        assert environment["BDG_MONGODB_URL_FILE"].endswith("_url_cluster")
    else:
        assert _env_example()["BDG_STREAM_REPLICAS"] == "1"
        assert _env_example()["BDG_JWKS_URL"].startswith("http://registry:8001/")


@pytest.mark.parametrize("name", ["proxy", "cluster-proxy"])
def test_the_proxy_publishes_the_usual_ports_for_every_replica(name: str) -> None:
    proxy = _service(name)
    assert _published_ports(proxy) == set(APP_PORTS.values())
    assert _volume_mounts(proxy)["/etc/caddy/Caddyfile"] == "./caddy/Caddyfile"
    prefix = "cluster-" if name == "cluster-proxy" else ""
    upstreams = {f"BDG_{service.upper()}_UPSTREAM": f"{prefix}{service}" for service in APP_PORTS}
    caddyfile = CADDYFILE.read_text(encoding="utf-8")
    for service, port in APP_PORTS.items():
        variable = f"BDG_{service.upper()}_UPSTREAM"
        # Found by DNS, so each replica compose starts is an upstream.
        assert f"dynamic a {{${variable}:{service}}} {port}" in caddyfile
        assert f":{port} {{" in caddyfile
        chosen = _environment(proxy).get(variable, service)
        assert chosen == upstreams[variable]
        assert chosen in _services()
        assert _profile_of(chosen) == _profile_of(name)
    assert set(proxy["depends_on"]) == {f"{prefix}{service}" for service in APP_PORTS}


def test_every_app_variable_is_defined_in_env_example_or_by_compose() -> None:
    env = _env_example()
    used: set[str] = set()
    for source in ("services", "shared"):
        for path in (REPO_ROOT / source).rglob("*.py"):
            used.update(BDG_NAME.findall(path.read_text(encoding="utf-8")))
    set_by_compose: set[str] = set()
    for name in APP_SERVICES:
        for variable in _environment(_service(name)):
            set_by_compose.update({variable, variable.removesuffix("_FILE")})
    missing = sorted(
        name
        for name in used
        if name not in env and name not in set_by_compose and not name.endswith("_FILE")
    )
    assert not missing, f"neither in {ENV_EXAMPLE.name} nor set by compose: {missing}"


def test_env_example_ports_databases_and_admin() -> None:
    env = _env_example()
    for name, port in APP_PORTS.items():
        assert env[f"BDG_{name.upper()}_PORT"] == str(port)
        assert env[f"BDG_{name.upper()}_DATABASE"] == f"bdg_{name}"
    assert env["BDG_HOST"] == "0.0.0.0"
    assert env["BDG_LOG_LEVEL"] == "INFO"
    assert env["BDG_ADMIN_CLIENT_ID"] == "bdg-admin"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert re.search(r"#.*MUST be set", text), "say the admin secret must be set"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_service_reads_env_example_and_optional_env(name: str) -> None:
    entries = _service(name)["env_file"]
    resolved = {(DEPLOY_DIR / e["path"]).resolve(): e.get("required", True) for e in entries}
    assert resolved[ENV_EXAMPLE.resolve()] is True
    assert all(
        required is False for path, required in resolved.items() if path != ENV_EXAMPLE.resolve()
    )


# --- NATS --------------------------------------------------------------------------


def test_nats_configurations_are_generated_from_the_launchers_permissions() -> None:
    """The compose files carry the same users and permissions as `make up`."""
    for name, text in compose_configs().items():
        path = DEPLOY_DIR / "nats" / name
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is out of date: run python -m deploy.local.nats_config"
        )


@pytest.mark.parametrize("profile", ["single", "cluster"])
def test_nats_nodes_run_their_configuration_with_secrets(profile: str) -> None:
    nodes = NATS_NODES[profile]
    for node in nodes:
        service = _service(node)
        assert _as_args(service["entrypoint"]) == ["/bin/sh", "/etc/bdg/nats/entrypoint.sh"]
        config = _as_args(service["command"])[0]
        assert (DEPLOY_DIR / "nats" / Path(config).name).is_file()
        assert _volume_mounts(service)["/etc/bdg/nats"] == "./nats"
        assert _volume_mounts(service)["/data"] in (_compose().get("volumes") or {})
        expected = {f"nats_{user}_password" for user in ("registry", "events", "reporting", "ops")}
        if profile == "cluster":
            expected.add("nats_route_password")
        assert _secret_names(service) == expected
        # Plain /healthz: `?js-enabled-only=true` is 200 before a cluster has a leader.
        assert "http://127.0.0.1:8222/healthz" in _as_args(service["healthcheck"]["test"])
    if profile == "cluster":
        entrypoint = (DEPLOY_DIR / "nats" / "entrypoint.sh").read_text(encoding="utf-8")
        route = 'NATS_ROUTE_TO_${node}=\\"nats-route://route:${route_password}@nats-${node}:6222\\"'
        assert route in entrypoint
        for index, node in enumerate(nodes, start=1):
            text = (DEPLOY_DIR / "nats" / f"cluster-{index}.conf").read_text(encoding="utf-8")
            peers = {f"${route_variable(other)}" for other in range(1, 4) if other != index}
            assert {line.strip() for line in text.splitlines()} >= peers, node
            assert f"${route_variable(index)}" not in text


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
@pytest.mark.parametrize("config", ["single.conf", "cluster-1.conf", "cluster-3.conf"])
def test_nats_server_accepts_each_configuration(config: str, tmp_path: Path) -> None:
    """deploy/nats/entrypoint.sh with fake secrets, then `nats-server -t` on the file."""
    server = Path(sys.executable).parent / "nats-server"
    if not server.exists():
        pytest.skip("nats-server is not installed")
    # Values nats-server would read as numbers if they were not quoted.
    for user, value in (("events", "-5starts-with-a-dash"), ("registry", "20240101")):
        (tmp_path / f"nats_{user}_password").write_text(value)
    (tmp_path / "nats_route_password").write_text("-route-1")
    ensure_secrets(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The entrypoint execs `nats-server --config FILE`; `-t` makes it only check the file.
    (bin_dir / "nats-server").write_text(f'#!/bin/sh\nexec {server} -t "$@"\n')
    (bin_dir / "nats-server").chmod(0o755)
    result = subprocess.run(
        ["sh", str(DEPLOY_DIR / "nats" / "entrypoint.sh"), str(DEPLOY_DIR / "nats" / config)],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "BDG_SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr


# --- MongoDB -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "members"), [("mongo", ["mongo"]), ("mongo-1", ["mongo-1", "mongo-2", "mongo-3"])]
)
def test_mongo_replica_set_with_keyfile_users_and_initiation(
    first: str, members: list[str]
) -> None:
    entrypoint = (DEPLOY_DIR / "mongo" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "--replSet rs0" in entrypoint
    assert "--keyFile /tmp/mongo-keyfile" in entrypoint
    assert "install -m 0400 -o mongodb" in entrypoint
    for member in members:
        service = _service(member)
        assert _as_args(service["entrypoint"]) == ["/bin/bash", "/etc/bdg/mongo/entrypoint.sh"]
        assert "mongo_keyfile" in _secret_names(service)
        assert _volume_mounts(service)["/data/db"] in (_compose().get("volumes") or {})
    service = _service(first)
    environment = _environment(service)
    assert environment["MONGO_INITDB_ROOT_PASSWORD_FILE"] == "/run/secrets/mongo_root_password"
    assert (
        _volume_mounts(service)["/docker-entrypoint-initdb.d/10-bdg-users.js"]
        == "./mongo/init-users.js"
    )
    test = _as_args(service["healthcheck"]["test"])
    assert test[:4] == ["CMD", "bash", "/etc/bdg/mongo/healthcheck.sh", "primary"]
    assert test[4:] == [f"{member}:27017" for member in members]
    assert service["healthcheck"]["start_period"]
    for other in members[1:]:
        assert service["depends_on"][other]["condition"] == "service_healthy"
    users = (DEPLOY_DIR / "mongo" / "init-users.js").read_text(encoding="utf-8")
    for name in APP_PORTS:
        assert f"mongo_{name}_password" in " ".join(sorted(_secret_names(service)))
        assert f'{name}: process.env.BDG_{name.upper()}_DATABASE || "bdg_{name}"' in users
    healthcheck = (DEPLOY_DIR / "mongo" / "healthcheck.sh").read_text(encoding="utf-8")
    assert "rs.initiate(" in healthcheck
    assert "isWritablePrimary" in healthcheck


# --- secrets -----------------------------------------------------------------------


def test_the_secrets_script_writes_exactly_what_compose_mounts(tmp_path: Path) -> None:
    declared = _compose()["secrets"]
    for name, secret in declared.items():
        assert secret == {"file": f"./secrets/{name}"}
    used = set().union(*(_secret_names(service) for service in _services().values()))
    assert used == set(declared)
    written = ensure_secrets(tmp_path)
    assert set(written) == set(declared)
    values = {name: (tmp_path / name).read_text() for name in declared}
    assert len(set(values.values())) == len(values), "two secrets share a value"
    # The URLs carry each service's MongoDB password.
    for service in APP_PORTS:
        password = values[f"mongo_{service}_password"]
        assert f"//{service}:{password}@mongo:27017/" in values[f"mongodb_{service}_url"]
        assert (
            "@mongo-1:27017,mongo-2:27017,mongo-3:27017/"
            in values[f"mongodb_{service}_url_cluster"]
        )
        assert "replicaSet=rs0&authSource=admin" in values[f"mongodb_{service}_url"]
    assert re.fullmatch(r"[0-9a-f]{756}", values["mongo_keyfile"])
    assert oct(tmp_path.stat().st_mode)[-3:] == "700"
    # A second run keeps every value.
    assert ensure_secrets(tmp_path) == []
    assert {name: (tmp_path / name).read_text() for name in declared} == values


def test_the_nats_passwords_the_entrypoint_sets_are_those_the_configuration_names() -> None:
    entrypoint = (DEPLOY_DIR / "nats" / "entrypoint.sh").read_text(encoding="utf-8")
    single = (DEPLOY_DIR / "nats" / "single.conf").read_text(encoding="utf-8")
    for user in ("registry", "events", "reporting", "ops"):
        variable = password_variable(user)
        assert f"password: ${variable}" in single
        assert f'{variable}="$(read_secret nats_{user}_password)"' in entrypoint


# --- observability -----------------------------------------------------------------


def test_prometheus_scrapes_every_service_of_both_profiles() -> None:
    config = _load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    prometheus = _service("prometheus")
    assert config["rule_files"] == ["alerts.yml"]
    assert _volume_mounts(prometheus)["/etc/prometheus/alerts.yml"] == "./prometheus/alerts.yml"
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "bdg")
    scraped = {(name, entry["port"]) for entry in job["dns_sd_configs"] for name in entry["names"]}
    expected = {(name, APP_PORTS[service]) for name, service in APP_SERVICES.items()}
    assert scraped == expected


def test_alerts_cover_lag_outbox_dead_letters_freshness_errors_gap_and_keys() -> None:
    rules = _load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"][0]["rules"]
    by_name = {rule["alert"]: rule["expr"] for rule in rules}
    expected = {
        "ConsumerLag": "bdg_consumer_pending_messages",
        "OutboxBacklog": "bdg_outbox_oldest_pending_seconds",
        "OutboxDeadLetters": "bdg_outbox_dead_letters",
        "ConsumerDeadLetters": "bdg_consumer_dead_letters_open",
        "ConsumerFreshness": "bdg_consumer_freshness_seconds_bucket",
        "HttpErrorRate": 'bdg_http_requests_total{status=~"5.."}',
        "StreamGap": "bdg_stream_gap",
        "NoUsableSigningKeys": "bdg_signing_keys_usable",
    }
    for alert, metric in expected.items():
        assert metric in by_name[alert], alert
    tested = (PROMETHEUS_DIR / "alerts_test.yml").read_text(encoding="utf-8")
    for alert in expected:
        assert f"alertname: {alert}" in tested, f"{alert} has no promtool test"


def test_grafana_is_provisioned_with_the_dashboard_of_those_metrics() -> None:
    grafana = _service("grafana")
    assert (
        _environment(grafana)["GF_SECURITY_ADMIN_PASSWORD__FILE"]
        == "/run/secrets/grafana_admin_password"
    )
    mounts = _volume_mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    datasource = _load_yaml(
        DEPLOY_DIR / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    provider = _load_yaml(DEPLOY_DIR / "grafana" / "provisioning" / "dashboards" / "bdg.yml")
    folder = provider["providers"][0]["options"]["path"]
    assert mounts[folder] == "./grafana/dashboards"
    dashboard = json.loads((DEPLOY_DIR / "grafana" / "dashboards" / "bdg.json").read_text())
    expressions = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    )
    for metric in (
        "bdg_consumer_pending_messages",
        "bdg_outbox_oldest_pending_seconds",
        "bdg_outbox_dead_letters",
        "bdg_consumer_dead_letters_open",
        "bdg_consumer_freshness_seconds_bucket",
        "bdg_http_requests_total",
        "bdg_stream_gap",
        "bdg_signing_keys_usable",
    ):
        assert metric in expressions, metric
    uids = {
        target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel["targets"]
    }
    assert uids == {datasource["uid"]}


# --- tools, where installed --------------------------------------------------------


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or a v2 `docker-compose`; None when neither works."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        version = subprocess.run(
            [*command, "version", "--short"], capture_output=True, text=True, check=False
        )
        if version.returncode == 0 and version.stdout.strip().lstrip("v").startswith("2"):
            return command
    return None


@pytest.mark.parametrize("profiles", [["single"], ["cluster"], ["single", "observability"]])
def test_docker_compose_config_accepts_each_profile(profiles: list[str]) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 on this machine")
    flags = [part for profile in profiles for part in ("--profile", profile)]
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), *flags, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    expected = set().union(*(PROFILES[profile] for profile in profiles))
    assert set(rendered["services"]) == expected


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ],
)
def test_promtool_accepts_the_configuration_and_the_alerts_fire(arguments: list[str]) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    result = subprocess.run(
        ["promtool", *arguments],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_caddy_accepts_the_caddyfile() -> None:
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed")
    result = subprocess.run(
        ["caddy", "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env={**os.environ, "BDG_EVENTS_UPSTREAM": "cluster-events"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    servers = json.loads(result.stdout)["apps"]["http"]["servers"].values()
    upstreams = {
        route["handle"][0]["dynamic_upstreams"]["name"]
        for server in servers
        for route in server["routes"]
        if route["handle"][0].get("handler") == "reverse_proxy"
    }
    assert upstreams == {"registry", "cluster-events", "reporting"}


# --- image -------------------------------------------------------------------------


def test_dockerfile_installs_from_the_hashed_lock_on_a_pinned_base() -> None:
    instructions = _dockerfile_instructions()
    base = [args for keyword, args in instructions if keyword == "ARG" and "PYTHON_IMAGE=" in args]
    assert base, "the base image is named in ARG PYTHON_IMAGE"
    assert DIGEST.match(base[0].split("=", 1)[1]), base[0]
    assert base[0].split("=", 1)[1].startswith("python:3.11-slim@")
    assert any(keyword == "COPY" and "requirements.lock" in args for keyword, args in instructions)
    installs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(
        "requirements.lock" in args and "--require-hashes" in args and "uv pip sync" in args
        for args in installs
    ), "dependencies must be installed from requirements.lock with --require-hashes"


def test_dockerfile_runtime_stage() -> None:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    runtime = instructions[last_from:]
    copies = " ".join(args for keyword, args in runtime if keyword == "COPY")
    for item in ("services/", "shared/", "pyproject.toml"):
        assert item in copies, f"runtime stage does not copy {item}"
    envs = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert "PYTHONPATH=/app" in envs
    assert "BDG_HOST=0.0.0.0" in envs
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerignore_keeps_what_the_image_needs() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if "*" in lines:  # allow-list style: everything copied must be re-included
        for needed in ("requirements.lock", "pyproject.toml", "services", "shared"):
            assert any(line.rstrip("/") == f"!{needed}" for line in lines), needed


# --- CI ----------------------------------------------------------------------------


def test_ci_runs_the_tests_and_validates_compose() -> None:
    workflow = _load_yaml(CI_WORKFLOW)
    # PyYAML reads the bare key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict)
    assert {"push", "pull_request"} <= set(triggers)
    runs: list[str] = []
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest"
        runs.extend(str(step.get("run", "")) for step in job["steps"])
    assert "make test" in runs
    joined = "\n".join(runs)
    assert "python deploy/compose_secrets.py" in joined
    for profile in ("single", "cluster"):
        assert (
            f"docker compose -f deploy/docker-compose.yml --profile {profile} config -q" in joined
        )
