"""`make up`'s supervisor on small fake children: a crash is restarted with back-off and
logged, the healthy ones are never touched, a stop ends what was started and nothing
else, in order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.local.supervisor import Backoff, ChildSpec, Supervisor

SLEEPER = "import time\nwhile True: time.sleep(1)"


def spec(name: str, code: str, tmp_path: Path, stop_seconds: float = 5.0) -> ChildSpec:
    return ChildSpec(
        name=name,
        argv=[sys.executable, "-c", code],
        env={"PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        log=tmp_path / f"{name}.log",
        stop_seconds=stop_seconds,
    )


def until(condition: Callable[[], bool], supervisor: Supervisor, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        supervisor.poll()
        time.sleep(0.01)


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def supervisor(said: list[str]) -> Iterator[Supervisor]:
    running = Supervisor(said.append, Backoff(first=0.05, longest=0.2, healthy_after=5))
    yield running
    running.stop_all(hurry=lambda: True)


def test_backoff_doubles_while_failing_fast_and_starts_over_after_a_healthy_run() -> None:
    backoff = Backoff(first=1, longest=30, healthy_after=60)
    delays: list[float] = []
    previous: float | None = None
    for _ in range(7):
        previous = backoff.next_delay(previous, ran_for=0.5)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.next_delay(30, ran_for=61) == 1


def test_a_crashing_child_is_restarted_and_the_healthy_one_left_alone(
    supervisor: Supervisor, said: list[str], tmp_path: Path
) -> None:
    steady = supervisor.start(spec("steady", SLEEPER, tmp_path))
    crashing = supervisor.start(spec("crashing", "raise SystemExit(3)", tmp_path))
    steady_pid = steady.pid
    until(lambda: crashing.restarts >= 3, supervisor)
    assert steady.pid == steady_pid
    assert steady.running
    assert any(
        line.startswith("crashing (pid ") and "exit code 3" in line and "again in" in line
        for line in said
    )
    assert any("crashing started again" in line and "restart 3" in line for line in said)
    assert crashing.delay is not None
    assert crashing.delay >= 0.2


def test_a_child_killed_with_sigkill_comes_back(
    supervisor: Supervisor, said: list[str], tmp_path: Path
) -> None:
    victim = supervisor.start(spec("events-1", SLEEPER, tmp_path))
    first_pid = victim.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    until(lambda: victim.restarts == 1 and victim.running, supervisor)
    assert victim.pid != first_pid
    assert any("events-1" in line and "killed by SIGKILL" in line for line in said)


def test_stop_goes_group_by_group_and_touches_nothing_else(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    # Each child writes its name when it gets SIGTERM, then exits.
    on_term = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    open({journal!r}, 'a').write({name!r})\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    services = [
        supervisor.start(spec(name, on_term.format(journal=str(journal), name=name), tmp_path))
        for name in ("S",)
    ]
    nats = [supervisor.start(spec("N", on_term.format(journal=str(journal), name="N"), tmp_path))]
    until(
        lambda: all("ready" in (tmp_path / f"{n}.log").read_text() for n in ("S", "N")),
        supervisor,
    )
    outsider = subprocess.Popen([sys.executable, "-c", SLEEPER])
    try:
        supervisor.stop([services, nats])
        assert journal.read_text() == "SN"
        assert outsider.poll() is None, "a process the supervisor did not start was stopped"
    finally:
        outsider.kill()
        outsider.wait()


def test_a_child_that_ignores_sigterm_is_killed_after_its_stop_time(
    supervisor: Supervisor, said: list[str], tmp_path: Path
) -> None:
    stubborn_code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    stubborn = supervisor.start(spec("stubborn", stubborn_code, tmp_path, stop_seconds=0.3))
    until(lambda: "ready" in (tmp_path / "stubborn.log").read_text(), supervisor)
    started = time.monotonic()
    supervisor.stop_all()
    assert 0.3 <= time.monotonic() - started < 5
    assert stubborn.process is not None
    assert stubborn.process.returncode == -signal.SIGKILL
    assert "stubborn did not stop in time; killing it" in said


def test_nothing_is_restarted_once_stopping(supervisor: Supervisor, tmp_path: Path) -> None:
    child = supervisor.start(spec("short", SLEEPER, tmp_path))
    supervisor.stop_all()
    supervisor.poll()
    assert child.restarts == 0
    assert not child.running


# ------------------------------------------------------------- the launcher itself
def launch(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, str(root / "deploy" / "run_local.py")],
        env={**os.environ, "BDG_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_port_already_taken_stops_the_launch_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = launch({"BDG_DATA_DIR": str(tmp_path), "BDG_NATS_PORT": str(port)})
    assert result.returncode == 2
    assert f"port {port} (nats-1 clients) is already in use by another program" in result.stdout
    assert "nothing was started" in result.stdout
    assert not (tmp_path / "logs" / "nats-1.log").exists()


def test_a_data_folder_of_the_previous_version_is_refused_with_the_remedy(
    tmp_path: Path,
) -> None:
    (tmp_path / "nats" / "jetstream").mkdir(parents=True)
    result = launch({"BDG_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "written by an older bdg" in result.stdout
    assert f"mv {tmp_path} {tmp_path}.old" in result.stdout
