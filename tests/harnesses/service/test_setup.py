"""Setting benchmarks up (issue 23): `ready` is true only when a benchmark can run now, data
included; `setup_benchmark` plans before it installs (a large set-up needs confirm), runs as
a job the worker does, is idempotent, reports progress and its log, and can be cancelled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client

from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract import registry
from benchdock.harnesses.contract.benchmark import Benchmark, SetupStep, Task, Verdict
from benchdock.harnesses.datasets import evalplus as evalplus_data
from benchdock.harnesses.engine.worker import run_worker
from benchdock.harnesses.sandbox import Sandbox
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service import setup
from benchdock.server.app import create_server
from benchdock.store import jobs
from benchdock.store.db import make_engine
from tests.conftest import FIXTURES, make_settings
from tests.support.mcp_json import payload

STEP_S = 0.3
PIECES = {"n": 5}  # a test that needs a longer set-up raises it


class Toy(Benchmark):
    """A benchmark whose data a set-up step 'downloads' in five slow pieces."""

    id = "toy-setup"
    title = "Toy set-up"
    description = "for the set-up tests"
    dimensions = ("generation",)
    nominal_tasks = 1

    @property
    def version(self) -> str:
        return "toy 1"

    def _marker(self) -> Path:
        return self.settings.home / "toy" / "done"

    def readiness(self) -> str | None:
        return None if self._marker().exists() else "its data are missing: set it up"

    def setups(self) -> list[SetupStep]:
        def run(say: Callable[[str], None]) -> str:
            n = PIECES["n"]
            for i in range(n):
                say(f"piece {i + 1}/{n}")
                time.sleep(STEP_S)
            self._marker().parent.mkdir(parents=True, exist_ok=True)
            self._marker().write_text("ok")
            return str(self._marker())

        return [SetupStep(name="toy-data", what="the toy data", run=run,
                          installed=self._marker().exists, download_mb=1, disk_mb=2,
                          minutes=0.05)]

    def tasks(self) -> list[Task]:
        return [Task(id="toy/0", prompt="p", entry_point="f")]

    def dataset_hash(self) -> str:
        return "toy"

    def messages(self, task: Task) -> list[dict[str, str]]:
        return [{"role": "user", "content": task.prompt}]

    def extract(self, task: Task, completion: str) -> str:
        return completion

    def reference(self, task: Task) -> str:
        return "x"

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        return Verdict(verdict="pass")


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "plugins", lambda: (("toy-setup", Toy, "tests"),))


@pytest.fixture
def worker(tmp_path: Path, toy: None) -> Iterator[Settings]:
    """A worker in this process (so it sees the toy benchmark), with the set-up handler."""
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    t = threading.Thread(target=run_worker, args=(settings, 4.0),
                         kwargs={"handlers": {"setup": setup.run_job}}, daemon=True)
    t.start()
    time.sleep(0.5)  # it holds the worker lock: the service spawns no other
    yield settings
    t.join(15)


def _no_evalplus_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, online: bool) -> None:
    import evalplus.data.utils as utils

    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH", raising=False)
    monkeypatch.setattr(utils, "CACHE_DIR", str(tmp_path / "evalplus-cache"))
    monkeypatch.setattr(evalplus_data, "unreachable",
                        lambda url: None if online else "URLError: no route to github.com")


def test_humaneval_plus_is_not_ready_without_its_data(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    _no_evalplus_data(monkeypatch, tmp_path, online=False)
    monkeypatch.setattr(setup, "unreachable", lambda url: "URLError: no route")
    brief = next(b for b in service.list_benchmarks(settings) if b.id == "humaneval-plus")
    assert not brief.ready
    assert brief.setup is None  # no set-up can fetch it from here
    assert brief.why_not and "HUMANEVAL_OVERRIDE_PATH" in brief.why_not
    assert "offline" in brief.why_not
    info = service.describe(settings, "humaneval-plus")
    assert not info.ready and info.why_not and "HumanEvalPlus-v0.1.10.jsonl" in info.why_not
    # downloadable now: ready (EvalPlus fetches it on first use), and set-up would fetch it
    _no_evalplus_data(monkeypatch, tmp_path, online=True)
    monkeypatch.setattr(setup, "unreachable", lambda url: None)
    assert service.benchmark(settings, "humaneval-plus").readiness() is None
    # or the file is here: the override path
    _no_evalplus_data(monkeypatch, tmp_path, online=False)
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(FIXTURES / "HumanEvalPlus-mini.jsonl"))
    assert service.benchmark(settings, "humaneval-plus").readiness() is None
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(tmp_path / "nowhere.jsonl"))
    why = service.benchmark(settings, "humaneval-plus").readiness()
    assert why and "nowhere.jsonl" in why


def test_a_large_set_up_needs_confirm_and_queues_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    settings = settings.model_copy(update={"envs_dir": tmp_path / "envs"})
    db = make_engine(settings.database_url)
    job = setup.request(settings, db, ["swe-local"])
    assert job.status == "needs confirm" and job.job_id is None
    p = job.plan
    assert p.confirm_needed and p.why_confirm and "min" in p.why_confirm
    assert p.steps and p.disk_mb > setup.CONFIRM_DISK_MB and p.minutes > 0
    assert p.free_disk_mb is not None and "2-core" in p.basis
    assert not jobs.list_jobs(db)
    with pytest.raises(Exception, match="unknown benchmark 'nope'"):
        setup.request(settings, db, ["nope"])


async def _tool(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    async with Client(create_server(settings)) as c:
        return payload(await c.call_tool("setup_benchmark", args))


def test_set_up_runs_as_a_job_with_progress_and_log_and_is_idempotent(worker: Settings) -> None:
    settings = worker
    assert service.benchmark(settings, "toy-setup").readiness() is not None
    PIECES["n"] = 20
    first = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"]})
    assert first["status"] in ("queued", "running") and first["job_id"]
    assert [s["name"] for s in first["plan"]["steps"]] == ["toy-data"]
    again = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"]})
    assert again["job_id"] == first["job_id"]  # asked twice: one job (running, or done)
    seen = set()
    for _ in range(60):
        mid = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"], "wait_s": 0.2})
        seen.add(mid.get("message", ""))
        if mid["status"] not in ("queued", "running"):
            break
    done = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"], "log_lines": 20})
    assert done["status"] == "succeeded" and done["job_id"] == first["job_id"], done
    assert done["ready"] == {"toy-setup": "ready"}
    assert any("piece" in m for m in seen)  # progress was visible while it ran
    last = setup.view(settings, make_engine(settings.database_url), first["job_id"], 50)
    assert last.status == "succeeded" and last.log and any("piece 20/20" in x for x in last.log)
    assert last.done == last.total == 1


def test_a_set_up_can_be_cancelled(worker: Settings) -> None:
    settings = worker
    PIECES["n"] = 200  # a minute: it is cancelled long before
    first = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"]})
    time.sleep(2 * STEP_S)
    anyio.run(_tool, settings, {"benchmarks": ["toy-setup"], "cancel": True})
    db = make_engine(settings.database_url)
    for _ in range(40):
        job = jobs.get(db, first["job_id"])
        assert job is not None
        if job.status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.25)
    assert job.status == "cancelled"
    assert service.benchmark(settings, "toy-setup").readiness() is not None
    # asked again after the cancel: it says so, and confirm=true starts it again
    again = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"]})
    assert again["status"] == "cancelled" and again["job_id"] == first["job_id"]
    PIECES["n"] = 2
    retry = anyio.run(_tool, settings, {"benchmarks": ["toy-setup"], "confirm": True,
                                        "wait_s": 20})
    assert retry["job_id"] != first["job_id"] and retry["status"] == "succeeded", retry
