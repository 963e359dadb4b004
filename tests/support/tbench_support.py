"""Shared by the Harbor-format (terminal-bench) tests: readiness of the harbor venv and the
base image, the run executor with a fake endpoint, and scripted models that speak
Terminus-2's JSON protocol (its `keystrokes`/`duration` commands and `task_complete`,
which Terminus-2 asks to be confirmed once)."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from benchdock.harnesses.config import Settings, default_envs_dir
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import make_settings

CONFIRM = "Are you sure you want to mark the task as complete"
SOLVED = re.compile(r"SOLVE_EXIT=\d+")
DRIVER_MARK = b"benchdock's Terminus-2 driver"


def _required() -> bool:
    return any(os.environ.get(v, "") == "1" for v in ("BENCHDOCK_REQUIRE_TBENCH",
                                                       "BENCHDOCK_REQUIRE_DOCKER"))


def tbench_ready() -> None:
    """Skip (or fail, when BENCHDOCK_REQUIRE_TBENCH or _DOCKER is 1) naming what is missing:
    the harbor venv, Docker, the base image of benchdock's tasks."""
    from benchdock.harnesses.benchmarks.terminalbench.container import image_exists
    from benchdock.harnesses.benchmarks.terminalbench.environment import load_env
    from benchdock.harnesses.benchmarks.terminalbench.sources import BASE_IMAGE
    from benchdock.harnesses.envs.managed import EnvironmentMissing
    from benchdock.harnesses.sandbox.base import SandboxError

    problem = None
    try:
        load_env(default_envs_dir())
        if not image_exists(BASE_IMAGE):
            problem = f"{BASE_IMAGE} is not built: run `benchdock setup terminal-bench-local`"
    except (EnvironmentMissing, SandboxError) as exc:
        problem = str(exc)
    if problem:
        if _required():
            pytest.fail(f"terminal-bench-local is required here but {problem}")
        pytest.skip(problem)


def tbench_settings(tmp_path: Path, endpoint: str = "http://fake/v1") -> Settings:
    tbench_ready()
    return make_settings(tmp_path, endpoint)


def run_tbench(settings: Settings, task_ids: list[str] | None, answer: Any,
               options: dict[str, Any] | None = None, run_id: str = "tbench-fake",
               benchmark: str = "terminal-bench-local", concurrency: int = 2,
               model: str | None = None, max_tokens: int = 1024) -> tuple[str, Run, Any]:
    """A run of `answer` (a scripted model) on `task_ids` (all by default). Each run gets a
    model name of its own unless told: benchdock's generation cache would otherwise answer
    one script's requests with another's."""
    db = make_engine(settings.database_url)
    model = model or f"fake-{run_id}"
    bench = get_benchmark(benchmark, settings)
    ids = task_ids if task_ids is not None else [t.id for t in bench.tasks()]
    run = Run(id=run_id, benchmark=benchmark, benchmark_version=bench.version,
              dataset_hash=bench.dataset_hash(), model=model,
              endpoint_url=str(settings.endpoints[0].url), task_ids=ids, total=len(ids),
              status="running", concurrency=concurrency,
              params={"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens,
                      "options": options or {}})
    q.add_run(db, run)
    if isinstance(answer, ScriptedTerminus):
        from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint

        answer = fake_endpoint(answer)
    status = anyio.run(RunExecutor(settings, db, run, answer).execute)
    done = q.get_run(db, run.id)
    assert done is not None
    return status, done, db


def reply(keystrokes: list[tuple[str, float]], complete: bool = False) -> dict[str, Any]:
    """One Terminus-2 answer (its JSON format): commands to type, or the task marked done."""
    return {"content": json.dumps({
        "analysis": "scripted", "plan": "scripted",
        "commands": [{"keystrokes": k, "duration": d} for k, d in keystrokes],
        "task_complete": complete})}


def conversation(body: dict[str, Any]) -> tuple[str, str, int]:
    """(the first prompt, which holds the task's instruction; the last message; answers
    given so far)."""
    msgs = body["messages"]
    users = [str(m.get("content") or "") for m in msgs if m.get("role") == "user"]
    return (users[0] if users else ""), str(msgs[-1].get("content") or ""), \
        sum(1 for m in msgs if m.get("role") == "assistant")


Plan = Callable[[str, str, int, str], dict[str, Any]]  # (first, last, n, everything) -> answer


class ScriptedTerminus:
    """A fake model playing Terminus-2: `plan` answers each turn; a completion is always
    confirmed when Terminus-2 asks. Counts the requests it was sent."""

    def __init__(self, plan: Plan) -> None:
        self.plan, self.asked = plan, 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.asked += 1
        first, last, n = conversation(body)
        if CONFIRM in last:
            return reply([], complete=True)
        everything = "\n".join(str(m.get("content") or "") for m in body["messages"])
        return self.plan(first, last, n, everything)


def solver(tasks: dict[str, str]) -> ScriptedTerminus:
    """Types the task's own solution/solve.sh (base64, so no quoting gets in the way), waits
    until it has printed its exit status, then marks the task complete. `tasks` maps a
    unique line of each instruction to its solve.sh."""

    def plan(first: str, last: str, n: int, everything: str) -> dict[str, Any]:
        script = next((s for marker, s in tasks.items() if marker in first), None)
        if script is None:
            return reply([], complete=True)
        if n == 0:
            b64 = base64.b64encode(script.encode()).decode()
            return reply([(f"echo {b64} | base64 -d > /tmp/solve.sh; bash /tmp/solve.sh "
                           "> /tmp/solve.log 2>&1; echo SOLVE_EXIT=$?\n", 5.0)])
        if not SOLVED.search(everything):
            return reply([("", 3.0)])  # still running: wait and look again
        return reply([], complete=True)

    return ScriptedTerminus(plan)


def idle() -> ScriptedTerminus:
    """Does nothing: marks the task complete at once."""
    return ScriptedTerminus(lambda first, last, n, everything: reply([], complete=True))


# every reward file the agent could hope the verifier reads, a fake test script where the
# tests will go, and a process that keeps rewriting the reward while it lives
FORGE = ("mkdir -p /logs/verifier /tests; echo 1 > /logs/verifier/reward.txt; "
         "echo '{\"reward\": 1.0}' > /logs/verifier/reward.json; echo 1 > /tests/reward.txt; "
         "printf '#!/bin/bash\\necho 1 > /logs/verifier/reward.txt\\n' > /tests/test.sh; "
         "chmod +x /tests/test.sh; echo 1 > reward.txt; echo 1 > /reward.txt; "
         "echo '{\"reward\": 1}' > /reward.json; echo 1 > /logs/agent/reward.txt; "
         "(while true; do echo 1 > /logs/verifier/reward.txt; sleep 0.2; done) "
         "</dev/null >/dev/null 2>&1 & disown; echo FORGED=$?\n")


def forger() -> ScriptedTerminus:
    """Writes reward files everywhere it can, touches nothing else, then completes."""

    def plan(first: str, last: str, n: int, everything: str) -> dict[str, Any]:
        if n == 0:
            return reply([(FORGE, 2.0)])
        return reply([], complete=True)

    return ScriptedTerminus(plan)


def sleeper() -> ScriptedTerminus:
    """Runs a command that outlives any agent timeout, and keeps waiting."""

    def plan(first: str, last: str, n: int, everything: str) -> dict[str, Any]:
        if n == 0:
            return reply([("sleep 3000; echo WOKE\n", 60.0)])
        return reply([("", 60.0)])

    return ScriptedTerminus(plan)


def local_solutions(settings: Settings) -> dict[str, str]:
    """Each local task's first instruction line -> its solve.sh."""
    bench = get_benchmark("terminal-bench-local", settings)
    out: dict[str, str] = {}
    for t in bench.harbor_tasks():  # type: ignore[attr-defined]
        marker = next(line for line in t.instruction.splitlines() if line.strip())
        out[marker] = t.solve_script.read_text()
    assert len(out) == len(bench.harbor_tasks()), "two tasks share a first line"  # type: ignore[attr-defined]
    return out


def driver_processes(parent: int) -> list[int]:
    """benchdock's Terminus-2 drivers that are children of `parent`."""
    found = []
    for p in Path("/proc").iterdir():
        try:
            if not p.name.isdigit() or DRIVER_MARK not in (p / "cmdline").read_bytes():
                continue
            stat = (p / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] != "Z" and int(stat[1]) == parent:
                found.append(int(p.name))
        except OSError:
            continue
    return found


def leftovers(pid: int) -> dict[str, list[str]]:
    """What a run of this process left behind: containers, committed images, drivers."""
    from benchdock.harnesses.benchmarks.terminalbench.container import FINAL_REPO
    from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client

    client = docker_client()
    boxes = [c.id[:12] for c in client.containers.list(all=True, sparse=True,
                                                       filters={"label": LABEL})
             if (c.attrs.get("Labels") or {}).get(f"{LABEL}.owner", "").endswith(f":{pid}")
             and (c.attrs.get("Labels") or {}).get(f"{LABEL}.purpose", "").startswith("tbench")]
    # this process's only: xdist's other workers run tbench tests at the same time
    images = [t for img in client.images.list(name=FINAL_REPO)
              if (img.labels or {}).get(f"{LABEL}.owner", "").endswith(f":{pid}")
              for t in img.tags]
    return {"containers": boxes, "images": images,
            "drivers": [str(p) for p in driver_processes(pid)]}
