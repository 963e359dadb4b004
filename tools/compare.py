"""compare_dimensions: the models x dimensions matrix."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.choice.compare import DEFAULT_PAGE, compare
from benchdock.harnesses.choice.views import DimensionComparison
from benchdock.harnesses.dimensions import DIMENSIONS
from benchdock.harnesses.service import Core
from benchdock.tools._errors import agent_errors


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True})
    @agent_errors
    async def compare_dimensions(
        models: Annotated[list[str] | None, Field(
            description="Model ids to compare; default: every model with results")] = None,
        dimensions: Annotated[list[str] | None, Field(
            description=f"Dimensions to show; default all ten: {', '.join(DIMENSIONS)}")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description=(
            "Models per page (best mean score first when models is not given)"))] = DEFAULT_PAGE,
        offset: Annotated[int, Field(ge=0, description="First model of the page")] = 0,
    ) -> DimensionComparison:
        """Compare models on the ten capability dimensions of agentic coding. Each cell has the
        score (0-1), its 95% interval, n (tasks), the runs it comes from (see `runs` for
        versions and sampling settings) and whether it differs significantly from the
        dimension's leader (paired over shared tasks, else unpaired). A dimension without
        evidence says "not measured" and names the benchmark that would measure it with its
        estimated time here. Each model also gets its measured speed (tokens/s, time to first
        token, wall time per task). Large stores come in pages (next_offset)."""
        return await anyio.to_thread.run_sync(compare, core.db, models, dimensions, limit, offset)
