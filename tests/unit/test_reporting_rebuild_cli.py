"""`python -m services.reporting.rebuild` (what `make rebuild` runs)."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from services.reporting import rebuild


def test_follows_the_rebuild_until_it_completes_sending_the_token(
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
    calls: list[tuple[str, str, str]] = []

    def call(method: str, url: str, token: str) -> tuple[int, Any]:
        calls.append((method, url, token))
        return next(replies)

    monkeypatch.setattr(rebuild, "_call", call)
    monkeypatch.delenv("BDG_TOKEN", raising=False)
    argv = ["--url", "http://reporting:8003", "--interval", "0", "--token", "tok-1"]
    assert rebuild.main(argv) == 0
    assert calls[0] == ("POST", "http://reporting:8003/v1/admin/rebuild", "tok-1")
    assert {token for _, _, token in calls} == {"tok-1"}
    output = capsys.readouterr().out
    assert "REGISTRY 5/9" in output
    assert "switched to generation g2" in output


def test_the_token_comes_from_bdg_token_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def call(method: str, url: str, token: str) -> tuple[int, Any]:
        seen.append(token)
        if method == "POST":
            return 202, {"generation": "g2"}
        return 200, {"generation": "g2", "rebuild": {"status": "completed", "generation": "g2"}}

    monkeypatch.setattr(rebuild, "_call", call)
    monkeypatch.setenv("BDG_TOKEN", "from-env")
    assert rebuild.main(["--interval", "0"]) == 0
    assert seen == ["from-env", "from-env"]


def test_without_a_token_nothing_is_called_and_it_says_where_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def call(method: str, url: str, token: str) -> tuple[int, Any]:
        raise AssertionError("no call without a token")

    monkeypatch.setattr(rebuild, "_call", call)
    monkeypatch.delenv("BDG_TOKEN", raising=False)
    assert rebuild.main(["--interval", "0"]) == 2
    assert "BDG_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (409, {"detail": "A rebuild is under way"}, "A rebuild is under way"),
        (401, {"detail": "the token has expired"}, "the token was refused"),
        (403, {"detail": "This request needs role 'admin'"}, "needs an admin token"),
    ],
)
def test_refused_rebuild_exits_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
    body: dict[str, Any],
    says: str,
) -> None:
    monkeypatch.setattr(rebuild, "_call", lambda method, url, token: (status, body))
    assert rebuild.main(["--interval", "0", "--token", "t"]) == 2
    assert says in capsys.readouterr().err


def test_a_token_expiring_while_following_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = iter([(202, {"generation": "g2"}), (401, {"detail": "the token has expired"})])
    monkeypatch.setattr(rebuild, "_call", lambda method, url, token: next(replies))
    assert rebuild.main(["--interval", "0", "--token", "t"]) == 1
    assert "goes on in the service" in capsys.readouterr().err


def test_calls_carry_the_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    class Reply:
        status = 202

        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b'{"generation": "g2"}'

    def urlopen(request: Any, timeout: float) -> Reply:
        sent.append(request)
        return Reply()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    assert rebuild._call("POST", "http://reporting:8003/v1/admin/rebuild", "abc") == (
        202,
        {"generation": "g2"},
    )
    assert sent[0].get_header("Authorization") == "Bearer abc"
    assert sent[0].get_method() == "POST"
