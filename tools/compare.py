"""compare_dimensions: for now a models x benchmarks table of latest results."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses import service
from benchdock.harnesses.service import Core
from benchdock.harnesses.views import Comparison
from benchdock.tools._errors import agent_errors


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True})
    @agent_errors
    async def compare_dimensions(
        models: Annotated[list[str] | None, Field(
            description="Model ids to compare; default: every model with results")] = None,
    ) -> Comparison:
        """Compare models: the latest succeeded result of each model on each benchmark
        (pass@1 with 95% interval and n). The ten-dimension view (generation, editing, tool
        use, ...) is not built yet; today each benchmark is one column."""
        return service.compare(core.db, models)
