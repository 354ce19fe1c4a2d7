"""`python -m services.reporting.rebuild` (what `make rebuild` runs)."""

from __future__ import annotations

from typing import Any

import pytest

from services.reporting import rebuild


def test_follows_the_rebuild_until_it_completes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = iter(
        [
            (202, {"generation": "g2", "status": "running"}),
            (200, {"generation": "g1", "rebuild": {"status": "running", "generation": "g2",
                   "streams": {"REGISTRY": {"applied_sequence": 5, "goal_sequence": 9}}}}),
            (200, {"generation": "g2", "rebuild": {"status": "completed", "generation": "g2",
                   "streams": {"REGISTRY": {"applied_sequence": 9, "goal_sequence": 9}}}}),
        ]
    )  # fmt: skip
    calls: list[tuple[str, str]] = []

    def call(method: str, url: str) -> tuple[int, Any]:
        calls.append((method, url))
        return next(replies)

    monkeypatch.setattr(rebuild, "_call", call)
    assert rebuild.main(["--url", "http://reporting:8003", "--interval", "0"]) == 0
    assert calls[0] == ("POST", "http://reporting:8003/v1/admin/rebuild")
    output = capsys.readouterr().out
    assert "REGISTRY 5/9" in output
    assert "switched to generation g2" in output


def test_refused_rebuild_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        rebuild, "_call", lambda method, url: (409, {"detail": "A rebuild is under way"})
    )
    assert rebuild.main(["--interval", "0"]) == 2
    assert "A rebuild is under way" in capsys.readouterr().err
