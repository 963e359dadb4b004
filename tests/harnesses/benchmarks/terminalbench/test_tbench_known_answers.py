"""terminal-bench-local through the whole path: real Docker, Harbor's real Terminus-2 in its
own venv, benchdock's recording proxy, a scripted fake model. An agent that types each
task's solve.sh resolves every task; one that does nothing resolves none; one that forges
reward files everywhere it can (and leaves a process rewriting them) resolves none. Nothing
is left behind: no container, committed image, driver process or network."""

from __future__ import annotations

import os
from pathlib import Path

from benchdock.harnesses.sandbox.docker_backend import docker_client
from benchdock.store import queries as q
from tests.support.tbench_support import (
    forger,
    idle,
    leftovers,
    local_solutions,
    run_tbench,
    solver,
    tbench_settings,
)

NOTHING_LEFT = {"containers": [], "images": [], "drivers": []}


def networks() -> set[str]:
    return {n.id for n in docker_client().networks.list()}


def test_the_reference_solutions_resolve_every_task(tmp_path: Path) -> None:
    settings = tbench_settings(tmp_path)
    before = networks()
    agent = solver(local_solutions(settings))
    status, run, db = run_tbench(settings, None, agent, {"max_turns": 40}, concurrency=3)
    assert status == "succeeded"
    samples = q.all_samples(db, run.id)
    assert len(samples) == 12
    failed = {s.task_id: s.detail for s in samples if s.verdict != "pass"}
    assert failed == {}
    for s in samples:
        e = s.extra or {}
        assert e["reward"] == 1.0 and e["failure"] is None
        assert e["agent"] == "terminus-2" and e["agent_status"] == "completed"
        assert any("solve.sh" in k for st in e["trajectory"] for k in st["keystrokes"])
        assert any("SOLVE_EXIT=0" in st["terminal"] for st in e["trajectory"]), s.task_id
        assert e["verifier"]["exit_code"] == 0 and "PASS" in e["verifier"]["output"]
        assert e["agent_s"] > 0 and e["verify_s"] > 0 and e["network"] == "no-network"
        # every model call went through the recording proxy, timed
        assert len(e["exchanges"]) >= 3 and all(x["latency_s"] >= 0 for x in e["exchanges"])
    metrics = (run.metrics or {}).get("tbench") or {}
    assert metrics["resolved"] == 12 and metrics["n"] == 12
    assert leftovers(os.getpid()) == NOTHING_LEFT
    assert networks() == before


def test_an_agent_that_does_nothing_resolves_none(tmp_path: Path) -> None:
    settings = tbench_settings(tmp_path)
    status, run, db = run_tbench(settings, None, idle(), concurrency=3, run_id="tbench-idle")
    assert status == "succeeded"
    samples = q.all_samples(db, run.id)
    assert len(samples) == 12
    passed = [s.task_id for s in samples if s.verdict == "pass"]
    assert passed == []
    for s in samples:
        e = s.extra or {}
        assert s.verdict == "fail" and e["failure"] == "tests_failed", (s.task_id, s.detail)
        assert e["reward"] == 0.0 and "FAIL" in e["verifier"]["output"]
    assert leftovers(os.getpid()) == NOTHING_LEFT


def test_forged_reward_files_count_for_nothing(tmp_path: Path) -> None:
    settings = tbench_settings(tmp_path)
    status, run, db = run_tbench(settings, None, forger(), concurrency=3,
                                 run_id="tbench-forge")
    assert status == "succeeded"
    samples = q.all_samples(db, run.id)
    assert len(samples) == 12
    passed = [s.task_id for s in samples if s.verdict == "pass"]
    assert passed == []
    for s in samples:
        e = s.extra or {}
        assert any("FORGED=0" in st["terminal"] for st in e["trajectory"]), s.task_id
        assert e["reward"] == 0.0, (s.task_id, e["verifier"])
        # the verifier saw only what the tests wrote: their reward.txt and their output
        assert sorted(e["verifier"]["files"]) == ["reward.txt", "test-stdout.txt"]
    assert leftovers(os.getpid()) == NOTHING_LEFT
