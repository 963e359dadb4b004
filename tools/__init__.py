"""The MCP tools: each validates, calls the core in `benchdock.harnesses`, and returns a
pydantic model. `register_all` adds them to a server."""

from __future__ import annotations

from typing import Any

from benchdock.harnesses.service import Core
from benchdock.tools import benchmarks, compare, models, runs


def register_all(mcp: Any, core: Core) -> None:
    for module in (models, benchmarks, runs, compare):
        module.register(mcp, core)
