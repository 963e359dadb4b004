"""Shared by the swe-local tests: the instance set `benchdock setup swe-local` built (copied
into each test's home), the run executor with an endpoint, and a scripted agent."""

from __future__ import annotations

import os
import shutil
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


def _required(var: str) -> bool:
    return os.environ.get(var, "") == "1"


def swe_source() -> Path:
    """The built instance set and what it needs (venv, image), or skip/fail naming what is
    missing (fail when BENCHDOCK_REQUIRE_SWE=1 or, for Docker, BENCHDOCK_REQUIRE_DOCKER=1)."""
    from benchdock.harnesses.benchmarks.swe.construct import DEFAULT_COUNT, DEFAULT_SEED, cache_path
    from benchdock.harnesses.benchmarks.swe.environment import load_env
    from benchdock.harnesses.benchmarks.swe.project import PROJECTS, image_exists, swe_image
    from benchdock.harnesses.envs.managed import EnvironmentMissing
    from benchdock.harnesses.sandbox.base import SandboxError

    project = PROJECTS["toolz"]
    problem = None
    try:
        load_env(default_envs_dir())
    except EnvironmentMissing as exc:
        problem = str(exc)
    path = cache_path(Settings.from_env(), project, DEFAULT_SEED, DEFAULT_COUNT)
    if problem is None and not path.is_file():
        problem = f"no instance set at {path}: run `benchdock setup swe-local`"
    if problem is None:
        try:
            if not image_exists(swe_image(Settings.from_env())):
                problem = f"{swe_image(Settings.from_env())} is not built: run `benchdock setup swe-local`"
        except SandboxError as exc:
            if _required("BENCHDOCK_REQUIRE_DOCKER"):
                pytest.fail(f"BENCHDOCK_REQUIRE_DOCKER=1 but {exc}")
            problem = str(exc)
    if problem:
        if _required("BENCHDOCK_REQUIRE_SWE") or _required("BENCHDOCK_REQUIRE_DOCKER"):
            pytest.fail(f"swe-local is required here but {problem}")
        pytest.skip(problem)
    return path


def swe_settings(tmp_path: Path, endpoint: str) -> Settings:
    """Test settings whose home holds a copy of the built instance set."""
    src = swe_source()
    settings = make_settings(tmp_path, endpoint)
    dest = tmp_path / src.relative_to(Settings.from_env().home)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    return settings


def run_swe(settings: Settings, task_ids: list[str], answer: Any, options: dict[str, Any],
            run_id: str = "swe-fake", model: str = "fake", max_tokens: int = 512) -> tuple[str, Run, Any]:
    db = make_engine(settings.database_url)
    bench = get_benchmark("swe-local", settings)
    run = Run(id=run_id, benchmark="swe-local", benchmark_version=bench.version,
              dataset_hash=bench.dataset_hash(), model=model, endpoint_url=str(
                  settings.endpoints[0].url), task_ids=task_ids, total=len(task_ids),
              status="running", concurrency=1,
              params={"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens,
                      "options": options})
    q.add_run(db, run)
    status = anyio.run(RunExecutor(settings, db, run, answer).execute)
    done = q.get_run(db, run.id)
    assert done is not None
    return status, done, db


def block(cmd: str) -> dict[str, Any]:
    """An answer in the text protocol (swebench_backticks.yaml): one bash block."""
    return {"content": f"THOUGHT: scripted.\n\n```mswea_bash_command\n{cmd}\n```\n"}


Script = Callable[[int, str], str]  # (step, problem statement) -> the command


def scripted(steps: Script) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A fake model playing the agent: the n-th answer runs steps(n, task)."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        msgs = body["messages"]
        n = sum(1 for m in msgs if m.get("role") == "assistant")
        task = str(msgs[1]["content"]) if len(msgs) > 1 else ""
        return block(steps(n, task))

    return answer
