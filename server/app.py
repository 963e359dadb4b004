"""Building the MCP server. A factory, not a module global, so each test gets its own."""

from __future__ import annotations

from importlib import metadata

from fastmcp import FastMCP

from benchdock.harnesses.config import Settings
from benchdock.harnesses.service import Core
from benchdock.tools import register_all

INSTRUCTIONS = """benchdock evaluates the user's local models on real coding benchmarks and
helps choose one on evidence. Typical flow: list_models -> plan_evaluation(models,
budget_minutes) -> run_benchmark(model, benchmark, limit=...) for each planned run ->
wait_for_run(run_id) until status is final -> get_results(run_id) -> compare_dimensions() ->
recommend_model(priorities, constraints)."""


def create_server(settings: Settings | None = None) -> FastMCP:
    settings = settings or Settings.from_env()
    mcp = FastMCP("benchdock", instructions=INSTRUCTIONS, version=metadata.version("benchdock"))
    register_all(mcp, Core(settings))
    return mcp
