"""testgen-humaneval-plus end to end, as an agent would: the real llama.cpp endpoint
(SmolLM2-135M) writes the tests, the Docker sandbox (benchdock-testgen:1) judges them, over
MCP, with the worker as a real process; then the evidence, the run's own figures and the
test_generation dimension."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from benchdock.harnesses.benchmarks.testgen.benchmark import IMAGE
from benchdock.harnesses.sandbox import docker_available
from benchdock.server.app import create_server
from tests.conftest import make_settings
from tests.support.mcp_json import payload

pytestmark = pytest.mark.anyio
MODEL = "smollm2-135m"


async def call(c: Client, tool: str, **args: Any) -> dict[str, Any]:
    res = await c.call_tool(tool, args)
    assert payload(res)
    return payload(res)


async def test_smollm2_writes_tests_scored_by_mutants(tmp_path: Path, endpoint_url: str) -> None:
    ok, why = docker_available(IMAGE)
    if not ok:
        if os.environ.get("BENCHDOCK_REQUIRE_DOCKER", "") in ("1", "true", "yes"):
            pytest.fail(f"BENCHDOCK_REQUIRE_DOCKER=1 but {IMAGE} is not usable: {why}")
        pytest.skip(f"{IMAGE} not usable: {why}")
    settings = make_settings(tmp_path, endpoint_url, sandbox="docker")
    t0 = time.monotonic()
    async with Client(create_server(settings)) as c:
        listed = await call(c, "list_benchmarks")
        brief = next(b for b in listed["benchmarks"] if b["id"] == "testgen-humaneval-plus")
        assert brief["dimensions"] == ["test_generation"] and brief["ready"], brief
        info = await call(c, "describe_benchmark", benchmark="testgen-humaneval-plus")
        assert info["dimension_map"][0]["metric"] == "mutation score"
        queued = await call(c, "run_benchmark", model=MODEL, benchmark="testgen-humaneval-plus",
                            limit=2)
        run_id = queued["run_id"]
        st: dict[str, Any] = {}
        for _ in range(60):
            st = await call(c, "wait_for_run", run_id=run_id, timeout_s=30)
            if st["status"] in ("succeeded", "failed", "cancelled"):
                break
        assert st["status"] == "succeeded", st
        assert st["sandbox"] == "docker" and st["done"] == 2
        res = await call(c, "get_results", run_id=run_id)
        dims = await call(c, "compare_dimensions", models=[MODEL])
    elapsed = time.monotonic() - t0
    samples = res["samples"]
    assert [s["task_id"] for s in samples] == ["HumanEval/0", "HumanEval/2"]
    for s in samples:
        assert s["status"] in ("pass", "fail", "error"), s
        assert s["detail"], s
        if s["status"] != "error" or s["evidence"]:
            ev = s["evidence"]
            assert ev["mutants_counted"] > 0 and 0.0 <= ev["mutation_score"] <= 1.0
            assert len(ev["killed"]) + len(ev["survived"]) == (
                ev["mutants_counted"] if ev["valid"] else 0)
    figures = res["metrics"]["testgen"]
    assert figures["scored"] == 2 and figures["mutation_score"]["n"] >= 1
    assert res["tables"] and res["tables"][0]["title"].startswith("Test generation")
    text = repr(dims)
    assert "test_generation" in text
    print(f"\ntestgen e2e: 2 tasks in {elapsed:.0f} s; mutation score "
          f"{figures['mutation_score']}; details {[s['detail'] for s in samples]}")
