"""The MCP tools: each validates, calls the core in `benchdock.harnesses`, and returns a
pydantic model. `register_all` adds them to a server."""

from __future__ import annotations

from fastmcp import FastMCP

from benchdock.harnesses.service import Core
from benchdock.tools import benchmarks, charts, choose, compare, decide, models, runs, workers


def register_all(mcp: FastMCP, core: Core) -> None:
    for module in (models, benchmarks, runs, compare, choose, decide, charts, workers):
        module.register(mcp, core)
