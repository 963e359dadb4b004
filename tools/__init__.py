"""The MCP tools: each validates, calls the core in `benchdock.harnesses`, and returns a
pydantic model. `register_all` adds them to a server."""

from __future__ import annotations

from fastmcp import FastMCP

from benchdock.harnesses.service.operations import Core
from benchdock.tools import (
    benchmarks,
    charts,
    choose,
    compare,
    decide,
    models,
    runs,
    setup,
    workers,
)


def register_all(mcp: FastMCP, core: Core) -> None:
    for module in (models, benchmarks, setup, runs, compare, choose, decide, charts, workers):
        module.register(mcp, core)
