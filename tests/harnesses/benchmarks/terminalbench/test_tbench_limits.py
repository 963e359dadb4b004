"""Per-task limits through the whole path: an agent that runs past its task's agent timeout
is stopped, its work verified as it stood, and the sample fails as a timeout, with nothing
left running; a task folder written for Harbor (its documentation's shape, deprecated
fields and a reward.json of two rewards) runs unchanged under `harbor-tasks`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.store import queries as q
from tests.support.tbench_support import (
    idle,
    leftovers,
    run_tbench,
    sleeper,
    solver,
    tbench_settings,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "harbor-tasks"
NOTHING_LEFT = {"containers": [], "images": [], "drivers": []}


def test_an_agent_past_its_timeout_is_stopped_and_fails(tmp_path: Path) -> None:
    settings = tbench_settings(tmp_path)
    task = "csv-report-wrong-totals"  # agent timeout 600 s in task.toml: 600 x 0.04 = 24 s
    agent = sleeper()
    t0 = time.monotonic()
    status, run, db = run_tbench(settings, [task], agent, {"agent_timeout_multiplier": 0.04},
                                 run_id="tbench-timeout", concurrency=1)
    took = time.monotonic() - t0
    assert status == "succeeded"
    (s,) = q.all_samples(db, run.id)
    e = s.extra or {}
    assert s.verdict == "timeout" and e["failure"] == "timeout", s.detail
    assert e["agent_status"] == "timeout" and e["agent_timeout_s"] == pytest.approx(24.0)
    assert "agent timeout" in (s.detail or "")
    # stopped at its timeout (the driver's own), well before the command it was waiting for
    assert 24.0 <= e["agent_s"] < 24.0 + 60, e["agent_s"]
    assert took < 400
    assert e["reward"] == 0.0  # the tests still ran, on what the agent left
    assert leftovers(os.getpid()) == NOTHING_LEFT


def test_a_task_written_for_harbor_runs_unchanged(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHDOCK_HARBOR_TASKS_DIR", str(FIXTURES))
    settings = tbench_settings(tmp_path)
    bench = get_benchmark("harbor-tasks", settings)
    assert [t.id for t in bench.tasks()] == ["hello-world"]
    fp = bench.footprint()
    assert fp is not None and fp.items == 1 and fp.present == 1  # its docker_image is here
    first = "Create a file called `hello.txt`"
    script = (FIXTURES / "hello-world" / "solution" / "solve.sh").read_text()
    status, run, db = run_tbench(settings, None, solver({first: script}),
                                 benchmark="harbor-tasks", run_id="tbench-harbor-solved")
    assert status == "succeeded"
    (s,) = q.all_samples(db, run.id)
    e = s.extra or {}
    assert s.verdict == "pass", s.detail
    assert e["rewards"] == {"reward": 1.0, "file_exists": 1.0}
    assert e["memory_mb"] == 2048 and e["network"] == "no-network"
    status, run, db = run_tbench(settings, None, idle(), benchmark="harbor-tasks",
                                 run_id="tbench-harbor-idle")
    assert status == "succeeded"
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "fail" and (s.extra or {})["rewards"] == {"reward": 0.0,
                                                                   "file_exists": 0.0}
    assert leftovers(os.getpid()) == NOTHING_LEFT


ONLINE = Path(__file__).resolve().parents[3] / "fixtures" / "harbor-online-verifier"


def test_tests_that_fetch_their_tools_verify_offline_only_with_the_tools_baked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task whose test.sh installs jq when it runs (as TB 2.0's install uv and pytest):
    without prepared tools the network-less verifier cannot pass even a solved task; with
    them (its tests run once with network on the untouched image, what they installed
    baked into an image and copied over the agent's filesystem) it passes the solved task
    and fails the unsolved one, with no network at verification."""
    from benchdock.harnesses.benchmarks.terminalbench import tools
    from benchdock.harnesses.benchmarks.terminalbench.container import remove_image

    monkeypatch.setenv("BENCHDOCK_HARBOR_TASKS_DIR", str(ONLINE))
    settings = tbench_settings(tmp_path)
    bench = get_benchmark("harbor-tasks", settings)
    (task,) = bench.harbor_tasks()  # type: ignore[attr-defined]
    tag = tools.tools_tag(task, "benchdock-tbench-base:1")
    remove_image(tag)
    solve = {"Write the file `report.json`": (task.solve_script.read_text())}
    try:
        status, run, db = run_tbench(settings, None, solver(solve), benchmark="harbor-tasks",
                                     run_id="tbench-tools-none", concurrency=1)
        assert status == "succeeded"
        (s,) = q.all_samples(db, run.id)
        e = s.extra or {}
        assert s.verdict == "fail" and e["verifier"]["tools"] is None
        assert "jq: missing" in e["verifier"]["output"]  # offline: apt-get could not fetch it
        status, run, db = run_tbench(settings, None, solver(solve), benchmark="harbor-tasks",
                                     options={"verifier_tools": "prepare"},
                                     run_id="tbench-tools-solved", concurrency=1)
        assert status == "succeeded"
        (s,) = q.all_samples(db, run.id)
        e = s.extra or {}
        assert s.verdict == "pass", (s.detail, e["verifier"])
        assert e["verifier"]["tools"] == tag and tools.prepared(tag)
        assert any(p.endswith("/jq") or "/jq" in p for p in tools.prepared(tag) or [])
        status, run, db = run_tbench(settings, None, idle(), benchmark="harbor-tasks",
                                     run_id="tbench-tools-idle", concurrency=1)
        assert status == "succeeded"
        (s,) = q.all_samples(db, run.id)  # auto: the prepared image is used when present
        assert s.verdict == "fail" and (s.extra or {})["verifier"]["tools"] == tag
        assert "jq: missing" not in (s.extra or {})["verifier"]["output"]  # jq ran: said no
    finally:
        remove_image(tag)
    assert leftovers(os.getpid()) == NOTHING_LEFT


def test_cancel_mid_agent_leaves_nothing(tmp_path: Path) -> None:
    """A run cancelled while the agent's command runs ends at once: its driver process,
    its container and no committed image are left."""
    import threading

    from benchdock.store.db import make_engine
    from tests.support.tbench_support import driver_processes

    settings = tbench_settings(tmp_path)
    agent = sleeper()
    seen: dict[str, int] = {}

    def cancel_when_the_agent_works() -> None:
        deadline = time.monotonic() + 600
        while agent.asked < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        seen["drivers"] = len(driver_processes(os.getpid()))
        seen["containers"] = len(leftovers(os.getpid())["containers"])
        q.request_cancel(make_engine(settings.database_url), "tbench-cancel")

    watcher = threading.Thread(target=cancel_when_the_agent_works)
    watcher.start()
    t0 = time.monotonic()
    status, run, db = run_tbench(settings, ["git-botched-rebase"], agent,
                                 run_id="tbench-cancel", concurrency=1)
    watcher.join()
    assert status == "cancelled" and time.monotonic() - t0 < 900
    assert seen == {"drivers": 1, "containers": 1}
    deadline = time.monotonic() + 20
    while leftovers(os.getpid()) != NOTHING_LEFT and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftovers(os.getpid()) == NOTHING_LEFT
    assert all(s.verdict is None for s in q.all_samples(db, run.id))
