"""compare_dimensions: the models x dimensions matrix."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.choice import speeds
from benchdock.harnesses.choice.compare import DEFAULT_PAGE, compare
from benchdock.harnesses.choice.views import DimensionComparison
from benchdock.harnesses.contract.dimensions import DIMENSIONS
from benchdock.harnesses.service import links
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.tools._errors import agent_errors


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
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
        """Models x the ten dimensions of agentic coding. Each cell: score (0-1), 95%
        interval, n tasks (runs with the same settings pooled, each task once, newest
        verdict), its source runs (`runs`), and whether it differs significantly from the
        dimension's leader (paired on shared tasks). An unmeasured cell names a run that can
        measure it now (or the set-up it needs) with its time here. Per model: speed
        (tokens/s, time to first token, wall per task) and failed requests. Paged."""
        probes = speeds.probes(core.settings.home)
        res = await anyio.to_thread.run_sync(
            lambda: compare(core.db, models, dimensions, limit, offset, probes))
        res.view_url = links.link(service.viewer_base(core.db, core.settings.home),
                                  links.dimensions_path(models))
        return res
