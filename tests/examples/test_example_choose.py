"""examples/choose_model.py end to end: an agent-like client over stdio MCP evaluates two
models on real llama.cpp endpoints (the demo model, and a second server of the same weights
under another name) in the Docker sandbox, compares them and asks for a recommendation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.client.demo import start_demo_server
from benchdock.store.db import make_engine
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "choose_model.py"
TWIN = "smollm2-135m-twin"


@pytest.fixture
def twin_url(tmp_path: Path, endpoint_url: str):  # type: ignore[no-untyped-def]
    server = start_demo_server(log=tmp_path / "twin.log", alias=TWIN)
    yield server.url
    server.stop()


def test_choose_between_two_models(tmp_path: Path, endpoint_url: str, twin_url: str,
                                   docker_image: str) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "BENCHDOCK_ENDPOINTS": f"{endpoint_url},{twin_url}",
           "BENCHDOCK_HOME": str(home), "BENCHDOCK_SANDBOX": "docker",
           "BENCHDOCK_SANDBOX_IMAGE": docker_image}
    env.pop("BENCHDOCK_DATABASE_URL", None)
    chart = tmp_path / "radar.png"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--models", "smollm2-135m", TWIN, "--benchmark",
         "humaneval", "--limit", "3", "--profile", "autocomplete", "--chart", str(chart)],
        env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    assert "choosing between smollm2-135m and smollm2-135m-twin" in out
    assert out.count("succeeded: 3/3") == 2
    assert "Best for these priorities:" in out
    assert chart.read_bytes().startswith(b"\x89PNG")
    # what the client was told is what the store holds
    cmp = compare(make_engine(f"sqlite:///{home / 'benchdock.db'}"))
    assert {r.model for r in cmp.models} == {"smollm2-135m", TWIN}
    gens = [r.dimensions["generation"] for r in cmp.models]
    assert all(g.measured and g.n == 3 for g in gens)
    loser = next(g for g in gens if g.vs_leader is not None)
    assert loser.vs_leader is not None and loser.vs_leader.paired  # same three tasks
    assert loser.vs_leader.n_shared == 3 and loser.vs_leader.verdict in out
    assert all(r.speed.tokens_per_s and r.speed.tokens_per_s > 0 for r in cmp.models)
