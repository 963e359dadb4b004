"""`benchdock doctor` and `benchdock setup` from a shell (issue 23): doctor lists every family
with its readiness and the set-up that fixes it; setup plans first and will not start a large
set-up unasked."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchdock.server.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCHDOCK_ENVS", str(tmp_path / "envs"))
    monkeypatch.setenv("BENCHDOCK_ENDPOINTS", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("BENCHDOCK_SANDBOX", "local")
    return tmp_path


def test_doctor_says_what_is_ready_and_how_to_fix_the_rest(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "endpoint http://127.0.0.1:9/v1: DOWN" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line and line[0].isalpha()}
    assert rows["humaneval"].split()[1] == "yes"
    assert rows["bfcl"].split()[1] == "no" and "setup_benchmark(['bfcl'])" in rows["bfcl"]
    assert "worker:" in out


def test_setup_plans_and_refuses_a_large_set_up_unasked(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "swe-local"]) == 2  # not a terminal: no prompt, no start
    err = capsys.readouterr().err
    assert "swe-local" in err and "total: download" in err and "pass --yes" in err
    with pytest.raises(SystemExit):
        main(["setup"])  # an id is required
