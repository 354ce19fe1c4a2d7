"""Start child processes, restart the ones that exit, stop them all on request.

- A child that exits while the stack runs is logged (exit code or signal, how long it
  ran) and started again after a back-off: 1 s, then doubling up to 30 s while it keeps
  failing fast; a child that ran for a minute starts again from 1 s. The others are
  never touched: a crash of one service replica stops nothing else.
- Each child runs in its own session, so a Ctrl-C in the terminal reaches the launcher
  only, which then stops the children in order (services before NATS, each given its
  drain time). A child also gets SIGTERM if the launcher itself dies (Linux
  PR_SET_PDEATHSIG), so nothing is left behind even after a `kill -9` of `make up`.
- Only processes started here are ever signalled, by their own process id.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

PR_SET_PDEATHSIG: Final = 1


def _die_with_launcher() -> None:
    """In the child, before exec: receive SIGTERM when the launcher dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the launcher still stops its children on Ctrl-C and SIGTERM


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path | None = None  # None: the launcher's own output
    # SIGTERM, then SIGKILL after this long (a service drains in-flight work first).
    stop_seconds: float = 10.0


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    longest: float = 30.0
    # A child that ran this long before exiting was healthy: start the back-off over.
    healthy_after: float = 60.0

    def next_delay(self, previous: float | None, ran_for: float) -> float:
        if previous is None or ran_for >= self.healthy_after:
            return self.first
        return min(previous * 2, self.longest)


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    delay: float | None = None  # the last back-off used
    restart_at: float | None = None  # when the next start is due, while it is down
    log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(
        self,
        say: Callable[[str], None],
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._say = say
        self._backoff = backoff or Backoff()
        self._clock = clock
        self.children: list[Child] = []
        self._stopping = False

    # ---------------------------------------------------------------- start
    def start(self, spec: ChildSpec) -> Child:
        child = Child(spec)
        self.children.append(child)
        self._launch(child)
        return child

    def _launch(self, child: Child) -> None:
        spec = child.spec
        output: IO[bytes] | None = None
        if spec.log is not None:
            spec.log.parent.mkdir(parents=True, exist_ok=True)
            if child.log_file is None:
                child.log_file = spec.log.open("ab")
            output = child.log_file
        child.process = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_launcher,
        )
        child.started_at = self._clock()
        child.restart_at = None

    # ---------------------------------------------------------------- watch
    def poll(self) -> None:
        """Notice children that exited and start those whose back-off is over."""
        if self._stopping:
            return
        now = self._clock()
        for child in self.children:
            process = child.process
            if process is not None and child.restart_at is None:
                code = process.poll()
                if code is None:
                    continue
                ran_for = now - child.started_at
                child.delay = self._backoff.next_delay(child.delay, ran_for)
                child.restart_at = now + child.delay
                self._say(
                    f"{child.spec.name} (pid {process.pid}) stopped: {describe_exit(code)} "
                    f"after {ran_for:.1f} s; starting it again in {child.delay:.0f} s"
                )
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._launch(child)
                self._say(
                    f"{child.spec.name} started again (pid {child.pid}, restart {child.restarts})"
                )

    def down(self) -> list[str]:
        """Names of the children not running now."""
        return [child.spec.name for child in self.children if not child.running]

    # ----------------------------------------------------------------- stop
    def stop(
        self, groups: Iterable[Iterable[Child]], hurry: Callable[[], bool] = lambda: False
    ) -> None:
        """Stop `groups` one after the other: SIGTERM to every child of a group, then wait
        for each up to its `stop_seconds` (or until `hurry()`), then SIGKILL."""
        self._stopping = True
        for group in groups:
            members = [
                (child, child.process)
                for child in group
                if child.process is not None and child.process.poll() is None
            ]
            for _, process in members:
                process.send_signal(signal.SIGTERM)
            started = self._clock()
            for child, process in members:
                while process.poll() is None:
                    waited = self._clock() - started
                    if waited >= child.spec.stop_seconds or hurry():
                        self._say(f"{child.spec.name} did not stop in time; killing it")
                        process.kill()
                        process.wait()
                        break
                    time.sleep(0.05)
        for child in self.children:
            if child.log_file is not None:
                child.log_file.close()
                child.log_file = None

    def stop_all(self, hurry: Callable[[], bool] = lambda: False) -> None:
        self.stop([self.children], hurry)
