"""End to end, as an agent would: a real llama.cpp endpoint (SmolLM2-135M), the real Docker
sandbox, a real SQLite store, the worker as a real detached process, over MCP."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from benchdock.harnesses.config import Settings
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.support.mcp_json import payload

pytestmark = pytest.mark.anyio
FINAL = {"succeeded", "failed", "cancelled"}
MODEL = "smollm2-135m"


@pytest.fixture
def settings(tmp_path: Path, endpoint_url: str, docker_image: str) -> Settings:
    return make_settings(tmp_path, endpoint_url, sandbox="docker")


async def call(c: Client, tool: str, **args: Any) -> dict[str, Any]:
    res = await c.call_tool(tool, args)
    assert payload(res)
    return payload(res)


async def wait_final(c: Client, run_id: str, limit_s: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        st = await call(c, "wait_for_run", run_id=run_id, timeout_s=30)
        if st["status"] in FINAL:
            return st
    raise AssertionError(f"run {run_id} did not finish in {limit_s}s")


def owned_containers(pid: int) -> list[object]:
    from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client

    # sparse: no inspect per container, which races with containers going away meanwhile
    return [c for c in docker_client().containers.list(all=True, sparse=True,
                                                       filters={"label": LABEL})
            if (c.attrs.get("Labels") or {}).get(f"{LABEL}.owner", "").endswith(f":{pid}")]


async def start_and_wait_for(c: Client, limit: int, scored: int, limit_s: float = 300) -> str:
    """Queue a humaneval run and return once `scored` samples are scored (it must still run)."""
    run_id = (await call(c, "run_benchmark", model=MODEL, benchmark="humaneval", limit=limit,
                         max_tokens=256))["run_id"]
    deadline = time.monotonic() + limit_s
    st = await call(c, "get_run", run_id=run_id)
    while st["done"] < scored:  # polled often: verdicts may come a few at a time (turns.py)
        assert st["status"] not in FINAL, st
        assert time.monotonic() < deadline, f"fewer than {scored} samples in {limit_s}s: {st}"
        await anyio.sleep(0.2)
        st = await call(c, "get_run", run_id=run_id)
    return str(run_id)


async def test_list_models_finds_the_real_model(settings: Settings) -> None:
    async with Client(create_server(settings)) as c:
        out = await call(c, "list_models")
    assert [m["id"] for ep in out["endpoints"] for m in ep["models"]] == [MODEL]
    assert out["endpoints"][0]["up"] is True and "models" not in out  # each model once


async def test_humaneval_run_progress_results_restart_cache(settings: Settings) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, msg: str | None) -> None:
        progress.append((p, total, msg))

    async with Client(create_server(settings)) as c:
        queued = await call(c, "run_benchmark", model=MODEL, benchmark="humaneval", limit=3,
                            max_tokens=256)
        assert queued["status"] == "queued" and queued["total"] == 3
        run_id = queued["run_id"]
        st: dict[str, Any] = {}
        for _ in range(40):
            res = await c.call_tool("wait_for_run", {"run_id": run_id, "timeout_s": 30},
                                    progress_handler=on_progress)
            st = payload(res)
            if st["status"] in FINAL:
                break
        assert st["status"] == "succeeded", st
        assert st["done"] == st["total"] == 3 and st["sandbox"] == "docker"
        res1 = await call(c, "get_results", run_id=run_id)
    assert progress and progress[-1][0] == 3 and progress[-1][1] == 3
    samples = res1["samples"]
    assert [s["task_id"] for s in samples] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    for s in samples:
        assert s["status"] in ("pass", "fail", "error", "timeout")
        assert s["status"] == "pass" or s.get("detail"), s
        assert s["latency_s"] > 0 and s["completion_tokens"] > 0 and not s["cached"]
    m = res1["metrics"]
    assert m["scores"]["pass@1"]["n"] == 3 and len(m["scores"]["pass@1"]["ci95"]) == 2
    assert m["timing"]["requests"] == 3 and m["timing"]["tokens_per_s"] > 0
    assert m["timing"]["mean_ttft_s"] > 0 and m["timing"]["wall_s"] > 0

    # a new server process on the same store sees the same results
    async with Client(create_server(settings)) as c:
        res2 = await call(c, "get_results", run_id=run_id)
        assert res2["samples"] == samples and res2["metrics"]["scores"] == m["scores"]
        table = await call(c, "compare_dimensions")
        gen = table["models"][0]["dimensions"]["generation"]
        assert table["models"][0]["model"] == MODEL and gen["measured"]
        assert [src["run_id"] for src in gen["sources"]] == [run_id]
        assert gen["score"] == m["scores"]["pass@1"]["value"] and gen["n"] == 3
        assert table["runs"][run_id]["benchmark"] == "humaneval"
        # evidence was recorded when the run ended, with its real speed
        assert table["models"][0]["speed"]["tokens_per_s"] > 0
        assert not table["models"][0]["dimensions"]["tool_use"]["measured"]
        # the identical run again: answered from the generation cache, same verdicts
        again = await call(c, "run_benchmark", model=MODEL, benchmark="humaneval", limit=3,
                           max_tokens=256)
        assert (await wait_final(c, again["run_id"]))["status"] == "succeeded"
        res3 = await call(c, "get_results", run_id=again["run_id"])
    assert all(s["cached"] for s in res3["samples"])
    assert res3["metrics"]["timing"]["cached"] == 3
    assert [s["status"] for s in res3["samples"]] == [s["status"] for s in samples]


async def test_cancel_keeps_finished_samples(settings: Settings) -> None:
    async with Client(create_server(settings)) as c:
        run_id = await start_and_wait_for(c, limit=40, scored=1)
        st = await call(c, "get_run", run_id=run_id)
        t0 = time.monotonic()
        await call(c, "cancel_run", run_id=run_id)
        st = await wait_final(c, run_id, 60)
        stopped_in = time.monotonic() - t0
        assert st["status"] == "cancelled" and 1 <= st["done"] < 40
        assert stopped_in < 15
        res = await call(c, "get_results", run_id=run_id, limit=100)
    scored = [s for s in res["samples"] if s["status"] != "pending"]
    assert len(scored) == st["done"]
    db = make_engine(settings.database_url)
    run = q.get_run(db, run_id)
    assert run is not None and run.worker_pid
    time.sleep(1)
    assert not owned_containers(run.worker_pid)


async def test_kill_worker_and_resume_scores_every_task_once(settings: Settings) -> None:
    db = make_engine(settings.database_url)
    async with Client(create_server(settings)) as c:
        run_id = await start_and_wait_for(c, limit=12, scored=2)
        st = await call(c, "get_run", run_id=run_id)
        run = q.get_run(db, run_id)
        assert run is not None and run.worker_pid
        killed_pid = run.worker_pid
        os.kill(killed_pid, signal.SIGKILL)
        assert st["done"] < 12
        # its containers go too: the attach stream closes, the runner sees EOF, AutoRemove
        deadline = time.monotonic() + 20
        while owned_containers(killed_pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not owned_containers(killed_pid)
        st = await wait_final(c, run_id)  # get_run/wait_for_run start a new worker
        assert st["status"] == "succeeded"
    samples = q.all_samples(db, run_id)
    assert len(samples) == 12
    assert sorted(s.task_id for s in samples) == sorted(f"HumanEval/{i}" for i in range(12))
    assert all(s.verdict for s in samples)
    run = q.get_run(db, run_id)
    assert run is not None and run.worker_pid != killed_pid


async def test_evalplus_run_in_local_sandbox(tmp_path: Path, endpoint_url: str) -> None:
    settings = make_settings(tmp_path, endpoint_url, sandbox="local")
    async with Client(create_server(settings)) as c:
        run_id = (await call(c, "run_benchmark", model=MODEL, benchmark="humaneval-plus",
                             max_tokens=256))["run_id"]
        st = await wait_final(c, run_id)
        assert st["status"] == "succeeded" and st["sandbox"] == "local" and st["done"] == 4
        res = await call(c, "get_results", run_id=run_id)
    assert set(res["metrics"]) >= {"scores", "scores_base"}
    for s in res["samples"]:
        assert s["base_status"] in ("pass", "fail", "error", "timeout")
        if s["status"] == "pass":
            assert s["base_status"] == s["plus_status"] == "pass"


async def test_stdio_server_with_installed_command(tmp_path: Path, endpoint_url: str) -> None:
    exe = Path(sys.executable).with_name("benchdock")
    env = {**os.environ, "BENCHDOCK_HOME": str(tmp_path), "BENCHDOCK_ENDPOINTS": endpoint_url}
    transport = StdioTransport(command=str(exe), args=["serve"], env=env)
    async with Client(transport) as c:
        names = {t.name for t in await c.list_tools()}
        assert "run_benchmark" in names
        out = await call(c, "list_models")
        assert [m["id"] for ep in out["endpoints"] for m in ep["models"]] == [MODEL]
