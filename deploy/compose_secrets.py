"""Write the secrets deploy/docker-compose.yml reads, once: `python deploy/compose_secrets.py`.

Each secret is a file in `deploy/secrets/` (git-ignored): the NATS passwords (one user per
service, `ops`, and the cluster routes), the MongoDB keyFile and passwords (root and one
user per service), each service's MongoDB URL (for the single node and for the cluster),
the admin client secret, the passphrase that encrypts the registry's signing keys, and
Grafana's admin password. An existing file is never replaced, so running it again only
adds what is missing; to rotate one, delete it, run this again and recreate the
containers that use it (MongoDB and NATS users are created from these values only on a
first start: change them there too).

The folder is private to you (0700); the files in it are 0644 because compose mounts each
one into its containers as it is, where the services run as another user than yours.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Final

SECRETS_DIR: Final = Path(__file__).resolve().parent / "secrets"
SERVICES: Final = ("registry", "events", "reporting")
SINGLE_MONGO_HOSTS: Final = "mongo:27017"
CLUSTER_MONGO_HOSTS: Final = "mongo-1:27017,mongo-2:27017,mongo-3:27017"
# MongoDB reads a keyFile of 6 to 1024 base64 characters.
KEYFILE_CHARACTERS: Final = 756


def password() -> str:
    return secrets.token_urlsafe(32)


def mongodb_url(service: str, service_password: str, hosts: str) -> str:
    return f"mongodb://{service}:{service_password}@{hosts}/?replicaSet=rs0&authSource=admin"


def write_once(folder: Path, name: str, make: Callable[[], str]) -> tuple[str, bool]:
    """The secret `name`, made now if missing; (value, whether it was made)."""
    path = folder / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    value = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value)
    path.chmod(0o644)
    return value, True


def ensure_secrets(folder: Path) -> list[str]:
    """Write every missing secret into `folder`; return the names written."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    written: list[str] = []

    def once(name: str, make: Callable[[], str]) -> str:
        value, made = write_once(folder, name, make)
        if made:
            written.append(name)
        return value

    for user in (*SERVICES, "ops", "route"):
        once(f"nats_{user}_password", password)
    once("mongo_root_password", password)
    # Hex digits are base64 characters.
    once("mongo_keyfile", lambda: secrets.token_hex(KEYFILE_CHARACTERS // 2))
    for service in SERVICES:
        service_password = once(f"mongo_{service}_password", password)
        for suffix, hosts in (("", SINGLE_MONGO_HOSTS), ("_cluster", CLUSTER_MONGO_HOSTS)):
            url = mongodb_url(service, service_password, hosts)
            once(f"mongodb_{service}_url{suffix}", partial(str, url))
    once("admin_client_secret", password)
    once("signing_key_passphrase", lambda: secrets.token_urlsafe(48))
    once("grafana_admin_password", password)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=SECRETS_DIR, help="where to write them")
    folder = parser.parse_args().dir
    written = ensure_secrets(folder)
    if written:
        print(f"wrote {len(written)} secret(s) in {folder}: {', '.join(written)}")
    else:
        print(f"every secret is already in {folder}; nothing written")


if __name__ == "__main__":
    main()
