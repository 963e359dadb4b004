"""The MCP surface through fastmcp's in-memory client: schemas, annotations, and clear errors
for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from benchdock.server.app import create_server
from tests.conftest import ROOT, make_settings
from tests.support.mcp_json import payload

TOOLS = {"list_models", "list_benchmarks", "describe_benchmark", "run_benchmark", "get_run", "wait_for_run",
         "cancel_run", "resume_run", "list_runs", "get_results", "compare_dimensions",
         "recommend_model", "plan_evaluation", "get_chart", "list_workers", "setup_benchmark"}
READ_ONLY = {"list_models", "list_benchmarks", "describe_benchmark", "get_run", "wait_for_run", "list_runs",
             "get_results", "compare_dimensions", "recommend_model", "plan_evaluation",
             "get_chart", "list_workers"}
IMAGE_TOOLS = {"get_chart"}  # answer with an image, not structured content


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_server(make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local"))


@pytest.mark.anyio
async def test_tool_list_schemas_and_annotations(server) -> None:  # type: ignore[no-untyped-def]
    async with Client(server) as c:
        tools = {t.name: t for t in await c.list_tools()}
    assert set(tools) >= TOOLS
    for name, t in tools.items():
        assert t.description and len(t.description) > 40, name
        assert t.output_schema is None, name  # results are sent once, as JSON text
        ro = bool(t.annotations and t.annotations.read_only_hint)
        assert ro == (name in READ_ONLY), name
    props = tools["run_benchmark"].input_schema["properties"]
    assert {"model", "benchmark", "limit", "n_samples", "temperature", "tasks", "concurrency"} <= set(props)


@pytest.mark.anyio
async def test_list_benchmarks(server) -> None:  # type: ignore[no-untyped-def]
    async with Client(server) as c:
        res = await c.call_tool("list_benchmarks", {})
        listed = payload(res)["benchmarks"]
        ids = {b["id"]: b for b in listed}
        variants = {v.split(" ")[0]: b["id"] for b in listed for v in b.get("variants") or []}
        # one line per family; its parts runnable on their own are its variants
        assert {"humaneval", "humaneval-plus", "mbpp-plus", "bfcl", "aider-polyglot"} <= set(ids)
        assert {i for i in ids if not i.startswith(("bfcl", "aider-polyglot", "repoqa"))} == {
            "humaneval", "humaneval-plus", "mbpp-plus", "ifeval", "testgen-humaneval-plus",
            "swe-local", "swe-verified", "terminal-bench-local", "terminal-bench", "harbor-tasks",
            "bigcodebench-complete", "bigcodebench-instruct"}
        # the published SWE-bench sets share instance ids: one family, Lite and mini its variants
        assert {v for v, fam in variants.items() if fam == "swe-verified"} == {"swe-lite",
                                                                             "swe-mini"}
        assert ids["repoqa-4k"]["dimensions"] == ["repo_understanding", "long_context"]
        assert {v for v in variants if v.startswith("repoqa")} == {
            f"repoqa-{d}{n}k" for d in ("", "local-") for n in (4, 8, 16, 32)} - {"repoqa-4k"}
        assert len([v for v in variants if v.startswith("bfcl-")]) == 22  # one per category
        assert variants["bfcl-simple"] == "bfcl"
        assert {v for v in variants if v.startswith("aider-polyglot-")} == {
            f"aider-polyglot-{lang}" for lang in ("cpp", "go", "java", "javascript", "python",
                                                  "rust")}
        assert ids["bfcl"]["dimensions"] == ["tool_use", "planning", "long_context"]
        assert ids["aider-polyglot"]["tasks"] == 225  # as in the pinned revision
        assert ids["humaneval"]["tasks"] == 164 and ids["humaneval"]["dimensions"] == ["generation"]
        assert all(isinstance(b["ready"], bool) for b in listed)
        assert all(b["why_not"] for b in listed if not b["ready"])

        async def describe(bench: str) -> dict[str, object]:
            out = payload(await c.call_tool("describe_benchmark", {"benchmark": bench}))
            assert out is not None
            return dict(out)

        multi = await describe("bfcl-multi-turn-base")
        simple, bfcl = await describe("bfcl-simple"), await describe("bfcl")
        aider = await describe("aider-polyglot")
        python = await describe("aider-polyglot-python")
        humaneval = await describe("humaneval")
    assert multi["dimensions"] == ["tool_use", "planning"]
    assert simple["family"] == bfcl["family"] == "bfcl"
    rows = {r["dimension"]: r for r in aider["dimension_map"]}  # type: ignore[attr-defined]
    assert rows["editing"]["metric"] == "pass rate after attempt 1"
    assert rows["multi_language"]["excluding"] == ["python"]
    assert rows["debugging"]["metric"] == "attempt-2 recovery"
    assert "multi_language" not in python["dimensions"]  # type: ignore[operator]
    assert aider["task_count"] == 225 and aider["dimensions"] == ["editing", "multi_language",
                                                                  "debugging"]
    assert humaneval["task_count"] == 164 and humaneval["dimensions"] == ["generation"]
    # options are declared with their choices; a benchmark's own run defaults are said
    assert bfcl["main_option"] == "mode" and aider["main_option"] == "edit_format"
    assert bfcl["options"]["properties"]["mode"]["enum"] == ["auto", "native", "prompting"]  # type: ignore[index]
    assert aider["run_defaults"] == {"max_tokens": 4096} and humaneval["options"]["properties"] == {}  # type: ignore[index]


@pytest.mark.anyio
async def test_down_endpoint_is_reported_not_raised(server) -> None:  # type: ignore[no-untyped-def]
    async with Client(server) as c:
        res = await c.call_tool("list_models", {})
    ep = payload(res)["endpoints"][0]
    assert ep["up"] is False and ep["url"] == "http://127.0.0.1:9/v1" and ep["error"]


@pytest.mark.anyio
@pytest.mark.parametrize(("tool", "args", "needle"), [
    ("run_benchmark", {"model": "nope", "benchmark": "humaneval"}, "unknown model 'nope'"),
    ("run_benchmark", {"model": "m", "benchmark": "swe-bench"}, "unknown benchmark 'swe-bench'; valid choices: humaneval, humaneval-plus, mbpp-plus"),
    ("run_benchmark", {"model": "m", "benchmark": "humaneval", "limit": 0}, "limit"),
    ("run_benchmark", {"model": "m", "benchmark": "humaneval", "n_samples": 5}, "temperature"),
    ("run_benchmark", {"model": "m", "benchmark": "humaneval", "temperature": "hot"}, "temperature"),
    ("get_run", {"run_id": "doesnotexist"}, "unknown run id 'doesnotexist'"),
    ("get_results", {"run_id": "doesnotexist"}, "unknown run id"),
    ("cancel_run", {"run_id": "doesnotexist"}, "unknown run id"),
    ("wait_for_run", {"run_id": "doesnotexist", "timeout_s": 1}, "unknown run id"),
    ("list_models", {"endpoint": "http://elsewhere/v1"}, "unknown endpoint 'http://elsewhere/v1'; configured endpoints: http://127.0.0.1:9/v1"),
    ("compare_dimensions", {"models": ["ghost"]}, "no succeeded runs for ['ghost']"),
    ("compare_dimensions", {"dimensions": ["vibes"]}, "unknown dimension(s) ['vibes']; valid: generation, editing"),
    ("recommend_model", {"priorities": "fastest"}, "unknown priority profile 'fastest'; valid: agentic-coding, autocomplete"),
    ("recommend_model", {"priorities": {"taste": 1}}, "unknown dimension(s) ['taste'] in priorities"),
    ("recommend_model", {"constraints": {"min_tokens_per_s": -1}}, "min_tokens_per_s"),
    ("plan_evaluation", {"models": ["ghost"], "budget_minutes": 10}, "unknown model(s) ['ghost']"),
    ("plan_evaluation", {"models": ["m"], "budget_minutes": 0}, "budget_minutes"),
    ("get_chart", {"kind": "pie"}, "kind"),
    ("describe_benchmark", {"benchmark": "swe-bench"}, "unknown benchmark 'swe-bench'; valid choices: humaneval"),
    ("run_benchmark", {"model": "m", "benchmark": "humaneval", "mode": "native"}, "humaneval has no options to set; mode applies to bfcl"),
])
async def test_bad_input_gives_clear_tool_errors(server, tool: str, args: dict[str, object], needle: str) -> None:  # type: ignore[no-untyped-def]
    async with Client(server) as c:
        with pytest.raises(ToolError) as err:
            await c.call_tool(tool, args)
        assert needle in str(err.value)
        # and the server is still there
        assert payload(await c.call_tool("list_benchmarks", {}))


@pytest.mark.anyio
async def test_readme_lists_exactly_the_live_tools(server) -> None:  # type: ignore[no-untyped-def]
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Tools", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    async with Client(server) as c:
        live = {t.name for t in await c.list_tools()}
    assert documented == live


@pytest.mark.anyio
async def test_tools_page_lists_exactly_the_live_tools(server) -> None:  # type: ignore[no-untyped-def]
    """docs/tools.md, the tools in full: its table (up to the resources) names each live tool."""
    import re

    page = (ROOT / "docs" / "tools.md").read_text()
    table = page.split("\nResources:", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.M))
    async with Client(server) as c:
        live = {t.name for t in await c.list_tools()}
    assert documented == live
