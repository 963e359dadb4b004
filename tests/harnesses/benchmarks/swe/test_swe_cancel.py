"""swe-local stopped mid-instance: cancelled while the agent's command runs, and its worker
killed with SIGKILL. Afterwards no container of the run is left (at once after a cancel;
after a kill, once the next worker has reaped the dead one's), no agent process is left,
and resuming finishes the unfinished instances with the model's earlier answers taken from
the proxy's cache (the endpoint is asked each step once in all)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client

from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint
from tests.harnesses.benchmarks.swe.test_swe_e2e import serve_fake, swe_containers
from tests.harnesses.benchmarks.swe.test_swe_hostile import agent_processes, alive, instances
from tests.server.test_e2e import call, owned_containers, wait_final
from tests.support.swe_support import block, run_swe, swe_settings

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"
SLOW = "sleep 8; echo slept"  # the step during which the run is stopped


def gold_plan(inst: Any) -> list[str]:
    return ["ls", SLOW, f"cat > /tmp/g.patch <<'END_OF_PATCH'\n{inst.patch}END_OF_PATCH\n"
            "git apply /tmp/g.patch && git diff > patch.txt", SUBMIT]


class Agent:
    """A fake model playing the agent: plans by problem statement; counts what it is asked
    per instance and step (every request it sees reached the endpoint: no cache hit)."""

    def __init__(self, plans: dict[str, tuple[str, list[str]]]) -> None:
        self.plans, self.asked = plans, Counter[tuple[str, int]]()
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        msgs = body["messages"]
        n = sum(1 for m in msgs if m.get("role") == "assistant")
        task = str(msgs[1]["content"]) if len(msgs) > 1 else ""
        iid, todo = next(v for k, v in self.plans.items() if k in task)
        with self.lock:
            self.asked[(iid, n)] += 1
        return block(todo[min(n, len(todo) - 1)])

    def asked_of(self, iid: str) -> int:
        return sum(c for (i, _), c in self.asked.items() if i == iid)

    def repeats(self) -> dict[tuple[str, int], int]:
        return {k: c for k, c in self.asked.items() if c > 1}


def wait_until(cond: Any, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < deadline, f"not within {limit_s}s: {what}"
        time.sleep(0.3)


def test_cancel_mid_agent_leaves_nothing_and_resume_uses_the_cache(tmp_path: Path) -> None:
    settings = swe_settings(tmp_path, "http://fake/v1")
    inst = instances(settings)[0]
    agent = Agent({inst.problem_statement: (inst.instance_id, gold_plan(inst))})
    transport = fake_endpoint(agent)
    seen: dict[str, Any] = {}

    def cancel_during_the_slow_step() -> None:
        try:  # (the agent's start is slow on a loaded machine: waited for, not timed)
            wait_until(lambda: agent.asked[(inst.instance_id, 1)] >= 1, 600, "the slow step")
            time.sleep(2)
            seen["containers"] = len(owned_containers(os.getpid()))
            seen["cancelled_at"] = time.monotonic()
            q.request_cancel(make_engine(settings.database_url), "swe-cancel")
        except BaseException as exc:  # said by the test, not lost with the thread
            seen["error"] = exc

    watcher = threading.Thread(target=cancel_during_the_slow_step)
    watcher.start()
    status, run, db = run_swe(settings, [inst.instance_id], transport,
                              {"step_limit": 6, "command_timeout_s": 30}, run_id="swe-cancel")
    ended_at = time.monotonic()
    watcher.join()
    assert "error" not in seen, seen["error"]
    # ended by the cancel, promptly: not by the slow step's own end, nor the instance's
    assert status == "cancelled" and ended_at - seen["cancelled_at"] < 120
    assert seen["containers"] == 1  # the agent's container was running
    assert owned_containers(os.getpid()) == []
    wait_until(lambda: agent_processes(os.getpid()) == [], 10, "the agent process ends")
    assert all(s.verdict is None for s in q.all_samples(db, run.id))
    assert agent.asked_of(inst.instance_id) == 2  # `ls` and the slow step

    q.heartbeat(db, run.id, status="running", cancel_requested=False)
    again = q.get_run(db, run.id)
    assert again is not None
    assert anyio.run(RunExecutor(settings, db, again, transport).execute) == "succeeded"
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "pass", s.detail
    # the two answers given before the cancel came from the cache: each step asked once
    assert agent.repeats() == {} and agent.asked_of(inst.instance_id) == 4
    assert owned_containers(os.getpid()) == []


@pytest.mark.anyio
async def test_sigkill_worker_mid_instance_then_resume(tmp_path: Path) -> None:
    settings0 = swe_settings(tmp_path, "http://fake/v1")
    insts = instances(settings0)[:2]
    agent = Agent({insts[0].problem_statement: (insts[0].instance_id, gold_plan(insts[0])),
                   insts[1].problem_statement: (insts[1].instance_id,
                                                ["echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"])})
    server, url = serve_fake(agent)
    try:
        settings = swe_settings(tmp_path, url)
        db = make_engine(settings.database_url)
        async with Client(create_server(settings)) as c:
            started = await call(c, "run_benchmark", model="fake-agent", benchmark="swe-local",
                                 tasks=[i.instance_id for i in insts],
                                 options={"step_limit": 6, "command_timeout_s": 30})
            run_id = started["run_id"]
            wait_until(lambda: agent.asked[(insts[0].instance_id, 1)] >= 1, 300,
                       "the agent's slow step")
            time.sleep(2)
            run = q.get_run(db, run_id)
            assert run is not None and run.worker_pid
            killed = run.worker_pid
            assert len(swe_containers(killed)) == 1
            drivers = agent_processes(killed)
            assert len(drivers) == 1
            os.kill(killed, signal.SIGKILL)
            # the agent dies with its worker (PR_SET_PDEATHSIG); its container waits for
            # the next worker, which reaps what a dead worker left
            wait_until(lambda: alive(drivers) == [], 15, "the agent process ends")
            st = await wait_final(c, run_id, limit_s=600)  # starts a new worker
            assert st["status"] == "succeeded", st
        assert swe_containers(killed) == []
        samples = {s.task_id: s for s in q.all_samples(db, run_id)}
        assert samples[insts[0].instance_id].verdict == "pass"
        assert samples[insts[1].instance_id].verdict == "fail"
        # resumed where it stopped: the killed instance's first two answers were cached
        assert agent.repeats() == {}, agent.asked
        assert agent.asked_of(insts[0].instance_id) == 4
        done = q.get_run(db, run_id)
        assert done is not None and done.worker_pid != killed
        assert swe_containers(done.worker_pid) == []
    finally:
        server.shutdown()
