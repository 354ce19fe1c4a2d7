"""Static checks of the deployment files: deploy/docker-compose.yml, deploy/.env.example,
deploy/Dockerfile and the CI workflow. No Docker engine is needed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DEPLOY_DIR: Final = REPO_ROOT / "deploy"
COMPOSE_FILE: Final = DEPLOY_DIR / "docker-compose.yml"
ENV_EXAMPLE: Final = DEPLOY_DIR / ".env.example"
DOCKERFILE: Final = DEPLOY_DIR / "Dockerfile"
DOCKERIGNORE: Final = DEPLOY_DIR / "Dockerfile.dockerignore"
CI_WORKFLOW: Final = REPO_ROOT / ".github" / "workflows" / "ci.yml"

APP_PORTS: Final[dict[str, int]] = {"registry": 8001, "events": 8002, "reporting": 8003}
INFRA_SERVICES: Final = ("nats", "mongo")

# Every variable the services read (all BDG_-prefixed).
APP_VARIABLES: Final = frozenset(
    {
        "BDG_MONGODB_URL",
        "BDG_NATS_URL",
        "BDG_HOST",
        "BDG_STREAM_REPLICAS",
        "BDG_LOG_LEVEL",
        "BDG_REGISTRY_PORT",
        "BDG_EVENTS_PORT",
        "BDG_REPORTING_PORT",
        "BDG_REGISTRY_DATABASE",
        "BDG_EVENTS_DATABASE",
        "BDG_REPORTING_DATABASE",
        "BDG_ADMIN_CLIENT_ID",
        "BDG_ADMIN_CLIENT_SECRET",
    }
)
BDG_NAME: Final = re.compile(r"\bBDG_[A-Z0-9_]*[A-Z0-9]\b")
INTERPOLATION: Final = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


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


def _as_args(value: object) -> list[str]:
    """A compose command/healthcheck test as a list of strings (string form split on spaces)."""
    if isinstance(value, str):
        return value.split()
    assert isinstance(value, list), f"expected a list or a string, got {value!r}"
    return [str(item) for item in value]


def _flag_value(args: list[str], *flags: str) -> str | None:
    for index, arg in enumerate(args):
        if arg in flags and index + 1 < len(args):
            return args[index + 1]
        for flag in flags:
            if arg.startswith(f"{flag}="):
                return arg.split("=", 1)[1]
    return None


def _published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs from short or long port syntax."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if "published" in entry:
                pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


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


def _named_volumes() -> set[str]:
    volumes = _compose().get("volumes") or {}
    assert isinstance(volumes, dict)
    return set(volumes)


def _env_file_paths(service: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path, required) for each env_file entry."""
    raw = service.get("env_file", [])
    entries = raw if isinstance(raw, list) else [raw]
    result: list[tuple[str, bool]] = []
    for entry in entries:
        if isinstance(entry, dict):
            result.append((str(entry["path"]), bool(entry.get("required", True))))
        else:
            result.append((str(entry), True))
    return result


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


# --- services ------------------------------------------------------------------


def test_compose_defines_the_five_services() -> None:
    assert set(_services()) >= {*INFRA_SERVICES, *APP_PORTS}


@pytest.mark.parametrize(("name", "port"), sorted(APP_PORTS.items()))
def test_app_service_builds_the_shared_image_and_publishes_its_port(name: str, port: int) -> None:
    service = _service(name)
    build = service.get("build")
    assert isinstance(build, dict), f"{name}: build must be a mapping with context and dockerfile"
    assert (DEPLOY_DIR / str(build["context"])).resolve() == REPO_ROOT
    assert (REPO_ROOT / str(build["dockerfile"])).resolve() == DOCKERFILE
    assert _as_args(service.get("command")) == ["python", "-m", f"services.{name}"]
    assert (port, port) in _published_ports(service)


def test_app_services_publish_distinct_ports() -> None:
    published = [host for name in APP_PORTS for host, _ in _published_ports(_service(name))]
    assert sorted(published) == sorted(APP_PORTS.values())


@pytest.mark.parametrize("name", [*INFRA_SERVICES, *APP_PORTS])
def test_every_service_has_a_healthcheck(name: str) -> None:
    healthcheck = _service(name).get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name}: no healthcheck"
    assert not healthcheck.get("disable", False)
    test = _as_args(healthcheck.get("test"))
    assert test, f"{name}: empty healthcheck test"
    assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test must start with CMD"
    assert len(test) > 1


@pytest.mark.parametrize(("name", "port"), sorted(APP_PORTS.items()))
def test_app_healthcheck_probes_readyz_with_python(name: str, port: int) -> None:
    test = _as_args(_service(name)["healthcheck"]["test"])
    joined = " ".join(test)
    # The slim image has no curl or wget.
    assert test[:3] == ["CMD", "python", "-c"]
    assert "urllib" in joined
    assert f":{port}/readyz" in joined


def test_nats_runs_jetstream_with_a_named_volume_and_monitoring_healthcheck() -> None:
    nats = _service("nats")
    assert str(nats.get("image", "")).startswith("nats:")
    # The default nats image is scratch-based; the healthcheck needs a shell tool.
    assert "alpine" in str(nats["image"])
    args = _as_args(nats.get("command"))
    assert "-js" in args or "--jetstream" in args, f"JetStream not enabled: {args}"
    store_dir = _flag_value(args, "-sd", "--store_dir")
    assert store_dir, f"JetStream store dir not set: {args}"
    mounts = _volume_mounts(nats)
    assert store_dir in mounts, f"store dir {store_dir} is not a volume mount: {mounts}"
    assert mounts[store_dir] in _named_volumes(), "JetStream store must be a named volume"
    monitor_port = _flag_value(args, "-m", "--http_port")
    assert monitor_port == "8222", "monitoring endpoint must be enabled on 8222"
    test = " ".join(_as_args(nats["healthcheck"]["test"]))
    assert "wget" in test
    assert ":8222/healthz?js-enabled-only=true" in test
    exposed = {str(port) for port in nats.get("expose", [])}
    assert exposed >= {"4222", "8222"}


def test_mongo_runs_as_an_initiated_replica_set() -> None:
    mongo = _service("mongo")
    assert str(mongo.get("image", "")).startswith("mongo:7")
    args = _as_args(mongo.get("command"))
    assert _flag_value(args, "--replSet") == "rs0"
    assert "--bind_ip_all" in args
    mounts = _volume_mounts(mongo)
    assert mounts.get("/data/db") in _named_volumes(), "mongo data must be a named volume"
    healthcheck = mongo["healthcheck"]
    test = " ".join(_as_args(healthcheck["test"]))
    assert "mongosh" in test
    assert "rs.initiate(" in test
    assert "'rs0'" in test or '"rs0"' in test
    assert "mongo:27017" in test
    # mongosh exits 0 whatever --eval evaluates to: healthy must mean PRIMARY.
    assert "quit(" in test
    assert "isWritablePrimary" in test or "PRIMARY" in test
    assert healthcheck.get("start_period"), "mongo needs a start_period to initiate"


def test_app_urls_point_at_the_compose_services() -> None:
    env = _env_example()
    mongo_url = env["BDG_MONGODB_URL"]
    assert mongo_url.startswith("mongodb://mongo:27017")
    assert "replicaSet=rs0" in mongo_url
    assert env["BDG_NATS_URL"] == "nats://nats:4222"
    assert env["BDG_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_app_service_waits_for_healthy_infrastructure_and_restarts(name: str) -> None:
    service = _service(name)
    depends_on = service.get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must use the long form"
    for dependency in INFRA_SERVICES:
        assert dependency in depends_on, f"{name} does not depend on {dependency}"
        assert depends_on[dependency].get("condition") == "service_healthy"
    assert service.get("restart") in {"unless-stopped", "always", "on-failure"}


@pytest.mark.parametrize("name", INFRA_SERVICES)
def test_infrastructure_restarts(name: str) -> None:
    assert _service(name).get("restart") in {"unless-stopped", "always"}


# --- environment ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_app_service_reads_env_example_and_optional_env(name: str) -> None:
    env_files = _env_file_paths(_service(name))
    resolved = {(DEPLOY_DIR / path).resolve(): required for path, required in env_files}
    assert resolved.get(ENV_EXAMPLE.resolve()) is True, f"{name}: must load .env.example"
    # deploy/.env does not exist in a fresh clone: every other env file must be optional.
    for path, required in resolved.items():
        if path != ENV_EXAMPLE.resolve():
            assert required is False, f"{name}: {path} must be required: false"


def test_env_example_defines_every_variable_the_services_use() -> None:
    env = _env_example()
    used: set[str] = set(APP_VARIABLES)
    for name in APP_PORTS:
        service = _service(name)
        environment = service.get("environment") or {}
        keys = (
            environment
            if isinstance(environment, dict)
            else [str(item).split("=", 1)[0] for item in environment]
        )
        used.update(key for key in keys if key.startswith("BDG_"))
    used.update(
        match
        for match in INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8"))
        if match.startswith("BDG_")
    )
    # Variables named literally in the service code.
    for source in ("services", "shared"):
        for path in (REPO_ROOT / source).rglob("*.py"):
            used.update(BDG_NAME.findall(path.read_text(encoding="utf-8")))
    missing = sorted(used - set(env))
    assert not missing, f"not in {ENV_EXAMPLE.name}: {missing}"


def test_env_example_ports_and_databases() -> None:
    env = _env_example()
    for name, port in APP_PORTS.items():
        assert env[f"BDG_{name.upper()}_PORT"] == str(port)
        assert env[f"BDG_{name.upper()}_DATABASE"] == f"bdg_{name}"
    assert env["BDG_STREAM_REPLICAS"] == "1"
    assert env["BDG_LOG_LEVEL"] == "INFO"


def test_env_example_leaves_admin_credentials_empty() -> None:
    env = _env_example()
    assert env["BDG_ADMIN_CLIENT_ID"] == ""
    assert env["BDG_ADMIN_CLIENT_SECRET"] == ""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert re.search(r"#.*must be set", text, re.IGNORECASE), "say the credentials must be set"


# --- image ---------------------------------------------------------------------


def test_dockerfile_installs_from_the_hashed_lock() -> None:
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    instructions = _dockerfile_instructions()
    assert any(keyword == "FROM" for keyword, _ in instructions), "no FROM"
    # The base image is named in FROM or in an ARG that FROM uses.
    assert any(
        "python:3.11-slim" in args for keyword, args in instructions if keyword in {"FROM", "ARG"}
    )
    assert any(keyword == "COPY" and "requirements.lock" in args for keyword, args in instructions)
    installs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(
        "requirements.lock" in args
        and "--require-hashes" in args
        and ("uv pip sync" in args or "pip install" in args)
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


# --- CI ------------------------------------------------------------------------


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
    assert "docker compose -f deploy/docker-compose.yml config -q" in runs
