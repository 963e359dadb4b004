"""IFEval end to end, as an agent would run it: the real llama.cpp endpoint (SmolLM2-135M),
the worker as a detached process, over MCP; lm-eval's checkers in IFEval's venv in the Docker
sandbox. Then the same run's results through the CLI. The model is weak: this checks that the
evaluation is complete and its figures consistent, not that the model is good."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastmcp import Client

from benchdock.harnesses.config import Settings
from benchdock.server.app import create_server
from benchdock.server.cli import main
from tests.conftest import make_settings
from tests.server.test_e2e import MODEL, call, wait_final
from tests.support.ifeval_support import ifeval_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(tmp_path: Path, endpoint_url: str, docker_image: str) -> Settings:
    ifeval_env()
    return make_settings(tmp_path, endpoint_url, sandbox="docker")


async def test_ifeval_through_mcp_and_cli(settings: Settings, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    async with Client(create_server(settings)) as c:
        listed = {b["id"]: b for b in (await call(c, "list_benchmarks"))["benchmarks"]}
        assert listed["ifeval"]["ready"] and listed["ifeval"]["tasks"] == 541
        described = await call(c, "describe_benchmark", benchmark="ifeval")
        assert [r["dimension"] for r in described["dimension_map"]] == ["instruction_following"]
        assert described["run_defaults"] == {"max_tokens": 1280}

        # a short max_tokens keeps it quick on the shared endpoint
        run = await call(c, "run_benchmark", model=MODEL, benchmark="ifeval", limit=3,
                         max_tokens=96)
        st = await wait_final(c, run["run_id"])
        assert st["status"] == "succeeded" and st["done"] == 3 and st["sandbox"] == "docker", st
        res = await call(c, "get_results", run_id=run["run_id"], include_raw=True)
        figures = res["metrics"]["ifeval"]
        assert figures["prompt_level_strict"]["n"] == 3
        assert figures["prompt_level_strict"]["value"] == res["metrics"]["scores"]["pass@1"]["value"]
        assert figures["inst_level_strict"]["n"] == 5  # IFEval/1000, 1001, 1005: 3 + 1 + 1
        assert [t["title"] for t in res["tables"]] == ["IFEval: the four official numbers",
                                                     "IFEval by instruction type"]
        for s in res["samples"]:
            assert s["status"] in ("pass", "fail"), s
            assert s["status"] == "pass" or "not followed (strict)" in s["detail"]
            ev = s["evidence"]
            assert ev["instructions"] and all(r["strict"] in (True, False)
                                              for r in ev["instructions"])
            assert ev["exchanges"] and ev["exchanges"][0]["latency_s"] > 0
        cmp = await call(c, "compare_dimensions", models=[MODEL],
                         dimensions=["instruction_following"])
        cell = cmp["models"][0]["dimensions"]["instruction_following"]
        assert cell["measured"] and cell["n"] == 3

    monkeypatch.setenv("BENCHDOCK_HOME", str(settings.home))
    monkeypatch.setenv("BENCHDOCK_DATABASE_URL", settings.database_url)
    assert main(["results", run["run_id"], "--show", "0"]) in (0, None)
    out = capsys.readouterr().out
    assert "prompt-level strict" in out and "instruction-level loose" in out
