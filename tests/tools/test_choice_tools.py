"""compare_dimensions, recommend_model, plan_evaluation, get_chart and the resources, through
fastmcp's in-memory client over a seeded SQLite store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fastmcp import Client
from mcp.shared.exceptions import MCPError

from benchdock.harnesses.choice.catalogue import catalogue
from benchdock.harnesses.service.operations import Core
from benchdock.server.app import create_server
from tests.conftest import make_settings
from tests.support.mcp_json import payload
from tests.support.seed import passes, seed_run

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BENCHDOCK_ENVS", str(tmp_path / "no-envs"))
    catalogue.cache_clear()  # built once per process: again, with no venvs
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    db = Core(settings).db
    ids = {
        "a": seed_run(db, "qwen-a", "humaneval", passes("HumanEval/", 50, 45), tokens_per_s=30),
        "b": seed_run(db, "qwen-b", "humaneval", passes("HumanEval/", 50, 20), tokens_per_s=90),
        "t": seed_run(db, "qwen-b", "bfcl-simple", passes("simple_python_", 40, 30)),
    }
    return create_server(settings), ids


@pytest.mark.anyio
async def test_compare_recommend_plan_over_mcp(seeded) -> None:  # type: ignore[no-untyped-def]
    server, ids = seeded
    async with Client(server) as c:
        cmp = payload(await c.call_tool("compare_dimensions", {}))
        rec = payload(await c.call_tool("recommend_model", {"priorities": "autocomplete"}))
        custom = payload(await c.call_tool("recommend_model", {
            "priorities": {"generation": 1, "tool_use": 1},
            "constraints": {"min_tokens_per_s": 50}}))
        planned = payload(await c.call_tool("plan_evaluation", {
            "models": ["qwen-a"], "budget_minutes": 120,
            "priorities": {"generation": 1, "tool_use": 1}}))
    rows = {r["model"]: r for r in cmp["models"]}
    gen_b = rows["qwen-b"]["dimensions"]["generation"]
    assert gen_b["score"] == pytest.approx(0.4) and gen_b["n"] == 50
    assert gen_b["vs_leader"]["against"] == "qwen-a" and gen_b["vs_leader"]["significant"]
    assert gen_b["vs_leader"]["paired"] and gen_b["vs_leader"]["n_shared"] == 50
    assert rows["qwen-a"]["dimensions"]["tool_use"]["not_measured"]["measured_by"] == "bfcl"
    assert set(cmp["runs"]) == set(ids.values())
    assert rec["ranking"][0]["model"] == "qwen-a" and rec["profile"] == "autocomplete"
    assert set(rec["pareto_front"]) == {"qwen-a", "qwen-b"}
    assert [r["model"] for r in custom["ranking"]] == ["qwen-b"]
    assert custom["excluded"][0]["model"] == "qwen-a"
    # tool_use for qwen-a: bfcl is not set up here, so it is uncovered with the reason
    assert planned["runs"] == []
    gap = planned["uncovered"][0]
    assert gap["reason"] == "bfcl is not set up here" and gap["models"] == ["qwen-a"]
    assert gap["setup"].startswith("setup_benchmark(['bfcl']): ~5 min")


@pytest.mark.anyio
async def test_charts_and_run_resources(seeded) -> None:  # type: ignore[no-untyped-def]
    server, ids = seeded
    async with Client(server) as c:
        for kind in ("radar", "quality_speed"):
            res = await c.call_tool("get_chart", {"kind": kind})
            img = res.content[0]
            assert img.type == "image" and img.mimeType == "image/png"
            assert base64.b64decode(img.data).startswith(PNG)
        templates = {t.uriTemplate for t in await c.list_resource_templates()}
        assert {"benchdock://runs/{run_id}", "benchdock://charts/{kind}.png"} <= templates
        run = json.loads((await c.read_resource(f"benchdock://runs/{ids['a']}"))[0].text)
        assert run["run"]["run_id"] == ids["a"] and run["run"]["model"] == "qwen-a"
        assert run["metrics"] and len(run["samples"]) == 50
        chart = (await c.read_resource("benchdock://charts/radar.png"))[0]
        assert base64.b64decode(chart.blob).startswith(PNG)
        with pytest.raises(MCPError, match="unknown run id 'nope'"):
            await c.read_resource("benchdock://runs/nope")
        with pytest.raises(MCPError, match="unknown chart 'pie'"):
            await c.read_resource("benchdock://charts/pie.png")
