"""Schemathesis against each service's OpenAPI: no 500, no response outside its schema.

The three services run as processes (`make up`'s launcher) and Schemathesis sends
generated requests, valid and invalid, with an admin token, for a bounded time per
service (`BDG_FUZZ_SECONDS`, 15 s by default; `make fuzz` runs longer).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mongo import MongoBackend
from tests.support.stack import READY_LINE, Stack, local_stack

pytestmark = pytest.mark.fuzz
SECONDS = int(os.environ.get("BDG_FUZZ_SECONDS", "15"))
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


@pytest.fixture(scope="module")
def stack(mongo: MongoBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("fuzz-stack")
    # The provinces of the demo data keep start-up short; the fuzzer sends bursts.
    with local_stack(
        mongo,
        data_dir,
        BDG_REGISTRY_REFERENCE_PROVINCES="vn63:20,vn63:02,vn63:25",
        BDG_RATE_LIMIT_PER_SECOND="100000",
        BDG_RATE_LIMIT_BURST="100000",
    ) as running:
        running.wait_for_line(READY_LINE, timeout=120)
        running.token = running.printed_token()
        yield running


@pytest.mark.parametrize("service", ["registry", "events", "reporting"])
def test_no_server_error_and_no_schema_violation(stack: Stack, service: str) -> None:
    report = stack.log.parent / f"fuzz-{service}.txt"
    with report.open("wb") as output:
        finished = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                stack.url(service, "/openapi.json"),
                "--header",
                f"Authorization: Bearer {stack.token}",
                "--checks",
                CHECKS,
                "--phases",
                "examples,coverage,fuzzing",
                "--max-time",
                str(SECONDS),
                "--workers",
                "1",
                "--seed",
                "20251122",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=SECONDS + 120,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks"},
            check=False,
        )
    text = report.read_text(encoding="utf-8", errors="replace")
    assert finished.returncode == 0, f"schemathesis found problems in {service}:\n{text[-6000:]}"
