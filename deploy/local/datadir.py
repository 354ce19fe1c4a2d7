"""`$BDG_DATA_DIR` (default `.data`): everything `make up` keeps between runs.

    layout.json        which layout wrote this folder, and how many NATS nodes it has
    store/             the services' embedded store (one file per service; unused when
                       BDG_MONGODB_URL is set)
    nats/node-K/       JetStream data of NATS node K
    nats/node-K.conf   its configuration (users, permissions, cluster routes)
    secrets/           generated once and reused: admin client, NATS passwords, the
                       passphrase that encrypts the registry's signing keys (mode 0600)
    logs/              NATS logs
    stack.json         the running stack's URLs; only while `make up` runs
    .lock              held by the running `make up`
    demo-data.json     what the demo loader put, to skip it next time

Nothing here is reset at start. A folder written before this layout existed (a `nats/`
folder without `layout.json`: JetStream data kept while the databases were in memory) is
refused, since its streams and its databases no longer agree.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

LAYOUT_VERSION: Final = 2
LAYOUT_FILE: Final = "layout.json"


class DataDirError(RuntimeError):
    """The data folder cannot be used as it is; the message says what to do."""


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by this user only, atomically (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class DataDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: IO[bytes] | None = None

    def lock(self) -> None:
        """Hold the folder for this launcher (released when the process ends): two stacks
        on one folder would write the same store and JetStream files."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = (self.root / ".lock").open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise DataDirError(
                f"{self.root} is used by another `make up` still running; stop it first, or "
                "give this one its own BDG_DATA_DIR"
            ) from None
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the lock
            self._lock = None

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def stack_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def demo_marker(self) -> Path:
        return self.root / "demo-data.json"

    def nats_store(self, node: int) -> Path:
        return self.root / "nats" / f"node-{node}"

    def nats_config(self, node: int) -> Path:
        return self.root / "nats" / f"node-{node}.conf"

    # --------------------------------------------------------------- layout
    def prepare(self, nats_nodes: int) -> bool:
        """Check the folder's layout and create what is missing; True when it was new.

        Refuses a folder from an older layout and a change of the NATS node count (a
        single server's JetStream data cannot become a cluster's, nor the reverse).
        """
        marker = self.root / LAYOUT_FILE
        if marker.exists():
            layout = self._read_layout(marker)
            if layout.get("layout") != LAYOUT_VERSION:
                raise DataDirError(
                    f"{self.root} was written by another version of bdg (layout "
                    f"{layout.get('layout')!r}, this one reads {LAYOUT_VERSION}). Use another "
                    "BDG_DATA_DIR, or the bdg version that wrote it."
                )
            if layout.get("nats_nodes") != nats_nodes:
                raise DataDirError(
                    f"{self.root} holds the data of {layout.get('nats_nodes')} NATS node(s); "
                    f"BDG_NATS_NODES={nats_nodes} cannot reuse it. Run with "
                    f"BDG_NATS_NODES={layout.get('nats_nodes')}, or give this cluster its own "
                    "folder (BDG_DATA_DIR=.data-cluster)."
                )
            created = False
        elif (self.root / "nats").exists():
            raise DataDirError(
                f"{self.root} was written by an older bdg, which kept the NATS streams while "
                "the databases lived in memory: its streams no longer match any database. "
                f"Nothing in it can be reused. Move it away (mv {self.root} {self.root}.old) "
                f"or delete it (rm -rf {self.root}), then run `make up` again."
            )
        else:
            created = True
        for folder in (self.root, self.store, self.logs, self.root / "nats"):
            folder.mkdir(parents=True, exist_ok=True)
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        self.secrets.chmod(0o700)
        if created:
            write_private(
                marker,
                json.dumps({"layout": LAYOUT_VERSION, "nats_nodes": nats_nodes}, indent=2) + "\n",
            )
        return created

    def _read_layout(self, marker: Path) -> dict[str, Any]:
        try:
            layout = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DataDirError(f"{marker} cannot be read ({error}); restore or remove it") from None
        if not isinstance(layout, dict):
            raise DataDirError(f"{marker} is not a JSON object; restore or remove it")
        return layout

    # -------------------------------------------------------------- secrets
    def secret(self, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
        """The secret `name`, made and stored at first use and the same ever after."""
        self.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.secret_path(name)
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
            if value:
                return value
        value = make()
        # No trailing newline: whoever reads the file gets exactly the value.
        write_private(path, value)
        return value

    def secret_path(self, name: str) -> Path:
        return self.secrets / name

    # ----------------------------------------------------------- stack.json
    def write_stack(self, content: dict[str, object]) -> None:
        write_private(self.stack_file, json.dumps(content, indent=2) + "\n")
        self.stack_file.chmod(0o644)

    def remove_stack(self) -> None:
        self.stack_file.unlink(missing_ok=True)
