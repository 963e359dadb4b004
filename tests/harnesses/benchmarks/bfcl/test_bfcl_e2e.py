"""BFCL end to end, as an agent would run it: the real llama.cpp endpoint (SmolLM2-135M),
bfcl-eval in its own environment inside the real Docker sandbox, the worker as a detached
process, over MCP. The model is weak: these check that evaluation is correct and complete,
not that the model is good."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from benchdock.harnesses.benchmarks.bfcl.environment import EnvironmentMissing, load_env
from benchdock.harnesses.config import Settings, default_envs_dir
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.server.test_e2e import FINAL, MODEL, call, owned_containers, wait_final

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(tmp_path: Path, endpoint_url: str, docker_image: str) -> Settings:
    try:
        load_env(default_envs_dir())
    except EnvironmentMissing as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_BFCL") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_BFCL=1 but {exc}")
        pytest.skip(str(exc))
    return make_settings(tmp_path, endpoint_url, sandbox="docker")


def check_samples(res: dict[str, Any], category: str) -> None:
    for s in res["samples"]:
        assert s["status"] in ("pass", "fail", "error"), s
        assert s["status"] == "pass" or s["detail"], s
        ev = s["evidence"]
        assert ev["category"] == category and ev["mode"] in ("native", "prompting")
        assert ev["exchanges"] and all(e["latency_s"] > 0 for e in ev["exchanges"]
                                       if e.get("status", 200) == 200)


async def test_bfcl_single_and_multi_turn_through_mcp(settings: Settings) -> None:
    async with Client(create_server(settings)) as c:
        listed = {b["id"]: b for b in (await call(c, "list_benchmarks"))["benchmarks"]}
        assert "bfcl" in listed
        parts = {v.split(" ")[0] for v in listed["bfcl"]["variants"]}
        assert {"bfcl-simple", "bfcl-multi-turn-base", "bfcl-live-simple"} <= parts
        online = await call(c, "describe_benchmark", benchmark="bfcl-web-search-base")
        assert "internet" in {n["kind"] for n in online["needs"] if not n["optional"]}
        assert not online["ready"] and "internet" in online["why_not"].lower()
        refused = await c.call_tool("run_benchmark", {"model": MODEL,
                                    "benchmark": "bfcl-memory-kv"}, raise_on_error=False)
        assert refused.is_error and "internet" in str(refused.content)

        simple = await call(c, "run_benchmark", model=MODEL, benchmark="bfcl-simple", limit=3,
                            max_tokens=128)
        assert simple["options"]["mode"] in ("native", "prompting") and simple["options_reason"]
        st = await wait_final(c, simple["run_id"])
        assert st["status"] == "succeeded", st
        assert st["done"] == 3 and st["sandbox"] == "docker"
        res = await call(c, "get_results", run_id=simple["run_id"], include_raw=True)
        check_samples(res, "simple_python")
        per = res["metrics"]["bfcl"]["per_category"]["simple_python"]
        assert per["n"] == 3 and len(per["ci95"]) == 2
        assert res["metrics"]["bfcl"]["overall"]["overall"] is not None

        multi = await call(c, "run_benchmark", model=MODEL, benchmark="bfcl-multi-turn-base",
                           tasks=["multi_turn_base_1"], max_tokens=128)
        st = await wait_final(c, multi["run_id"], 900)
        assert st["status"] == "succeeded", st
        res = await call(c, "get_results", run_id=multi["run_id"], include_raw=True)
        check_samples(res, "multi_turn_base")
        (s,) = res["samples"]
        # one list of steps per turn of the conversation, as BFCL records it
        assert len(s["evidence"]["steps"]) == 4 or s["status"] == "error"

        # the identical run again comes from the generation cache, with the same verdicts
        again = await call(c, "run_benchmark", model=MODEL, benchmark="bfcl-simple", limit=3,
                           max_tokens=128)
        assert (await wait_final(c, again["run_id"]))["status"] == "succeeded"
        res2 = await call(c, "get_results", run_id=again["run_id"])
        # BFCL's runs through the map: tool use over both categories, planning multi-turn only
        cmp = await call(c, "compare_dimensions", models=[MODEL],
                         dimensions=["tool_use", "planning", "long_context"])
        cells = cmp["models"][0]["dimensions"]
        assert cells["tool_use"]["n"] == 4 and cells["planning"]["n"] == 1
        assert {src["benchmark"] for src in cells["tool_use"]["sources"]} == {
            "bfcl-simple", "bfcl-multi-turn-base"}
        assert not cells["long_context"]["measured"]
        assert cells["long_context"]["not_measured"]["measured_by"] == "bfcl-multi-turn-long-context"
    assert all(s["cached"] for s in res2["samples"])
    first = await_statuses(settings, simple["run_id"])
    assert [s["status"] for s in res2["samples"]] == first


def await_statuses(settings: Settings, run_id: str) -> list[str]:
    db = make_engine(settings.database_url)
    return [str(s.verdict) for s in q.all_samples(db, run_id)]


async def test_bfcl_cancel_stops_the_harness_and_resume_completes(settings: Settings) -> None:
    db = make_engine(settings.database_url)
    async with Client(create_server(settings)) as c:
        run_id = (await call(c, "run_benchmark", model=MODEL, benchmark="bfcl-simple",
                             limit=8, max_tokens=128))["run_id"]
        deadline = time.monotonic() + 300
        st = await call(c, "get_run", run_id=run_id)
        while st["done"] < 1:
            assert st["status"] not in FINAL and time.monotonic() < deadline, st
            st = await call(c, "wait_for_run", run_id=run_id, timeout_s=5)
        t0 = time.monotonic()
        await call(c, "cancel_run", run_id=run_id)
        st = await wait_final(c, run_id, 60)
        assert st["status"] == "cancelled" and 1 <= st["done"] < 8
        assert time.monotonic() - t0 < 15
        run = q.get_run(db, run_id)
        assert run is not None and run.worker_pid
        time.sleep(1)
        assert not owned_containers(run.worker_pid)  # the bridge's container is gone
        kept = {s.task_id: s.completion for s in q.all_samples(db, run_id) if s.verdict}

        await call(c, "resume_run", run_id=run_id)
        st = await wait_final(c, run_id, 600)
        assert st["status"] == "succeeded" and st["done"] == 8
    samples = q.all_samples(db, run_id)
    assert sorted(s.task_id for s in samples) == sorted(f"simple_python_{i}" for i in range(8))
    assert all(s.verdict for s in samples)
    assert all(s.completion == kept[s.task_id] for s in samples if s.task_id in kept)
