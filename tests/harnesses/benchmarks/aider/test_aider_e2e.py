"""Aider polyglot end to end, as an agent would run it: the real llama.cpp endpoint
(SmolLM2-135M), aider in its own environment inside the real polyglot image (one container
per exercise), the worker as a detached process, over MCP, on two of the tests' own
exercises (Python and C++). The model is weak: this checks that the protocol runs and is
recorded completely, not that the model is good."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastmcp import Client

from benchdock.harnesses.config import Settings
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.server.test_e2e import MODEL, call, owned_containers, wait_final

pytestmark = pytest.mark.anyio
TASKS = ["cpp/leap", "python/leap"]


@pytest.fixture
def settings(tmp_path: Path, endpoint_url: str, aider_ready: str,
             polyglot_fixtures: Path) -> Settings:
    return make_settings(tmp_path, endpoint_url, sandbox="docker")


async def test_aider_polyglot_through_mcp_with_cache(settings: Settings) -> None:
    async with Client(create_server(settings)) as c:
        listed = {b["id"]: b for b in (await call(c, "list_benchmarks"))["benchmarks"]}
        assert "aider-polyglot" in listed
        parts = {v.split(" ")[0] for v in listed["aider-polyglot"]["variants"]}
        assert {"aider-polyglot-python", "aider-polyglot-rust", "aider-polyglot-java"} <= parts
        assert set(listed["aider-polyglot"]["dimensions"]) == {"editing", "multi_language",
                                                               "debugging"}
        bad = await c.call_tool("run_benchmark", {"model": MODEL, "benchmark": "aider-polyglot",
                                "mode": "sideways"}, raise_on_error=False)
        assert bad.is_error and "sideways" in str(bad.content) and "udiff" in str(bad.content)

        queued = await call(c, "run_benchmark", model=MODEL, benchmark="aider-polyglot",
                            tasks=TASKS, max_tokens=256)
        assert queued["options"] == {"edit_format": None}
        assert "aider's default" in queued["options_reason"]
        assert queued["max_tokens"] == 256  # as asked (its own default is 4096)
        st = await wait_final(c, queued["run_id"], limit_s=900)
        assert st["status"] == "succeeded", st
        res = await call(c, "get_results", run_id=queued["run_id"], limit=10)
        assert sorted(s["task_id"] for s in res["samples"]) == TASKS
        for s in res["samples"]:
            assert s["status"] in ("pass", "fail"), s  # no harness errors: it ran completely
            ev = s["evidence"]
            assert ev["language"] == s["task_id"].split("/")[0] and ev["edit_format"] == "whole"
            assert 1 <= len(ev["attempts"]) <= 2 and len(ev["tests_outcomes"]) == len(ev["attempts"])
            assert all(a["test_output"] for a in ev["attempts"])  # the real test runs' output
            assert ev["exchanges"] and all(e["latency_s"] > 0 for e in ev["exchanges"])
            assert s["status"] == "pass" or s["detail"]
        aider = res["metrics"]["aider"]
        assert set(aider["per_language"]) == {"cpp", "python"}
        assert aider["overall"]["n"] == 2 and aider["overall"]["errors"] == 0

        # the same run again: every request is answered from the generation cache
        again = await call(c, "run_benchmark", model=MODEL, benchmark="aider-polyglot",
                           tasks=TASKS, max_tokens=256)
        st2 = await wait_final(c, again["run_id"], limit_s=600)
        assert st2["status"] == "succeeded", st2
        res2 = await call(c, "get_results", run_id=again["run_id"], limit=10)
        first = {s["task_id"]: s for s in res["samples"]}
        for s in res2["samples"]:
            assert all(e["cached"] for e in s["evidence"]["exchanges"]), s["evidence"]["exchanges"]
            assert s["status"] == first[s["task_id"]]["status"]
        # the real run's evidence in the ten-dimension comparison, through the harness's map
        cmp = await call(c, "compare_dimensions", models=[MODEL],
                         dimensions=["editing", "multi_language", "debugging"])
        cells = cmp["models"][0]["dimensions"]
        assert cells["editing"]["n"] == 2
        assert cells["editing"]["score"] == aider["overall"]["pass_rate_1"]["rate"]
        assert cells["multi_language"]["n"] == 1  # cpp; Python does not count there
        failed_first = sum(1 for s in res["samples"] if not s["evidence"]["tests_outcomes"][0])
        assert cells["debugging"].get("n", 0) == failed_first
        # one container per exercise, each removed when its exercise is done
    db = make_engine(settings.database_url)
    for run_id in (queued["run_id"], again["run_id"]):
        run = q.get_run(db, run_id)
        assert run is not None and run.worker_pid
        assert owned_containers(run.worker_pid) == []
