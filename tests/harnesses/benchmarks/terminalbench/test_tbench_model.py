"""terminal-bench-local with a real model (the SmolLM2-135M demo endpoint) over MCP, on two
tasks: expected 0 % resolved, the point being that each task gets a real verdict from its
own tests, with the agent's turns, what the terminal showed and the model's exchanges kept.
SmolLM2 fills its token cap on most answers, and Terminus-2 asks again after a truncated
answer without counting a turn, so a task usually ends at its agent timeout (cut to 240 s
here); the verdict is the tests' all the same. (The 12-task run is
tests/scripts/tbench_model_run.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastmcp import Client

from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.server.test_e2e import call, wait_final
from tests.support.tbench_support import leftovers, tbench_settings

pytestmark = pytest.mark.anyio
TASKS = ["csv-report-wrong-totals", "git-botched-rebase"]


async def test_smollm2_on_two_local_tasks(tmp_path: Path, endpoint_url: str) -> None:
    settings = tbench_settings(tmp_path, endpoint_url)
    async with Client(create_server(settings)) as c:
        started = await call(c, "run_benchmark", model="smollm2-135m",
                             benchmark="terminal-bench-local", tasks=TASKS, max_tokens=256,
                             options={"max_turns": 2, "agent_timeout_multiplier": 0.4})
        st = await wait_final(c, started["run_id"], limit_s=1800)
        assert st["status"] == "succeeded", st
        res = await call(c, "get_results", run_id=started["run_id"], limit=10)
    db = make_engine(settings.database_url)
    samples = q.all_samples(db, started["run_id"])
    assert sorted(s.task_id for s in samples) == TASKS
    for s in samples:
        e = s.extra or {}
        assert s.verdict in ("pass", "fail", "timeout"), s.detail
        assert e["agent"] == "terminus-2" and e["agent_status"] in (
            "completed", "agent_error", "timeout"), e["agent_status"]
        # a real verdict: the task's own tests ran and wrote their reward
        assert e["reward"] is not None and e["verifier"]["failure"] is None, e["verifier"]
        assert "PASS" in e["verifier"]["output"] or "FAIL" in e["verifier"]["output"]
        assert e["turns"] <= 2
        assert all(st["terminal"] is not None for st in e["trajectory"])
    # the model was asked, through the proxy (a loaded machine may leave one task unanswered
    # within its cut timeout, not both)
    assert sum(len((s.extra or {})["exchanges"]) for s in samples) >= 1
    assert res["metrics"]["tbench"]["n"] == 2
    assert res["tables"] and res["tables"][0]["title"].startswith("terminal-bench-local")
    run = q.get_run(db, started["run_id"])
    assert run is not None and run.worker_pid
    assert leftovers(run.worker_pid) == {"containers": [], "images": [], "drivers": []}
    assert leftovers(os.getpid())["containers"] == []
