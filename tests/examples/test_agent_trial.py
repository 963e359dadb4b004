"""examples/agent_trial.py end to end (issue 23): an agent-style client over stdio MCP, on a
fresh home, against five fake models on one endpoint (right, a half-right one, a flaky one
that fails every third request, a slow one, a wrong one). It lists the models, sets up the
benchmark its priorities need through `setup_benchmark` (a tiny instruction-following
benchmark whose data need a set-up), lets `decide` screen the five and decide among the
leaders in the background, and must choose the right model; the calls it made and the
characters it read are counted and bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchdock.store import jobs
from benchdock.store.db import make_engine
from tests.conftest import ROOT
from tests.support.fake_models import FakeState, fake_models
from tests.support.trial_models import PLUGIN, plugin_site, trial_models

EXAMPLE = ROOT / "examples" / "agent_trial.py"
# what the trial may cost the agent (measured: 9 calls, 43,396 characters); raise on purpose
MAX_CALLS = 20
MAX_CHARS = 60_000


@pytest.fixture
def endpoint() -> Iterator[tuple[str, FakeState]]:
    with fake_models(trial_models()) as (url, state):
        yield url, state


def test_the_agent_trial_chooses_the_right_model(tmp_path: Path,
                                                 endpoint: tuple[str, FakeState]) -> None:
    url, state = endpoint
    home = tmp_path / "home"
    site = plugin_site(tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHDOCK_")}
    env.update(BENCHDOCK_ENDPOINTS=url, BENCHDOCK_HOME=str(home), BENCHDOCK_SANDBOX="local",
               BENCHDOCK_ENVS=str(tmp_path / "envs"),
               PYTHONPATH=os.pathsep.join([str(site), str(PLUGIN), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--budget", "20", "--setup-minutes", "1",
         "--priorities", "generation=0.7,instruction_following=0.3",
         "--tasks-per-benchmark", "40"],
        env=env, capture_output=True, text=True, timeout=1500)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    summary = json.loads(out.split("TRIAL ", 1)[1].splitlines()[0])
    print(out)
    assert summary["choice"] == "right" and summary["status"] == "finished"
    # it set the benchmark up through the tool, and decide ran on its own in the background
    assert summary["calls_by_tool"]["setup_benchmark"] >= 1
    assert "say-the-word" in out and "screened 5 models" in out
    db = make_engine(f"sqlite:///{home / 'benchdock.db'}")
    setup_jobs = jobs.list_jobs(db, "setup")
    assert [j.status for j in setup_jobs] == ["succeeded"]
    assert any("fetching words" in line for line in setup_jobs[0].log.splitlines())
    (decision,) = jobs.list_jobs(db, "decide")
    assert decision.status == "succeeded"
    # what it cost the agent
    assert summary["calls"] <= MAX_CALLS, summary
    assert summary["characters"] <= MAX_CHARS, summary
    assert state.failures["flaky"] > 0  # the flaky model's failures were retried, not charged
